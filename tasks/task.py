"""A Task: one source's uint8 arrays, a transform and an input style; its test batches and mixes
of several tasks' training examples as tf.data (its training stream: tasks/streams.py)."""

import dataclasses

import numpy as np
import tensorflow as tf

from seeds import derive_seed
from tasks.input_style import image_span, input_channels
from tasks.transforms import Transform, identity


def place_channels(images: tf.Tensor, style: str, rgb: bool = False,
                   carried: tuple[int, int] | None = None,
                   other_source: bool = False) -> tf.Tensor:
    """Places images, [..., H, W] greyscale or [..., H, W, 3] if `rgb`, from MNIST or
    `other_source`, in the style's channels: all of them, or only the `carried` range
    [start, stop)."""
    start, stop = carried or (0, input_channels(style))
    first, end = image_span(style, rgb, other_source)
    if not rgb:
        images = images[..., tf.newaxis]
    if first < start or end > stop:
        raise ValueError(f"channels {first}-{end} are not among those carried, {start}-{stop}")
    rank = len(images.shape)
    paddings = [[0, 0]] * (rank - 1) + [[first - start, stop - end]]
    return tf.pad(images, paddings)


PREFETCH = 2  # Batches prepared ahead of the training step.


def parallel_batches(numbered: tf.data.Dataset, load) -> tf.data.Dataset:
    """`load` mapped over numbered index batches on every core, in order, prefetched.

    tf.data's autotuner is off: its optimizer thread can keep an iterator's
    destructor waiting for up to a minute (seen as 50 s at the end of a
    1,000-step run, gdb: RootDataset::Iterator::~Iterator joining
    Model::OptimizeLoop), and with it off evaluation measured ~10% faster. With it
    off, AUTOTUNE parallelism means the number of schedulable cores (at most 16)."""
    options = tf.data.Options()
    options.autotune.enabled = False
    return (numbered.map(load, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
            .prefetch(PREFETCH)
            .with_options(options))


def balanced_indices(labels: np.ndarray, count: int | None, rng: np.random.Generator,
                     classes: int) -> np.ndarray:
    """Indices of `count` examples with every class equally often, interleaved class by class
    so that any prefix is balanced too; without replacement where a class has enough.

    With `count` None, as many as the rarest class allows. A class with no example
    at all is left out (its share goes to the others)."""
    by_class = [rng.permutation(np.flatnonzero(labels == c)) for c in range(classes)]
    by_class = [members for members in by_class if len(members)]
    if not by_class:
        raise ValueError("no examples to sample from")
    if count is None:
        count = min(len(members) for members in by_class) * len(by_class)
    per_class = -(-count // len(by_class))
    columns = []
    for members in by_class:
        if per_class > len(members):  # Too few: repeat them, in fresh orders.
            repeats = [rng.permutation(members) for _ in range(per_class // len(members) + 1)]
            members = np.concatenate(repeats)
        columns.append(members[:per_class])
    return np.stack(columns, axis=1).reshape(-1)[:count]


@dataclasses.dataclass(frozen=True)
class Split:
    """Images as uint8 [N, H, W] (greyscale) or [N, H, W, 3] (RGB) and int32 labels [N];
    with `rows`, the split is those rows of the arrays, in that order."""

    images: tf.Tensor
    labels: tf.Tensor
    rows: tf.Tensor | None = None

    def __len__(self) -> int:
        return int((self.labels if self.rows is None else self.rows).shape[0])

    def label_array(self) -> np.ndarray:
        """The split's labels in its own order, as numpy."""
        labels = self.labels if self.rows is None else tf.gather(self.labels, self.rows)
        return labels.numpy()

    def take(self, index: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """The images and labels at positions `index` of the split."""
        if self.rows is not None:
            index = tf.gather(self.rows, index)
        return tf.gather(self.images, index), tf.gather(self.labels, index)


@dataclasses.dataclass(frozen=True)
class Task:
    """One task of a run: its data, the transform that defines it, and where its image goes."""

    name: str
    transform: Transform
    train: Split
    test: Split
    input_style: str
    seed: int
    rgb: bool = False
    # Its images come from a source other than MNIST, which channelplex places apart.
    other_source: bool = False
    carried: tuple[int, int] | None = None  # Input channels carried; None: all the style's.
    # Whether `transform` acts on the stacked input, after the image is placed in its
    # channels (the original's order, which its `inv` needs), not on the image before.
    whole_input: bool = False
    index: int = 0  # The task's place in the run, which its one-hot signal marks.
    signal_size: int = 0  # Length of the one-hot task signal; 0: the network gets none.
    signal_scale: float = 1.0  # The signal's "hot" value.
    pad: int = 0  # Zero pixels added on each side of the image (2: MNIST as 32x32).
    # (mean, sd): the padded image standardised, (x - mean) / sd; None: left in [0, 1].
    normalize: tuple[float, float] | None = None
    # A task-free stream's batch sizes, in order: its training examples are the stream in
    # order, batch after batch (tasks.streams.SequenceStream); None for any other task.
    stream_batches: np.ndarray | None = dataclasses.field(default=None, compare=False)

    @property
    def image_shape(self) -> tuple[int, int]:
        """The height and width of the images the network gets."""
        height, width = self.train.images.shape[1:3]
        return height + 2 * self.pad, width + 2 * self.pad

    def prepare_images(self, images: tf.Tensor, labels: tf.Tensor, seed: tf.Tensor):
        """uint8 images and labels of a batch -> the network's float images and the labels:
        scaled to [0, 1], transformed, padded and standardised, placed in the input's
        channels (a whole-input transform after)."""
        images = tf.cast(images, tf.float32) / 255.0
        if not self.whole_input:
            images, labels = self.transform(images, labels, seed)
        if self.pad:
            spatial = [[self.pad, self.pad]] * 2 + ([[0, 0]] if self.rgb else [])
            images = tf.pad(images, [[0, 0]] * (len(images.shape) - len(spatial)) + spatial)
        if self.normalize is not None:
            mean, sd = self.normalize
            images = (images - mean) / sd
        images = place_channels(images, self.input_style, rgb=self.rgb, carried=self.carried,
                                other_source=self.other_source)
        if self.whole_input:
            images, labels = self.transform(images, labels, seed)
        return images, labels

    def prepare(self, images: tf.Tensor, labels: tf.Tensor, seed: tf.Tensor):
        """uint8 images and labels of a batch -> the network's inputs and the labels."""
        images, labels = self.prepare_images(images, labels, seed)
        return self.with_signal(images, tf.fill(tf.shape(labels), self.index)), labels

    def with_signal(self, images: tf.Tensor, task_indices: tf.Tensor):
        """The network's inputs: the images, with each one's one-hot task signal if it has one."""
        if not self.signal_size:
            return images
        return images, tf.one_hot(task_indices, self.signal_size) * self.signal_scale

    def test_size(self, limit: int | None = None) -> int:
        """How many test examples an evaluation uses: all, or the first `limit`."""
        return len(self.test) if limit is None else min(limit, len(self.test))

    def test_rows(self, limit: int | None = None) -> np.ndarray:
        """The rows of the test arrays an evaluation uses (all, or the first `limit`), in order."""
        size = self.test_size(limit)
        return np.arange(size) if self.test.rows is None else self.test.rows[:size].numpy()

    def test_pool(self) -> tuple | None:
        """What the network's image of a test row depends on, for a task whose images are
        not transformed: the test arrays and how an image is scaled and placed. Tasks with
        the same pool give a row the same image (and differ in its label and their signal).
        None for a task that transforms its images."""
        if self.transform is not identity:
            return None
        return (id(self.test.images), self.input_style, self.rgb, self.other_source,
                self.carried, self.pad, self.normalize)

    def test_images_at(self, rows: np.ndarray, batch_size: int) -> tf.data.Dataset:
        """The network's images (without a signal) of the test arrays' `rows`, in order, in
        batches."""
        rows = tf.constant(rows, tf.int64)
        seed = derive_seed(self.seed, "test")

        def load(batch_number, index):
            index = tf.gather(rows, index)
            images, _ = self.prepare_images(tf.gather(self.test.images, index),
                                            tf.gather(self.test.labels, index),
                                            tf.stack([tf.constant(seed, tf.int64), batch_number]))
            return images

        numbered = tf.data.Dataset.range(len(rows)).batch(batch_size).enumerate()
        return parallel_batches(numbered, load)

    def test_batches(self, batch_size: int, limit: int | None = None) -> tf.data.Dataset:
        """The test split in order (its first `limit` examples if given); identical on every
        iteration, noise included."""
        indices = tf.data.Dataset.range(self.test_size(limit)).batch(batch_size)
        return self._batches(self.test, indices, derive_seed(self.seed, "test"))

    def _batches(self, split: Split, indices: tf.data.Dataset, seed: int) -> tf.data.Dataset:
        def load(batch_number, index):
            batch_seed = tf.stack([tf.constant(seed, tf.int64), batch_number])
            return self.prepare(*split.take(index), batch_seed)

        return parallel_batches(indices.enumerate(), load)


def mixed_batch(tasks: list[Task], task_ids: tf.Tensor, example_ids: tf.Tensor,
                seed: tf.Tensor) -> tuple:
    """One batch of examples of several tasks (task_ids[i]'s example example_ids[i]), each
    prepared by its own task with the stateless `seed`, rejoined in order, with each
    example's task signal."""
    positions = tf.dynamic_partition(tf.range(tf.shape(task_ids)[0]), task_ids, len(tasks))
    parts = tf.dynamic_partition(example_ids, task_ids, len(tasks))
    prepared = [task.prepare_images(*task.train.take(part), seed)
                for task, part in zip(tasks, parts)]
    images = tf.dynamic_stitch(positions, [images for images, _ in prepared])
    labels = tf.dynamic_stitch(positions, [labels for _, labels in prepared])
    return tasks[0].with_signal(images, task_ids), labels
