"""The task registry: each task name of the study, what it means, and how to build it."""

import dataclasses
from typing import Callable, Mapping, Sequence

import numpy as np
import tensorflow as tf

from data.shapes import DIMENSIONS, FEATURES
from errors import UserError
from seeds import derive_seed
from tasks import transforms
from tasks.input_style import (INPUT_STYLES, carried_channels, filled_channels, input_channels,
                               place_channels)
from tasks.task import Split, Task, balanced_indices


@dataclasses.dataclass(frozen=True)
class TaskSpec:
    """A registered task: its meaning, its data source, and a factory of its transform."""

    description: str
    make_transform: Callable[[np.random.Generator], transforms.Transform]
    source: str = "mnist"  # Which data the task draws: "mnist", "dog" or "shapes".
    classes: int = 10
    # The task's labels for a split ("train" or "test") of its source's arrays;
    # None: the source's own labels.
    labels: Callable[[object, str], np.ndarray] | None = None
    # The transform acts on the stacked input, every channel (Task.whole_input).
    whole_input: bool = False


def _fixed(transform: transforms.Transform) -> Callable[[np.random.Generator], transforms.Transform]:
    return lambda rng: transform


# Names of the original study keep its code's meaning (see README, "Fidelity"). Its `ref` and
# `inv` acted on the stacked input, after the input style had placed the image: `inv`
# inverts every channel, so the channels that `id` leaves zero are ones.
TASKS: dict[str, TaskSpec] = {
    "id": TaskSpec("MNIST as it is", _fixed(transforms.identity)),
    "ref": TaskSpec("MNIST upside down: its rows reversed (the original code's `ref`)",
                    _fixed(transforms.flip_rows)),
    "inv": TaskSpec("MNIST with the whole input inverted, 1 - x in every channel, so the "
                    "channels id leaves zero are ones (the original code's `inv`)",
                    _fixed(transforms.invert), whole_input=True),
    "noise": TaskSpec("uniform noise images with MNIST labels (unlearnable)",
                      _fixed(transforms.noise)),
    "perm": TaskSpec("MNIST with a fixed permutation of the labels (the original code's `perm`)",
                     transforms.permute_labels),
    "zero": TaskSpec("all-zero images with MNIST labels (unlearnable)", _fixed(transforms.zero)),
    "one": TaskSpec("all-one images with MNIST labels (unlearnable)", _fixed(transforms.one)),
    "mirror": TaskSpec("MNIST reflected left to right (the original README's `ref`)",
                       _fixed(transforms.mirror)),
    "rot180": TaskSpec("MNIST turned 180 degrees (the original's `ref` on a flat vector, "
                       "before its input styles; this tool's `ref` until 2026-12)",
                       _fixed(transforms.rotate_180)),
    "invimage": TaskSpec("MNIST with the image inverted, 1 - x, the other input channels "
                         "zero as in id (this tool's `inv` until 2026-12)",
                         _fixed(transforms.invert)),
    "rowperm": TaskSpec("MNIST with a fixed permutation of the image rows "
                        "(the original README's `perm`)", transforms.permute_rows),
    "pixperm": TaskSpec("MNIST with a fixed permutation of all 784 pixels (Permuted-MNIST)",
                        transforms.permute_pixels),
    "dog": TaskSpec("ten dog breeds, RGB, 10-way", _fixed(transforms.identity), source="dog"),
}


def _shapes_task(dimension: str, feature: str) -> TaskSpec:
    return TaskSpec(f"shapes scenes: is there a {feature} object? ({dimension}, yes/no)",
                    _fixed(transforms.identity), source="shapes", classes=2,
                    labels=lambda arrays, split: arrays.labels(split, dimension, feature))


# The ten-task study: one yes/no task per feature value of each dimension.
TASKS.update({f"shapes-{dimension}-{feature}": _shapes_task(dimension, feature)
              for dimension in DIMENSIONS for feature in FEATURES[dimension]})


def known_tasks() -> str:
    """The task names, the shapes tasks by pattern: for --help and errors."""
    plain = " ".join(name for name, spec in TASKS.items() if spec.source != "shapes")
    features = "; ".join(f"{dimension}: {' '.join(FEATURES[dimension])}"
                         for dimension in DIMENSIONS)
    return f"known: {plain}, and shapes-DIMENSION-FEATURE ({features})"


