"""The conv-net builder: a network spec such as `conv fc` becomes a Keras model.

A spec is a list of layers, convolutions first, ending with the `fc` output
layer. Each layer is a kind, optionally with its width as `kind:N`:
  conv   the original study's block: 5x5 kernels, SAME padding, ReLU, 3x3
         max-pool with stride 2, a normalisation (local response normalisation
         by default), dropout; the bias and ReLU are applied after the pool,
         the same function on a quarter of the values; convolution, pool, bias
         and ReLU are one layer (ConvMaxPool, fast on the first layer's images).
         Without a width, the first conv has `conv_filters` filters and each
         later one twice as many (64, 128).
  conv3  the ten-task paper's block: 3x3 kernels, stride 1, padding 1, ReLU,
         batch normalisation (momentum 0.9, PyTorch's), 2x2 max-pool. Without a
         width, `conv_filters`.
  fc     a dense layer: N (default `fc_units`, 500) ReLU units, or the logits
         when it is the last layer (a width there is an error).
With one head per task (`heads`), the output layer holds every task's logits
and each example is answered by its own task's.

The named network `shapes-paper` is the ten-task paper's: conv3:16 conv3:32
conv3:48 conv3:64 fc:512 fc:512 fc:512 fc:512 fc.

A task signal (a one-hot vector of the task) is concatenated to the flattened
output of the last conv layer, the input of the first fc layer, as the paper did.
Weights start as the original's (truncated normal, stddev 0.1; biases 0.1) or,
with init `he`, He-normal with zero biases, which deep fc stacks need.
"""

from typing import Sequence

import tensorflow as tf

from models.layers import (CarriedConv2D, CarriedDense, ConvMaxPool, LocalResponseNorm,
                           TaskHead)
from errors import UserError
from models.spec import INITS, NORMS, parse_network, split_layer


def _initializers(init: str, seed: int):
    if init == "he":
        return {"kernel_initializer": tf.keras.initializers.HeNormal(seed=seed),
                "bias_initializer": "zeros"}
    if init == "truncated-normal":
        return {"kernel_initializer": tf.keras.initializers.TruncatedNormal(stddev=0.1, seed=seed),
                "bias_initializer": tf.keras.initializers.Constant(0.1)}
    raise UserError(f"unknown --init {init!r}; use one of: {', '.join(INITS)}")


def _norm_layer(norm: str, name: str):
    if norm == "lrn":
        return LocalResponseNorm(name=name)
    if norm == "batch":
        return tf.keras.layers.BatchNormalization(name=name)
    if norm == "none":
        return None
    raise UserError(f"unknown --norm {norm!r}; use one of: {', '.join(NORMS)}")


def _conv(filters: int, size: int, name: str, subset: tuple | None, **options):
    """A SAME convolution; on an input that carries a subset of the declared channels,
    `subset` = (declared channels, (start, stop)), the CarriedConv2D of those channels."""
    if subset is None:
        return tf.keras.layers.Conv2D(filters, size, padding="same", name=name, **options)
    return CarriedConv2D(filters, size, *subset, name=name, **options)


def _conv_block(x, i: int, filters: int, norm: str, keep_prob: float, weights: dict,
                seed: int, subset: tuple | None = None):
    """The original's conv block: ConvMaxPool (convolution, max-pool, bias, ReLU), the
    normalisation, dropout."""
    name = f"layer{i + 1}"
    x = ConvMaxPool(filters, 5, *(subset or (None, None)), name=f"{name}_conv", **weights)(x)
    norm_layer = _norm_layer(norm, f"{name}_norm")
    if norm_layer is not None:
        x = norm_layer(x)
    if keep_prob < 1.0:
        x = tf.keras.layers.Dropout(1.0 - keep_prob, seed=seed, name=f"{name}_dropout")(x)
    return x


def _conv3_block(x, i: int, filters: int, weights: dict, subset: tuple | None = None):
    name = f"layer{i + 1}"
    x = _conv(filters, 3, f"{name}_conv", subset, activation="relu", **weights)(x)
    # PyTorch's default momentum (the paper's framework): running statistics that settle
    # within the few hundred steps of an early episode.
    x = tf.keras.layers.BatchNormalization(momentum=0.9, name=f"{name}_norm")(x)
    return tf.keras.layers.MaxPool2D(2, name=f"{name}_pool")(x)


def build_model(network: Sequence[str], *, input_shape: tuple[int, int, int],
                num_classes: int = 10, conv_filters: int = 64, fc_units: int = 500,
                norm: str = "lrn", keep_prob: float = 0.9, seed: int = 0,
                init: str = "truncated-normal", task_signal: int = 0,
                heads: int = 1, carried: tuple[int, int] | None = None) -> tf.keras.Model:
    """Builds the network of `network` (see the module docstring); outputs are logits.

    With `task_signal` > 0 the model takes (images, one-hot task [B, task_signal]) and
    concatenates the one-hot to the first fc layer's input. With `heads` > 1 the output
    layer is one head per task on the shared layers below (hard parameter sharing): the
    model takes the one-hot task (of length `heads`) and answers with its task's head.

    `input_shape` is the declared input, all channels of the input style. With
    `carried` (start, stop), the images given carry only those channels, the others
    being zero for every task of the run: the first layer keeps its weights for every
    channel and computes with the carried ones (CarriedConv2D, CarriedDense), the same
    function on less work.
    """
    network = parse_network(network)
    if task_signal and heads > 1 and task_signal != heads:
        raise ValueError(f"a task signal of {task_signal} tasks with {heads} heads")
    channels = input_shape[-1]
    if carried is None or tuple(carried) == (0, channels):
        subset, carried_shape = None, input_shape
    else:
        start, stop = carried
        subset, carried_shape = (channels, (start, stop)), (*input_shape[:2], stop - start)
    images = tf.keras.Input(shape=carried_shape, name="images")
    inputs = images
    if task_signal or heads > 1:
        signal = tf.keras.Input(shape=(task_signal or heads,), name="task")
        inputs = (images, signal)
    x = images
    for i, layer in enumerate(network):
        kind, width = split_layer(layer)
        weights = _initializers(init, seed + i)
        first = subset if i == 0 else None
        if kind == "conv":
            x = _conv_block(x, i, width or conv_filters * 2 ** i, norm, keep_prob, weights,
                            seed + i, first)
        elif kind == "conv3":
            x = _conv3_block(x, i, width or conv_filters, weights, first)
        else:
            name = f"layer{i + 1}"
            if i == 0 or not network[i - 1].startswith("fc"):
                x = tf.keras.layers.Flatten(name=f"{name}_flatten")(x)
                if task_signal:
                    x = tf.keras.layers.Concatenate(name=f"{name}_task_signal")([x, signal])
            last = i == len(network) - 1
            units = num_classes * heads if last else width or fc_units
            options = dict(activation=None if last else "relu",
                           name=f"{name}_logits" if last else f"{name}_fc", **weights)
            if first:
                x = CarriedDense(units, input_shape[:2], *first, extra=task_signal,
                                 **options)(x)
            else:
                x = tf.keras.layers.Dense(units, **options)(x)
            if last and heads > 1:
                x = TaskHead(heads, num_classes, name=f"{name}_task_head")([x, signal])
    return tf.keras.Model(inputs, x, name="_".join(network).replace(":", "-"))
