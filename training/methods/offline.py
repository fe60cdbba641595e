"""Offline training (--mode offline): every task's training examples as one set, shuffled
each epoch, the upper bound of continual learning (Hsu et al. 2018's "Offline")."""

from training.methods.base import Method


class Offline(Method):
    """Only the training stream differs: tasks.streams.UnionStream."""

    stream = "offline"
