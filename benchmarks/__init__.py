"""Benchmarks: the project's training and evaluation against a plain Keras reference."""
