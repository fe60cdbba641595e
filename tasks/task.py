"""A Task: one source's uint8 arrays, a transform and an input style, served as tf.data batches."""

import dataclasses
import zlib

import numpy as np
import tensorflow as tf

from tasks.input_style import place_channels
from tasks.transforms import Transform


def derive_seed(run_seed: int, *names: str) -> int:
    """A stable 31-bit seed for one purpose of one run (names such as 'id', 'train')."""
    keys = [run_seed] + [zlib.crc32(name.encode()) for name in names]
    return int(np.random.SeedSequence(keys).generate_state(1)[0] >> 1)


@dataclasses.dataclass(frozen=True)
class Split:
    """Images as uint8 [N, H, W] (greyscale) or [N, H, W, 3] (RGB) and int32 labels [N]."""

    images: tf.Tensor
    labels: tf.Tensor

    def __len__(self) -> int:
        return int(self.labels.shape[0])


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

    def prepare(self, images: tf.Tensor, labels: tf.Tensor, seed: tf.Tensor):
        """uint8 images and labels of a batch -> the network's float inputs and labels."""
        images = tf.cast(images, tf.float32) / 255.0
        images, labels = self.transform(images, labels, seed)
        return place_channels(images, self.input_style, rgb=self.rgb), labels

    def train_batches(self, batch_size: int) -> tf.data.Dataset:
        """An endless stream of batches, reshuffled each epoch; seeded by the task's seed."""
        indices = (
            tf.data.Dataset.range(len(self.train))
            .shuffle(len(self.train), seed=derive_seed(self.seed, "shuffle"),
                     reshuffle_each_iteration=True)
            .repeat()
            .batch(batch_size, drop_remainder=True)
        )
        return self._batches(self.train, indices, derive_seed(self.seed, "train"))

    def test_size(self, limit: int | None = None) -> int:
        """How many test examples an evaluation uses: all, or the first `limit`."""
        return len(self.test) if limit is None else min(limit, len(self.test))

    def test_batches(self, batch_size: int, limit: int | None = None) -> tf.data.Dataset:
        """The test split in order (its first `limit` examples if given); identical on every
        iteration, noise included."""
        indices = tf.data.Dataset.range(self.test_size(limit)).batch(batch_size)
        return self._batches(self.test, indices, derive_seed(self.seed, "test"))

    def _batches(self, split: Split, indices: tf.data.Dataset, seed: int) -> tf.data.Dataset:
        def load(batch_number, index):
            batch_seed = tf.stack([tf.constant(seed, tf.int64), batch_number])
            return self.prepare(tf.gather(split.images, index),
                                tf.gather(split.labels, index), batch_seed)

        return (indices.enumerate()
                .map(load, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
                .prefetch(tf.data.AUTOTUNE))
