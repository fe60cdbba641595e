"""Layers the original network uses that Keras lacks, written for speed on a CPU."""

import numpy as np
import tensorflow as tf


class LocalResponseNorm(tf.keras.layers.Layer):
    """Local response normalisation across channels with the original's constants: the maths
    of tf.nn.local_response_normalization, x / (bias + alpha * sum of squares over the
    2 * depth_radius + 1 nearest channels) ** beta.

    The windowed sum is a product with a banded 0/1 matrix, and for beta 0.75 the power is
    rsqrt(z) * sqrt(rsqrt(z)): on a CPU its backward pass is several times faster than
    TensorFlow's LRN gradient kernel, with outputs and gradients equal to float32 precision.
    """

    def __init__(self, depth_radius: int = 4, bias: float = 1.0, alpha: float = 0.001 / 9.0,
                 beta: float = 0.75, **kwargs):
        super().__init__(**kwargs)
        self.depth_radius = depth_radius
        self.bias = bias
        self.alpha = alpha
        self.beta = beta

    def build(self, input_shape):
        channels = np.arange(input_shape[-1])
        band = np.abs(channels[:, None] - channels[None, :]) <= self.depth_radius
        self._band = tf.constant(band.astype(np.float32))
        super().build(input_shape)

    def call(self, inputs):
        window = tf.tensordot(tf.square(inputs), self._band, axes=[[inputs.shape.rank - 1], [0]])
        z = self.bias + self.alpha * window
        if self.beta == 0.75:
            scale = tf.math.rsqrt(z)
            return inputs * scale * tf.sqrt(scale)
        return inputs * tf.pow(z, -self.beta)

    def get_config(self):
        return {**super().get_config(), "depth_radius": self.depth_radius, "bias": self.bias,
                "alpha": self.alpha, "beta": self.beta}


class BiasReLU(tf.keras.layers.Layer):
    """A per-channel bias, then ReLU. Placed after a max-pool it computes what the same bias
    and ReLU before the pool would (both are monotone), on a quarter of the values."""

    def build(self, input_shape):
        self.bias = self.add_weight(shape=(input_shape[-1],), initializer=self._initializer,
                                    name="bias")
        super().build(input_shape)

    def __init__(self, bias_initializer="zeros", **kwargs):
        super().__init__(**kwargs)
        self._initializer = tf.keras.initializers.get(bias_initializer)

    def call(self, inputs):
        return tf.nn.relu(inputs + self.bias)


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
    """The network's first convolution (SAME padding, stride 1) when its input carries only
    the channels [start, stop) of `channels`: the kernel spans all of them, as the plain
    layer's, and the convolution uses its carried slice. The channels left out are zero
    for every input of the run, so the function, the gradients of the slice, and the zero
    gradients of the rest are those of the full convolution, on less work."""

    def __init__(self, filters: int, kernel_size: int, channels: int,
                 carried: tuple[int, int], use_bias: bool = True, activation=None,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros", **kwargs):
        super().__init__(**kwargs)
        self.filters, self.kernel_size, self.channels = filters, kernel_size, channels
        self.carried, self.use_bias = tuple(carried), use_bias
        self.activation = tf.keras.activations.get(activation)
        self._initializers = (tf.keras.initializers.get(kernel_initializer),
                              tf.keras.initializers.get(bias_initializer))

    def build(self, input_shape):
        size = self.kernel_size
        self.kernel = self.add_weight(shape=(size, size, self.channels, self.filters),
                                      initializer=self._initializers[0], name="kernel")
        self.bias = (self.add_weight(shape=(self.filters,), initializer=self._initializers[1],
                                     name="bias") if self.use_bias else None)
        super().build(input_shape)

    def call(self, inputs):
        start, stop = self.carried
        x = tf.nn.conv2d(inputs, self.kernel[:, :, start:stop, :], 1, "SAME")
        if self.bias is not None:
            x = x + self.bias
        return self.activation(x)


class CarriedDense(tf.keras.layers.Layer):
    """The network's first dense layer when the image it flattens carries only the channels
    [start, stop) of `channels`: the kernel has the rows of the full flattened image (then
    any `extra` inputs, such as a task signal), and the product uses the carried rows,
    gathered. Their gradient is sparse, so the optimizer touches only those rows; the
    others would get zero gradients in the full layer, which leaves them (and the
    optimizers' moments of them) unchanged too."""

    def __init__(self, units: int, image_shape: tuple[int, int], channels: int,
                 carried: tuple[int, int], extra: int = 0, activation=None,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros", **kwargs):
        super().__init__(**kwargs)
        self.units, self.image_shape, self.channels = units, tuple(image_shape), channels
        self.carried, self.extra = tuple(carried), extra
        self.activation = tf.keras.activations.get(activation)
        self._initializers = (tf.keras.initializers.get(kernel_initializer),
                              tf.keras.initializers.get(bias_initializer))

    def build(self, input_shape):
        rows = int(np.prod(self.image_shape)) * self.channels + self.extra
        self.kernel = self.add_weight(shape=(rows, self.units),
                                      initializer=self._initializers[0], name="kernel")
        self.bias = self.add_weight(shape=(self.units,), initializer=self._initializers[1],
                                    name="bias")
        super().build(input_shape)

    def call(self, inputs):
        start, stop = self.carried
        pixels = int(np.prod(self.image_shape))
        rows = (np.arange(pixels)[:, None] * self.channels + np.arange(start, stop)).reshape(-1)
        rows = np.concatenate([rows, pixels * self.channels + np.arange(self.extra)])
        kernel = tf.gather(self.kernel, tf.constant(rows, tf.int32))
        return self.activation(tf.matmul(inputs, kernel) + self.bias)
