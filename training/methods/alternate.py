"""Alternate training: a different task every step, in --tasks order (--mode alternate)."""

from training.methods.base import SWITCH_SCHEDULE, Method


class Alternate(Method):
    """The tasks in turn, one step each: only the training stream differs."""

    name = "alternate"
    description = "a different task every step, in turn"
    mode = "alternate"
    needs = (SWITCH_SCHEDULE,)
    order = 20
    example = ("--mode", "alternate")

    stream = "alternate"
