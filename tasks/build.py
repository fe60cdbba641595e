"""Builds a run's tasks from their registered names: data, seeded transforms, input channels."""

from typing import Mapping, Sequence

import numpy as np
import tensorflow as tf

from errors import UserError
from seeds import derive_seed
from tasks import mnist360, transforms
from tasks.input_style import carried_channels, filled_channels, input_channels
from tasks.registry import TASKS, TaskSpec, sources_needed
from tasks.rotation import rotate_images
from tasks.task import Split, Task, balanced_indices


def build_tasks(names: Sequence[str], *, sources: Mapping[str, object], input_style: str,
                seed: int, task_signal: bool = False, signal_scale: float = 1.0,
                all_channels: bool = False, labels: str = "task", pad: int = 0,
                normalize: tuple[float, float] | None = None, batch: int = 1) -> list[Task]:
    """Builds the named tasks, seeded from the run seed.

    `sources` maps a source name to its arrays (an object with train_images,
    test_images and, unless the task gives its own, train_labels and test_labels);
    tasks of one source share one copy of its images. A yes/no task is held out on
    a balanced subset of the test images (the same for every run seed), so that
    chance is 50%. With `task_signal`, each task's inputs carry its one-hot index
    (its hot value `signal_scale`). A task of some digits only (Split MNIST) keeps
    those examples, labelled 0, 1, ... in its `digits` order under `labels` "task"
    and by the digits themselves under "global". Images are padded by `pad` zero
    pixels a side and standardised as (x - mean) / sd with `normalize` (Task). A task-free
    stream (mnist-360) holds its turned training images in stream order, in batches of at
    most `batch` (Task.stream_batches), and its turned test images.

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
        filled_channels(input_style, rgb[TASKS[name].source], TASKS[name].whole_input,
                        TASKS[name].source != "mnist")
        for name in names]))
    tasks = []
    for index, name in enumerate(names):
        spec = TASKS[name]
        task_seed = derive_seed(seed, name)
        stream_batches = None
        if spec.stream:
            train, test, stream_batches = _stream_splits(sources[spec.source], batch, task_seed)
        else:
            train, test = _splits(name, spec, sources[spec.source], *images[spec.source],
                                  labels=labels)
        _check_examples(name, spec, train, test)
        transform = getattr(transforms, spec.transform)
        if spec.seeded:
            transform = transform(np.random.default_rng(task_seed))
        elif spec.arguments:
            transform = transform(*spec.arguments)
        tasks.append(Task(name=name, transform=transform,
                          train=train, test=test, input_style=input_style, seed=task_seed,
                          rgb=rgb[spec.source], other_source=spec.source != "mnist",
                          carried=carried,
                          whole_input=spec.whole_input, index=index,
                          signal_size=len(names) if task_signal else 0,
                          signal_scale=signal_scale, pad=pad, normalize=normalize,
                          stream_batches=stream_batches))
    return tasks


def _stream_splits(arrays, batch: int, task_seed: int) -> tuple[Split, Split, np.ndarray]:
    """MNIST-360's splits, their images turned once here (tasks.mnist360): the training
    stream's images in stream order and its test set; and the stream's batch sizes."""
    stream = mnist360.training_stream(np.asarray(arrays.train_labels), batch,
                                      np.random.default_rng(derive_seed(task_seed, "stream")))
    rows, degrees = mnist360.test_set(np.asarray(arrays.test_labels),
                                      np.random.default_rng(derive_seed(task_seed, "test")))
    train = Split(tf.constant(rotate_images(arrays.train_images[stream.rows], stream.degrees)),
                  tf.constant(stream.labels))
    test = Split(tf.constant(rotate_images(arrays.test_images[rows], degrees)),
                 tf.constant(np.asarray(arrays.test_labels)[rows].astype(np.int32)))
    return train, test, stream.batch_sizes


def _splits(name: str, spec: TaskSpec, arrays, train_images: tf.Tensor,
            test_images: tf.Tensor, labels: str = "task") -> tuple[Split, Split]:
    if spec.digits is not None:
        return tuple(_digit_split(images, getattr(arrays, f"{split}_labels"), spec.digits,
                                  labels) for split, images in (("train", train_images),
                                                                ("test", test_images)))
    if spec.labels is None:
        return (Split(train_images, tf.constant(arrays.train_labels)),
                Split(test_images, tf.constant(arrays.test_labels)))
    test_labels = spec.labels(arrays, "test")
    rng = np.random.default_rng(derive_seed(0, name, "held-out"))
    rows = balanced_indices(test_labels, None, rng, spec.classes)
    return (Split(train_images, tf.constant(spec.labels(arrays, "train"))),
            Split(test_images, tf.constant(test_labels), tf.constant(rows)))


def _check_examples(name: str, spec: TaskSpec, train: Split, test: Split) -> None:
    """Refuses a task left without training or test examples (a copy of MNIST without a
    split task's digits), which would otherwise fail deep in its stream."""
    for kind, split in (("training", train), ("test", test)):
        if not len(split):
            which = (f" (digits {' and '.join(map(str, spec.digits))})" if spec.digits
                     else "")
            raise UserError(f"task {name!r} has no {kind} examples{which} in the {spec.source} "
                            "data given; use a complete copy of the data set")


def _digit_split(images: tf.Tensor, source_labels: np.ndarray, digits: tuple[int, ...],
                 labels: str) -> Split:
    """The examples of `digits`, in the source's order, labelled as `labels` says."""
    rows = np.flatnonzero(np.isin(source_labels, digits))
    if labels == "task":
        numbering = np.zeros(max(digits) + 1, np.int32)
        numbering[list(digits)] = np.arange(len(digits))
        source_labels = numbering[np.minimum(source_labels, max(digits))]
    return Split(images, tf.constant(source_labels, tf.int32), tf.constant(rows))
