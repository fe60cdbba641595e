"""The task registry: each task name of the study, what it means, and how to build it."""

import dataclasses
from typing import Callable, Mapping, Sequence

import numpy as np
import tensorflow as tf

from errors import UserError
from tasks import transforms
from tasks.input_style import INPUT_STYLES, input_channels, place_channels
from tasks.task import Split, Task, derive_seed


@dataclasses.dataclass(frozen=True)
class TaskSpec:
    """A registered task: its meaning, its data source, and a factory of its transform."""

    description: str
    make_transform: Callable[[np.random.Generator], transforms.Transform]
    source: str = "mnist"  # Which data the task draws: "mnist" or "dog".


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
    "dog": TaskSpec("ten dog breeds, RGB, 10-way", _fixed(transforms.identity), source="dog"),
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


def sources_needed(names: Sequence[str]) -> set[str]:
    """The data sources ("mnist", "dog") that the named tasks draw from."""
    return {TASKS[name].source for name in check_task_names(names)}


def build_tasks(names: Sequence[str], *, sources: Mapping[str, object], input_style: str,
                seed: int) -> list[Task]:
    """Builds the named tasks, seeded from the run seed.

    `sources` maps a source name to its arrays (an object with train_images,
    train_labels, test_images and test_labels); tasks of one source share one copy.
    """
    input_channels(input_style)  # Fails early on an unknown style.
    splits = {}
    for source in sources_needed(names):
        arrays = sources[source]
        splits[source] = (Split(tf.constant(arrays.train_images), tf.constant(arrays.train_labels)),
                          Split(tf.constant(arrays.test_images), tf.constant(arrays.test_labels)))
    tasks = []
    for name in names:
        spec = TASKS[name]
        train, test = splits[spec.source]
        task_seed = derive_seed(seed, name)
        tasks.append(Task(name=name, transform=spec.make_transform(np.random.default_rng(task_seed)),
                          train=train, test=test, input_style=input_style, seed=task_seed,
                          rgb=train.images.shape.rank == 4))
    return tasks


__all__ = ["INPUT_STYLES", "TASKS", "Task", "TaskSpec", "build_tasks", "check_task_names",
           "input_channels", "place_channels", "sources_needed"]
