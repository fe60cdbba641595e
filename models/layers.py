"""Layers the original network uses that Keras lacks, written for speed on a CPU."""

import os

import numpy as np
import tensorflow as tf


def _parts() -> int:
    """Into how many parts `in_parts` splits a batch: one per CPU core (at most 8), or
    one where a GPU runs the work."""
    if tf.config.list_logical_devices("GPU"):
        return 1
    return min(len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
               else os.cpu_count() or 1, 8)


def in_parts(function, inputs: tf.Tensor) -> tf.Tensor:
    """`function` of a batch, computed on parts of it that TensorFlow runs side by side.

    XLA's compiled loops run on one CPU core each (measured: the same time with one
    intra-op thread as with two), so on a CPU the batch is split into a part per core
    and the parts' results concatenated (`function` must treat examples
    independently). A batch of unknown size is not split."""
    batch, parts = inputs.shape[0], _parts()
    if not batch or parts < 2 or batch < parts:
        return function(inputs)
    sizes = [batch // parts + (i < batch % parts) for i in range(parts)]
    return tf.concat([function(part) for part in tf.split(inputs, sizes)], axis=0)


def _window_sum(x: tf.Tensor, radius: int) -> tf.Tensor:
    """Each channel's sum of x over the 2 * radius + 1 nearest channels (fewer at the edges)."""
    channels = x.shape[-1]
    padded = tf.pad(x, [[0, 0]] * (x.shape.rank - 1) + [[radius, radius]])
    total = padded[..., :channels]
    for offset in range(1, 2 * radius + 1):
        total += padded[..., offset:offset + channels]
    return total


def _lrn_scale(x, radius, bias, alpha, beta) -> tuple[tf.Tensor, tf.Tensor]:
    """z = bias + alpha * (the window's sum of squares), and z ** -beta."""
    z = bias + alpha * _window_sum(x * x, radius)
    if beta == 0.75:
        scale = tf.math.rsqrt(z)
        return z, scale * tf.sqrt(scale)
    return z, tf.pow(z, -beta)


@tf.function(jit_compile=True, autograph=False)
def _lrn_forward(x, radius, bias, alpha, beta):
    return x * _lrn_scale(x, radius, bias, alpha, beta)[1]


@tf.function(jit_compile=True, autograph=False)
def _lrn_backward(gradient, x, radius, bias, alpha, beta):
    """The input's gradient: g z ** -beta, plus x times the window's sum of what each channel
    sends back to the squares of its window, -2 alpha beta g x z ** (-beta - 1). The
    window is symmetric, so the sum over the channels that see a channel is a window
    sum too. z is recomputed (as fast as keeping it, and no memory)."""
    z, scale = _lrn_scale(x, radius, bias, alpha, beta)
    sent = (-2.0 * alpha * beta) * gradient * x * scale / z
    return gradient * scale + x * _window_sum(sent, radius)


class LocalResponseNorm(tf.keras.layers.Layer):
    """Local response normalisation across channels with the original's constants: the maths
    of tf.nn.local_response_normalization, x / (bias + alpha * sum of squares over the
    2 * depth_radius + 1 nearest channels) ** beta.

    The forward pass and its gradient, written out, are each one XLA-compiled loop
    (squares, windowed sums as shifted adds, the scale): with outputs and gradients
    equal to float32 precision, on a CPU several times faster than TensorFlow's LRN
    gradient kernel, and faster than computing the windowed sum as a product with
    the banded 0/1 matrix (measured for 64 channels, batch 100: forward 3-4 against
    6-7 ms, forward and gradient 8 against 12.5 ms).
    """

    def __init__(self, depth_radius: int = 4, bias: float = 1.0, alpha: float = 0.001 / 9.0,
                 beta: float = 0.75, **kwargs):
        super().__init__(**kwargs)
        self.depth_radius = depth_radius
        self.bias = bias
        self.alpha = alpha
        self.beta = beta

    def call(self, inputs):
        constants = (self.depth_radius, self.bias, self.alpha, self.beta)

        @tf.custom_gradient
        def normalise(x):
            return (_lrn_forward(x, *constants),
                    lambda upstream: _lrn_backward(upstream, x, *constants))

        return normalise(inputs)

    def get_config(self):
        return {**super().get_config(), "depth_radius": self.depth_radius, "bias": self.bias,
                "alpha": self.alpha, "beta": self.beta}


class TaskHead(tf.keras.layers.Layer):
    """Picks each example's own task's logits out of every head's: inputs are the output
    layer's [B, heads * classes] and the task signal [B, heads] (its largest entry marks
    the task, whatever the signal's scale)."""

    def __init__(self, heads: int, classes: int, **kwargs):
        super().__init__(**kwargs)
        self.heads, self.classes = heads, classes

    def call(self, inputs):
        logits, signal = inputs
        every = tf.reshape(logits, [-1, self.heads, self.classes])
        return tf.gather(every, tf.argmax(signal, axis=-1), batch_dims=1)

    def get_config(self):
        return {**super().get_config(), "heads": self.heads, "classes": self.classes}


class CarriedConv2D(tf.keras.layers.Layer):
    """A SAME convolution with stride 1 whose kernel spans `channels` input channels while its
    input carries only the channels [start, stop) of them (`carried`; by default all, and
    `channels` the input's). The network's first layer carries a subset when the run's
    tasks leave some channels of the input style zero for every input: the convolution
    uses the kernel's carried slice, so the function, the gradients of the slice, and the
    zero gradients of the rest are those of the full convolution, on less work."""

    def __init__(self, filters: int, kernel_size: int, channels: int | None = None,
                 carried: tuple[int, int] | None = None, use_bias: bool = True,
                 activation=None, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", **kwargs):
        super().__init__(**kwargs)
        if carried is not None and channels is None:
            raise ValueError("carried channels need the declared number of channels")
        self.filters, self.kernel_size, self.channels = filters, kernel_size, channels
        self.carried, self.use_bias = carried and tuple(carried), use_bias
        self.activation = tf.keras.activations.get(activation)
        self._initializers = (tf.keras.initializers.get(kernel_initializer),
                              tf.keras.initializers.get(bias_initializer))

    def build(self, input_shape):
        size, channels = self.kernel_size, self.channels or input_shape[-1]
        self.kernel = self.add_weight(shape=(size, size, channels, self.filters),
                                      initializer=self._initializers[0], name="kernel")
        self.bias = (self.add_weight(shape=(self.filters,), initializer=self._initializers[1],
                                     name="bias") if self.use_bias else None)
        super().build(input_shape)

    def carried_kernel(self) -> tf.Tensor:
        if self.carried is None:
            return self.kernel
        start, stop = self.carried
        return self.kernel[:, :, start:stop, :]

    def call(self, inputs):
        x = tf.nn.conv2d(inputs, self.carried_kernel(), 1, "SAME")
        if self.bias is not None:
            x = x + self.bias
        return self.activation(x)


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
    side by side (`in_parts`).
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


class CarriedDense(tf.keras.layers.Layer):
    """The network's first dense layer when the image it flattens carries only the channels
    [start, stop) of `channels` (then any `extra` inputs, such as a task signal).

    The layer holds a weight for every row of the full flattened image, in two
    variables: `carried_kernel`, the rows of the carried channels and the extra inputs,
    in the order the carried input flattens, which is trained and multiplies the input
    as it is; and `uncarried_kernel`, the other channels' rows, which multiply inputs
    that are zero for every example, so they get zero gradients in the full layer and
    never move (nor do an optimizer's moments of them): they are held out of
    training. `kernel` assembles the full kernel. The full layer's initial values are
    drawn once and split, so the weights, outputs and gradients are those of the full
    layer, on a contiguous product and a dense update of a third of its rows (a gather
    of the rows from one variable and a sparse update of them measured 1.6 times as
    slow for `fc fc`)."""

    def __init__(self, units: int, image_shape: tuple[int, int], channels: int,
                 carried: tuple[int, int], extra: int = 0, activation=None,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros", **kwargs):
        super().__init__(**kwargs)
        self.units, self.image_shape, self.channels = units, tuple(image_shape), channels
        self.carried, self.extra = tuple(carried), extra
        self.activation = tf.keras.activations.get(activation)
        self._initializers = (tf.keras.initializers.get(kernel_initializer),
                              tf.keras.initializers.get(bias_initializer))
        pixels, (start, stop) = int(np.prod(self.image_shape)), self.carried
        rows = (np.arange(pixels)[:, None] * channels + np.arange(start, stop)).reshape(-1)
        # The full kernel's rows that carried_kernel holds, in order; uncarried_kernel the rest.
        self.carried_rows = np.concatenate([rows, pixels * channels + np.arange(extra)])
        self.uncarried_rows = np.setdiff1d(np.arange(pixels * channels + extra),
                                           self.carried_rows)

    def build(self, input_shape):
        rows = len(self.carried_rows) + len(self.uncarried_rows)
        full = self._initializers[0]((rows, self.units))  # The full layer's initial values.
        self.carried_kernel = self.add_weight(
            shape=(len(self.carried_rows), self.units), name="carried_kernel",
            initializer=lambda shape, dtype=None: tf.gather(full, self.carried_rows))
        self.uncarried_kernel = self.add_weight(
            shape=(len(self.uncarried_rows), self.units), name="uncarried_kernel",
            initializer=lambda shape, dtype=None: tf.gather(full, self.uncarried_rows),
            trainable=False)
        self.bias = self.add_weight(shape=(self.units,), initializer=self._initializers[1],
                                    name="bias")
        super().build(input_shape)

    @property
    def kernel(self) -> tf.Tensor:
        """The full layer's kernel: a row for every channel of the flattened image, then the
        extra inputs."""
        return tf.dynamic_stitch([self.carried_rows, self.uncarried_rows],
                                 [self.carried_kernel, self.uncarried_kernel])

    def call(self, inputs):
        return self.activation(tf.nn.bias_add(tf.matmul(inputs, self.carried_kernel), self.bias))
