"""The task registry: each task name of the study, what it means, and how to build it."""

import dataclasses
from typing import Callable, Sequence

import numpy as np
import tensorflow as tf

from data.mnist_loader import MnistArrays
from errors import UserError
from tasks import transforms
from tasks.input_style import INPUT_STYLES, input_channels, place_channels
from tasks.task import Split, Task, derive_seed


@dataclasses.dataclass(frozen=True)
class TaskSpec:
    """A registered task: its meaning, and a factory of its transform from a seeded Generator."""

    description: str
    make_transform: Callable[[np.random.Generator], transforms.Transform]


def _fixed(transform: transforms.Transform) -> Callable[[np.random.Generator], transforms.Transform]:
    return lambda rng: transform


# Names of the original study keep its code's meaning (see README, "Fidelity").
TASKS: dict[str, TaskSpec] = {
    "id": TaskSpec("MNIST as it is", _fixed(transforms.identity)),
    "ref": TaskSpec("MNIST turned 180 degrees (the original code's `ref`)",
                    _fixed(transforms.rotate_180)),
    "inv": TaskSpec("MNIST with inverted intensities, 1 - x", _fixed(transforms.invert)),
    "noise": TaskSpec("uniform noise images with MNIST labels (unlearnable)",
                      _fixed(transforms.noise)),
    "perm": TaskSpec("MNIST with a fixed permutation of the labels (the original code's `perm`)",
                     transforms.permute_labels),
    "zero": TaskSpec("all-zero images with MNIST labels (unlearnable)", _fixed(transforms.zero)),
    "one": TaskSpec("all-one images with MNIST labels (unlearnable)", _fixed(transforms.one)),
    "mirror": TaskSpec("MNIST reflected left to right (the original README's `ref`)",
                       _fixed(transforms.mirror)),
    "rowperm": TaskSpec("MNIST with a fixed permutation of the image rows "
                        "(the original README's `perm`)", transforms.permute_rows),
    "pixperm": TaskSpec("MNIST with a fixed permutation of all 784 pixels (Permuted-MNIST)",
                        transforms.permute_pixels),
}


def check_task_names(names: Sequence[str]) -> tuple[str, ...]:
    """Returns the names as a tuple, or raises UserError naming the known tasks."""
    if not names:
        raise UserError("--tasks needs at least one task, e.g. --tasks id inv")
    for name in names:
        if name not in TASKS:
            raise UserError(f"unknown task {name!r} in --tasks; known: {', '.join(TASKS)}")
    if len(set(names)) != len(names):
        raise UserError(f"--tasks names a task twice ({' '.join(names)}); name each once")
    return tuple(names)


def build_tasks(names: Sequence[str], *, mnist: MnistArrays, input_style: str,
                seed: int) -> list[Task]:
    """Builds the named tasks over one shared copy of MNIST, seeded from the run seed."""
    check_task_names(names)
    input_channels(input_style)  # Fails early on an unknown style.
    train = Split(tf.constant(mnist.train_images), tf.constant(mnist.train_labels))
    test = Split(tf.constant(mnist.test_images), tf.constant(mnist.test_labels))
    tasks = []
    for name in names:
        task_seed = derive_seed(seed, name)
        transform = TASKS[name].make_transform(np.random.default_rng(task_seed))
        tasks.append(Task(name=name, transform=transform, train=train, test=test,
                          input_style=input_style, seed=task_seed))
    return tasks


__all__ = ["INPUT_STYLES", "TASKS", "Task", "TaskSpec", "build_tasks", "check_task_names",
           "input_channels", "place_channels"]