def check_task_names(names: Sequence[str]) -> tuple[str, ...]:
    """Returns the names as a tuple, or raises UserError naming the known tasks."""
    if not names:
        raise UserError("--tasks needs at least one task, e.g. --tasks id inv")
    for name in names:
        if name not in TASKS:
            raise UserError(f"unknown task {name!r} in --tasks; {known_tasks()}")
    if len(set(names)) != len(names):
        raise UserError(f"--tasks names a task twice ({' '.join(names)}); name each once")
    sources = {TASKS[name].source for name in names}
    if "shapes" in sources and len(sources) > 1:
        raise UserError("shapes tasks cannot share a run with MNIST or dog tasks (their images "
                        "and answers differ); run them in separate runs")
    return tuple(names)


def task_classes(names: Sequence[str]) -> int:
    """The number of classes the run's shared output layer needs."""
    return max(TASKS[name].classes for name in check_task_names(names))


def sources_needed(names: Sequence[str]) -> set[str]:
    """The data sources ("mnist", "dog") that the named tasks draw from."""
    return {TASKS[name].source for name in check_task_names(names)}


def build_tasks(names: Sequence[str], *, sources: Mapping[str, object], input_style: str,
                seed: int, task_signal: bool = False, signal_scale: float = 1.0,
                all_channels: bool = False) -> list[Task]:
    """Builds the named tasks, seeded from the run seed.

    `sources` maps a source name to its arrays (an object with train_images,
    test_images and, unless the task gives its own, train_labels and test_labels);
    tasks of one source share one copy of its images. A yes/no task is held out on
    a balanced subset of the test images (the same for every run seed), so that
    chance is 50%. With `task_signal`, each task's inputs carry its one-hot index
    (its hot value `signal_scale`).

    The tasks' images carry only the input channels that some task of the run fills
    (each Task's `carried` range; one channel for MNIST-only runs in the combined
    style, all of the style's when a task such as `inv` fills every channel): the
    others would be zero throughout, and the network skips them
    (models.build_model's `carried`). With `all_channels`, every channel of the style.
    """
    input_channels(input_style)  # Fails early on an unknown style.
    images = {source: (tf.constant(sources[source].train_images),
                       tf.constant(sources[source].test_images))
              for source in sources_needed(names)}
    rgb = {source: images[source][0].shape.rank == 4 for source in images}
    carried = (None if all_channels else carried_channels(input_style, [
        filled_channels(input_style, rgb[TASKS[name].source], TASKS[name].whole_input)
        for name in names]))
    tasks = []
    for index, name in enumerate(names):
        spec = TASKS[name]
        train, test = _splits(name, spec, sources[spec.source], *images[spec.source])
        task_seed = derive_seed(seed, name)
        transform = spec.make_transform(np.random.default_rng(task_seed))
        tasks.append(Task(name=name, transform=transform,
                          train=train, test=test, input_style=input_style, seed=task_seed,
                          rgb=rgb[spec.source], carried=carried,
                          whole_input=spec.whole_input, index=index,
                          signal_size=len(names) if task_signal else 0,
                          signal_scale=signal_scale))
    return tasks


def _splits(name: str, spec: TaskSpec, arrays, train_images: tf.Tensor,
            test_images: tf.Tensor) -> tuple[Split, Split]:
    if spec.labels is None:
        return (Split(train_images, tf.constant(arrays.train_labels)),
                Split(test_images, tf.constant(arrays.test_labels)))
    test_labels = spec.labels(arrays, "test")
    rng = np.random.default_rng(derive_seed(0, name, "held-out"))
    rows = balanced_indices(test_labels, None, rng, spec.classes)
    return (Split(train_images, tf.constant(spec.labels(arrays, "train"))),
            Split(test_images, tf.constant(test_labels), tf.constant(rows)))


__all__ = ["INPUT_STYLES", "TASKS", "Task", "TaskSpec", "balanced_indices", "build_tasks",
           "carried_channels", "check_task_names", "input_channels", "known_tasks",
           "place_channels", "sources_needed",
           "task_classes"]
