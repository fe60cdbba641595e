"""Offline training (--mode offline): every task's training examples as one set, shuffled
each epoch, the upper bound of continual learning (Hsu et al. 2018's "Offline")."""

from training.methods.base import SWITCH_SCHEDULE, Method


class Offline(Method):
    """Only the training stream differs: tasks.streams.UnionStream."""

    name = "offline"
    description = ("every task's training examples as one set, shuffled each epoch: the upper "
                   "bound that continual learning is measured against")
    mode = "offline"
    needs = (SWITCH_SCHEDULE,)
    order = 30
    example = ("--mode", "offline")

    stream = "offline"
