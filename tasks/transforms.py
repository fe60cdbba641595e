"""MNIST variants as pure transforms of (images, labels), usable eagerly and inside tf.data.

Every transform takes greyscale images (float32 in [0, 1], shape [..., 28, 28]),
integer labels of the same leading shape, and a stateless seed (int [2]) for
those that draw random numbers; it returns new images and labels and changes
neither input. Transforms with a fixed permutation are made by a factory from a
numpy Generator, so one run seed gives the same bijection on every call. A task
whose transform acts on the whole stacked input instead (`inv`, as the original
computed it) gets images of shape [..., 28, 28, C], after the input style has
placed the image in its channel (tasks.Task.whole_input).
"""

from typing import Callable

import numpy as np
import tensorflow as tf

from tasks.rotation import drawn_angle, rotation_sources

Transform = Callable[[tf.Tensor, tf.Tensor, tf.Tensor], tuple[tf.Tensor, tf.Tensor]]
NUM_CLASSES = 10


def identity(images, labels, seed):
    del seed
    return images, labels


def flip_rows(images, labels, seed):
    """The original `ref`: each image's rows in reverse order (`i[::-1]` on [28, 28, C]),
    an upside-down flip."""
    del seed
    return tf.reverse(images, axis=[-2]), labels


def rotate_180(images, labels, seed):
    """A turn by 180 degrees: what reversing the flattened 784-vector gives."""
    del seed
    return tf.reverse(images, axis=[-2, -1]), labels


def mirror(images, labels, seed):
    """A true reflection on one axis (left to right), as the original README describes `ref`."""
    del seed
    return tf.reverse(images, axis=[-1]), labels


def invert(images, labels, seed):
    """1 - x over whatever it is given: the greyscale image, or (the original `inv`) the whole
    stacked input."""
    del seed
    return 1.0 - images, labels


def noise(images, labels, seed):
    """Replaces each image by uniform noise, fresh for every seed; the labels stay."""
    return tf.random.stateless_uniform(tf.shape(images), seed=seed, dtype=images.dtype), labels


def zero(images, labels, seed):
    del seed
    return tf.zeros_like(images), labels


def one(images, labels, seed):
    del seed
    return tf.ones_like(images), labels


def permute_labels(rng: np.random.Generator) -> Transform:
    """The original `perm`: a fixed permutation of the ten labels; the images stay."""
    permutation = tf.constant(rng.permutation(NUM_CLASSES), tf.int32)

    def transform(images, labels, seed):
        del seed
        return images, tf.gather(permutation, labels)

    return transform


def permute_rows(rng: np.random.Generator, rows: int = 28) -> Transform:
    """A fixed permutation of the image rows, as the original README describes `perm`."""
    permutation = tf.constant(rng.permutation(rows), tf.int32)

    def transform(images, labels, seed):
        del seed
        return tf.gather(images, permutation, axis=-2), labels

    return transform


def permute_pixels(rng: np.random.Generator, height: int = 28, width: int = 28) -> Transform:
    """Permuted-MNIST of the continual-learning literature: a fixed shuffle of all pixels."""
    permutation = tf.constant(rng.permutation(height * width), tf.int32)

    def transform(images, labels, seed):
        del seed
        shape = tf.shape(images)
        flat = tf.reshape(images, tf.concat([shape[:-2], [height * width]], axis=0))
        return tf.reshape(tf.gather(flat, permutation, axis=-1), shape), labels

    return transform


def rotate(degrees: float, height: int = 28, width: int = 28) -> Transform:
    """A turn by `degrees` counter-clockwise about the image centre, as PIL's Image.rotate
    makes it with its default resampling: each pixel takes the nearest source pixel of
    the inverse turn, or zero where that falls outside the image (Rotated MNIST)."""
    # Index height * width is an appended zero pixel, for the sources outside.
    source = tf.constant(rotation_sources(degrees, height, width), tf.int32)

    def transform(images, labels, seed):
        del seed
        shape = tf.shape(images)
        flat = tf.reshape(images, tf.concat([shape[:-2], [height * width]], axis=0))
        padded = tf.concat([flat, tf.zeros_like(flat[..., :1])], axis=-1)
        return tf.reshape(tf.gather(padded, source, axis=-1), shape), labels

    return transform


def rotate_drawn(rng: np.random.Generator, low: float = 0.0, high: float = 180.0) -> Transform:
    """A turn by a fixed angle drawn uniformly in [low, high) degrees from the task's own
    generator (the DER paper's Rotated MNIST: Mammoth's Rotation(), 0 to 180)."""
    return rotate(drawn_angle(rng, low, high))
