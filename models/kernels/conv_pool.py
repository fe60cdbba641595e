"""The original's conv layer (convolution, 3x3 max-pool with stride 2, bias, ReLU) as one
layer: on the first layer, the convolution only where the pool reads it (four parity
planes, one matrix product of patches) and the pool an XLA loop with its own gradient."""

import numpy as np
import tensorflow as tf

from models.kernels.carried import CarriedConv2D
from models.kernels.parts import in_parts


def _next(plane: tf.Tensor, axis: int) -> tf.Tensor:
    """`plane` moved one place along `axis` (1: rows, 2: columns), so that entry i holds
    entry i + 1, with -inf past the edge (a SAME max-pool's padding)."""
    paddings = [[0, 0]] * 4
    paddings[axis] = [0, 1]
    rest = plane[:, 1:] if axis == 1 else plane[:, :, 1:]
    return tf.pad(rest, paddings, constant_values=-np.inf)


def _previous(plane: tf.Tensor, axis: int) -> tf.Tensor:
    """`plane` moved one place the other way: entry i holds entry i - 1, zero at the edge."""
    paddings = [[0, 0]] * 4
    paddings[axis] = [1, 0]
    rest = plane[:, :-1] if axis == 1 else plane[:, :, :-1]
    return tf.pad(rest, paddings)


def _window(even_even, even_odd, odd_even, odd_odd) -> list[tf.Tensor]:
    """The nine entries of each pooling window, in row-major order, as planes: window
    (i, j) of the map y covers rows and columns 2i to 2i + 2."""
    right, below = _next(even_even, 2), _next(even_even, 1)
    return [even_even, even_odd, right,
            odd_even, odd_odd, _next(odd_even, 2),
            below, _next(even_odd, 1), _next(right, 1)]


_NO_WINNER = 9  # A window's winner where its ReLU is off: its gradient goes nowhere.


def _max_of_window(planes: tf.Tensor) -> tuple[list[tf.Tensor], tf.Tensor]:
    window = _window(*tf.unstack(planes))
    pooled = window[0]
    for entry in window[1:]:
        pooled = tf.maximum(pooled, entry)
    return window, pooled


@tf.function(jit_compile=True, autograph=False)
def _pool_planes(planes: tf.Tensor, bias: tf.Tensor) -> tf.Tensor:
    return tf.nn.relu(_max_of_window(planes)[1] + bias)


