"""The task registry: each task name of the study, what it means, and where its data comes from.

TensorFlow-free, so that a RunConfig's tasks can be checked (a sweep planned)
without loading it; tasks.build makes the named tasks' data and transforms.
"""

import dataclasses
from typing import Callable, Sequence

import numpy as np

from data.shapes import DIMENSIONS, FEATURES
from errors import UserError


@dataclasses.dataclass(frozen=True)
class TaskSpec:
    """A registered task: its meaning, its data source, and a factory of its transform."""

    description: str
    # A function of tasks.transforms, by name; a `seeded` one is a factory that takes the
    # task's numpy Generator (a fixed permutation) and returns the transform.
    transform: str
    seeded: bool = False
    # Arguments of a factory transform that is not seeded (a rotation's angle).
    arguments: tuple = ()
    source: str = "mnist"  # Which data the task draws: "mnist", "fashion", "dog" or "shapes".
    classes: int = 10
    # The task's labels for a split ("train" or "test") of its source's arrays;
    # None: the source's own labels.
    labels: Callable[[object, str], np.ndarray] | None = None
    # The transform acts on the stacked input, every channel (Task.whole_input).
    whole_input: bool = False
    # The source classes the task keeps (a split task's digits); None: all of them.
    digits: tuple[int, ...] | None = None
    # A task-free stream (MNIST-360): the run's only task, its training examples in the
    # stream's own order and batches, with no task boundaries (tasks.mnist360).
    stream: bool = False

    def num_classes(self, labels: str = "task") -> int:
        """The task's classes: its own (numbered from 0 in `digits` order) under --labels
        task, the source's under --labels global."""
        return len(self.digits) if self.digits and labels == "task" else self.classes

    def classes_of(self, labels: str = "task") -> tuple[int, ...]:
        """The output classes the task's examples take under `labels`."""
        if self.digits and labels == "global":
            return self.digits
        return tuple(range(self.num_classes(labels)))


# Names of the original study keep its code's meaning (see docs/fidelity.md). Its `ref` and
# `inv` acted on the stacked input, after the input style had placed the image: `inv`
# inverts every channel, so the channels that `id` leaves zero are ones.
TASKS: dict[str, TaskSpec] = {
    "id": TaskSpec("MNIST as it is", "identity"),
    "ref": TaskSpec("MNIST upside down: its rows reversed (the original code's `ref`)",
                    "flip_rows"),
    "inv": TaskSpec("MNIST with the whole input inverted, 1 - x in every channel, so the "
                    "channels id leaves zero are ones (the original code's `inv`)",
                    "invert", whole_input=True),
    "noise": TaskSpec("uniform noise images with MNIST labels (unlearnable)",
                      "noise"),
    "perm": TaskSpec("MNIST with a fixed permutation of the labels (the original code's `perm`)",
                     "permute_labels", seeded=True),
    "zero": TaskSpec("all-zero images with MNIST labels (unlearnable)", "zero"),
    "one": TaskSpec("all-one images with MNIST labels (unlearnable)", "one"),
    "mirror": TaskSpec("MNIST reflected left to right (the original README's `ref`)",
                       "mirror"),
    "rot180": TaskSpec("MNIST turned 180 degrees (the original's `ref` on a flat vector, "
                       "before its input styles; this tool's `ref` until 2026-12)",
                       "rotate_180"),
    "invimage": TaskSpec("MNIST with the image inverted, 1 - x, the other input channels "
                         "zero as in id (this tool's `inv` until 2026-12)",
                         "invert"),
    "rowperm": TaskSpec("MNIST with a fixed permutation of the image rows "
                        "(the original README's `perm`)", "permute_rows", seeded=True),
    "pixperm": TaskSpec("MNIST with a fixed permutation of all 784 pixels (Permuted-MNIST)",
                        "permute_pixels", seeded=True),
    "dog": TaskSpec("ten dog breeds, RGB, 10-way", "identity", source="dog"),
    "fashion": TaskSpec("Fashion-MNIST: ten kinds of clothing, shoes and bags, greyscale "
                        "28x28, 10-way; a second domain that shares no classes or strokes "
                        "with the digits (the runnable stand-in for the blog's dogs)",
                        "identity", source="fashion"),
}


SPLIT_PAIRS = ((0, 1), (2, 3), (4, 5), (6, 7), (8, 9))
PERMUTED_TASKS = 20  # pixperm-1 .. pixperm-20: Permuted MNIST with up to 20 tasks.
ROTATIONS = range(360)  # rot-0 .. rot-359: Rotated MNIST, one task per whole degree.
DRAWN_ROTATIONS = 20  # rotrand-1 .. rotrand-20: Rotated MNIST with a drawn angle per task.

# Split MNIST (Zenke et al. 2017; Hsu et al. 2018): five tasks of two digits each.
TASKS.update({
    f"split-{a}{b}": TaskSpec(f"MNIST digits {a} and {b} only (Split MNIST); --labels task "
                              f"numbers them 0 and 1", "identity", digits=(a, b))
    for a, b in SPLIT_PAIRS})
