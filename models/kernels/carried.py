"""First layers that compute with the input channels a run carries (the others are zero for
every example): the same function, weights and gradients as the full layer, on less work."""

import numpy as np
import tensorflow as tf


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

    def get_config(self):
        """What Keras needs to copy the layer (tf.keras.models.clone_model: LwF's copy)."""
        return {**super().get_config(), "filters": self.filters,
                "kernel_size": self.kernel_size, "channels": self.channels,
                "carried": self.carried, "use_bias": self.use_bias,
                "activation": tf.keras.activations.serialize(self.activation),
                **_initializer_config(self._initializers)}

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

    def get_config(self):
        """What Keras needs to copy the layer (tf.keras.models.clone_model: LwF's copy)."""
        return {**super().get_config(), "units": self.units, "image_shape": self.image_shape,
                "channels": self.channels, "carried": self.carried, "extra": self.extra,
                "activation": tf.keras.activations.serialize(self.activation),
                **_initializer_config(self._initializers)}

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


def _initializer_config(initializers) -> dict:
    kernel, bias = initializers
    return {"kernel_initializer": tf.keras.initializers.serialize(kernel),
            "bias_initializer": tf.keras.initializers.serialize(bias)}