@tf.function(jit_compile=True, autograph=False)
def _pool_planes_and_winners(planes: tf.Tensor, bias: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """The block's output and, for each window, the place (0-8, row-major) of its first
    maximum, or _NO_WINNER where the ReLU is off and no gradient passes."""
    window, pooled = _max_of_window(planes)
    output = tf.nn.relu(pooled + bias)
    no_winner = tf.constant(_NO_WINNER, tf.int8)
    winner = tf.fill(tf.shape(pooled), no_winner)
    for place in reversed(range(len(window))):
        winner = tf.where(tf.equal(window[place], pooled), tf.constant(place, tf.int8), winner)
    return output, tf.where(output > 0, winner, no_winner)


@tf.function(jit_compile=True, autograph=False)
def _unpool_planes(winner: tf.Tensor, gradient: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """The gradients of the four planes and of the bias: each window's gradient, where its
    ReLU is on, goes to its winner, and an entry that several windows share sums what
    they send it."""
    zero = tf.zeros_like(gradient)

    def sent(place):
        return tf.where(tf.equal(winner, place), gradient, zero)

    # Place 2 of window (i, j - 1) is entry (i, j) of even_even, and so on.
    even_even = (sent(0) + _previous(sent(2), 2) + _previous(sent(6), 1)
                 + _previous(_previous(sent(8), 1), 2))
    even_odd = sent(1) + _previous(sent(7), 1)
    odd_even = sent(3) + _previous(sent(5), 2)
    passed = tf.where(tf.not_equal(winner, _NO_WINNER), gradient, zero)
    return (tf.stack([even_even, even_odd, odd_even, sent(4)]),
            tf.reduce_sum(passed, axis=[0, 1, 2]))


@tf.custom_gradient
def _pool_planes_for_training(planes, bias):
    output, winner = _pool_planes_and_winners(planes, bias)
    return output, lambda gradient: _unpool_planes(winner, gradient)


def max_pool_of_parity_planes(planes: tf.Tensor, bias: tf.Tensor,
                              training: bool = False) -> tf.Tensor:
    """ReLU(the 3x3 max-pool with stride 2 and SAME padding + bias) of an even-sized map y,
    given as its four parity planes stacked, [4, B, H/2, W/2, C]: y[2i, 2j],
    y[2i, 2j + 1], y[2i + 1, 2j], y[2i + 1, 2j + 1] at (i, j).

    Compiled by XLA into a few fused loops, with its own gradient: in training the
    forward pass also records each window's first maximum in row-major order, where
    TensorFlow's max-pool gradient sends the window's gradient, and the backward pass
    sends it there. Without `training`, the output alone, as evaluation needs (its
    gradient is then TensorFlow's own, correct and slower)."""
    if training:
        return _pool_planes_for_training(planes, bias)
    return _pool_planes(planes, bias)


@tf.function(jit_compile=True, autograph=False)
def _parity_patches(images: tf.Tensor, size: int) -> tf.Tensor:
    """The size x size patches of SAME-padded even-sized images at the output positions of
    each parity plane, one patch a column: [size * size * C, 4 * B * H/2 * W/2], rows in a
    kernel's (row, column, channel) order, columns in max_pool_of_parity_planes's order.

    Each row is a shifted window of one of the padded image's four parity sub-images,
    so the patches are contiguous copies; with a patch a column, the filter's gradient
    is the patches times the planes' gradients (measured faster than a patch a row,
    with the product's transpose: 10 against 14.5 ms at batch 100)."""
    before = (size - 1) // 2
    after = size - 1 - before + (size - 1) % 2  # An even padded size (the extra row unread).
    padded = tf.pad(images, [[0, 0], [before, after], [before, after], [0, 0]])
    height, width, channels = images.shape[1:4]
    # [B, row // 2, row % 2, column // 2, column % 2, C] of the padded image.
    parity = tf.reshape(padded, [-1, padded.shape[1] // 2, 2, padded.shape[2] // 2, 2,
                                 channels])

    def window(row, column):  # padded[:, row::2, column::2], the size of a plane.
        return parity[:, row // 2:row // 2 + height // 2, row % 2,
                      column // 2:column // 2 + width // 2, column % 2]

    rows = tf.stack([tf.stack([window(a + u, b + v) for a in (0, 1) for b in (0, 1)])
                     for u in range(size) for v in range(size)])  # [size², 4, B, h, w, C]
    rows = tf.transpose(rows, [0, 5, 1, 2, 3, 4])
    return tf.reshape(rows, [size * size * channels, -1])


class ConvMaxPool(CarriedConv2D):
    """The original's conv layer: a convolution (SAME padding, stride 1), a 3x3 max-pool
    with stride 2 and SAME padding, a per-channel bias and ReLU. The bias and ReLU come
    after the pool: the same function as before it (both are monotone), on a quarter of
    the values.

    On an even-sized image of a few channels (the first layer) the convolution is computed
    at the four parity planes of its output only, as one matrix product of the image's
    patches (the same products), and the pool, bias and ReLU are one XLA-compiled
    function of the planes (`max_pool_of_parity_planes`): TensorFlow's CPU max-pool
    gradient, a scalar loop, took half of a `conv fc` training step, and its filter
    gradient for one input channel runs at a quarter of the matrix product's rate.
    XLA's loops use one core each, so on a CPU the batch goes through in parts run
    side by side, small enough for the cache (`in_parts`).
    Deeper layers, where the convolution's products dominate and TensorFlow's
    convolution is the faster (measured: 370 against 240 ms for the second conv's step
    with stride-2 convolutions), and odd sizes take the plain path.
    """

    PARITY_MAX_CHANNELS = 4

    def __init__(self, filters: int, kernel_size: int, channels: int | None = None,
                 carried: tuple[int, int] | None = None, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", **kwargs):
        super().__init__(filters, kernel_size, channels, carried, use_bias=True,
                         kernel_initializer=kernel_initializer,
                         bias_initializer=bias_initializer, **kwargs)

    def get_config(self):
        config = super().get_config()
        del config["use_bias"], config["activation"]  # Always a bias, then ReLU.
        return config

    def call(self, inputs, training=None):
        kernel = self.carried_kernel()
        height, width = inputs.shape[1:3]
        if (height is None or width is None or height % 2 or width % 2
                or inputs.shape[-1] > self.PARITY_MAX_CHANNELS):
            pooled = tf.nn.max_pool2d(tf.nn.conv2d(inputs, kernel, 1, "SAME"), 3, 2, "SAME")
            return tf.nn.relu(pooled + self.bias)
        bias = tf.convert_to_tensor(self.bias)
        flat_kernel = tf.reshape(kernel, [-1, self.filters])

        def tower(images):
            patches = _parity_patches(images, self.kernel_size)
            planes = tf.reshape(tf.matmul(patches, flat_kernel, transpose_a=True),
                                [4, -1, height // 2, width // 2, self.filters])
            return max_pool_of_parity_planes(planes, bias, training=bool(training))
        return in_parts(tower, inputs)