# Permuted MNIST with N tasks: each its own fixed pixel permutation, drawn from the run
# seed and the task's name.
TASKS.update({
    f"pixperm-{k}": TaskSpec(f"MNIST with fixed permutation number {k} of all 784 pixels "
                             "(Permuted MNIST's task k)", "permute_pixels", seeded=True)
    for k in range(1, PERMUTED_TASKS + 1)})

# Rotated MNIST: each task every image turned by its own fixed angle, counter-clockwise
# about the centre, nearest pixel, zeros where the turn leaves no source (PIL's
# Image.rotate, with which Lopez-Paz and Ranzato made theirs).
TASKS.update({
    f"rot-{degrees}": TaskSpec(f"MNIST turned {degrees} degrees counter-clockwise (Rotated "
                               "MNIST)", "rotate", arguments=(degrees,))
    for degrees in ROTATIONS})
# Rotated MNIST as the DER paper's code makes it (Mammoth's rot-mnist): each task every
# image turned by its own fixed angle, drawn uniformly in [0, 180) degrees from the run
# seed and the task's name (as pixperm-k draws its permutation), turned as rot-DEG is.
TASKS.update({
    f"rotrand-{k}": TaskSpec(f"MNIST turned counter-clockwise by angle number {k}, drawn "
                             "uniformly in [0, 180) degrees from the run seed (Rotated "
                             "MNIST's task k, as the DER paper)", "rotate_drawn", seeded=True)
    for k in range(1, DRAWN_ROTATIONS + 1)})
# MNIST-360 (Buzzega et al. 2020): a task-free stream of pairs of digits 0-8 turning as
# they go, three rounds, one pass; built by tasks.mnist360.
TASKS["mnist-360"] = TaskSpec(
    "MNIST-360: a task-free stream of digits 0-8 in pairs (0 1, 1 2, ..., 8 0, three "
    "rounds), each digit turning through 360 degrees as the stream goes, one pass; tested "
    "on every test image of 0-8, each digit's turned through 360 degrees (the DER paper)",
    "identity", stream=True)


def _shapes_task(dimension: str, feature: str) -> TaskSpec:
    return TaskSpec(f"shapes scenes: is there a {feature} object? ({dimension}, yes/no)",
                    "identity", source="shapes", classes=2,
                    labels=lambda arrays, split: arrays.labels(split, dimension, feature))


# The ten-task study: one yes/no task per feature value of each dimension.
TASKS.update({f"shapes-{dimension}-{feature}": _shapes_task(dimension, feature)
              for dimension in DIMENSIONS for feature in FEATURES[dimension]})


def class_identities(spec: TaskSpec, labels: str) -> tuple[int, ...]:
    """What each of the task's output classes means across tasks, for answering without
    the task given: under --labels task a split task's classes are its digits, and any
    other task's classes are themselves; under --labels global the outputs are the
    source's classes already."""
    if labels == "task":
        return spec.classes_of("global") if spec.digits else tuple(range(spec.classes))
    return tuple(range(spec.classes))


def known_tasks() -> str:
    """The task names, the shapes and permuted tasks by pattern: for --help and errors."""
    plain = " ".join(name for name, spec in TASKS.items()
                     if spec.source != "shapes"
                     and not name.startswith(("pixperm-", "rot-", "rotrand-")))
    features = "; ".join(f"{dimension}: {' '.join(FEATURES[dimension])}"
                         for dimension in DIMENSIONS)
    return (f"known: {plain}, pixperm-1 .. pixperm-{PERMUTED_TASKS}, "
            f"rot-{ROTATIONS[0]} .. rot-{ROTATIONS[-1]} (degrees), "
            f"rotrand-1 .. rotrand-{DRAWN_ROTATIONS} (drawn angles), and "
            f"shapes-DIMENSION-FEATURE ({features})")


def check_task_names(names: Sequence[str]) -> tuple[str, ...]:
    """Returns the names as a tuple, or raises UserError naming the known tasks."""
    if not names:
        raise UserError("--tasks needs at least one task, e.g. --tasks id inv")
    for name in names:
        if name not in TASKS:
            raise UserError(f"unknown task {name!r} in --tasks; {known_tasks()}")
    if len(set(names)) != len(names):
        raise UserError(f"--tasks names a task twice ({' '.join(names)}); name each once")
    streams = [name for name in names if TASKS[name].stream]
    if streams and len(names) > 1:
        raise UserError(f"{streams[0]} is a whole task-free stream, a run of its own; give it "
                        f"alone (--tasks {streams[0]})")
    sources = {TASKS[name].source for name in names}
    if "shapes" in sources and len(sources) > 1:
        raise UserError("shapes tasks cannot share a run with MNIST, fashion or dog tasks "
                        "(their images and answers differ); run them in separate runs")
    return tuple(names)


def task_classes(names: Sequence[str], labels: str = "task") -> int:
    """The number of classes the run's output layer (or each head) needs."""
    return max(TASKS[name].num_classes(labels) for name in check_task_names(names))


def sources_needed(names: Sequence[str]) -> set[str]:
    """The data sources ("mnist", "fashion", "dog", "shapes") that the named tasks draw from."""
    return {TASKS[name].source for name in check_task_names(names)}
