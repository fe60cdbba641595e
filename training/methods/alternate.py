"""Alternate training: a different task every step, in --tasks order (--mode alternate)."""

from training.methods.base import Method


class Alternate(Method):
    """The tasks in turn, one step each: only the training stream differs."""

    stream = "alternate"
