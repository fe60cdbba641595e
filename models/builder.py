"""The conv-net builder: a network spec such as `conv fc` becomes a Keras model.

A spec is a list of layers, convolutions first, ending with the `fc` output
layer (models.spec). Each layer is a kind, optionally with its width as `kind:N`:
  conv   the original study's block: 5x5 kernels, SAME padding, ReLU, 3x3
         max-pool with stride 2, a normalisation (local response normalisation
         by default), dropout. Without a width, the first conv has
         `conv_filters` filters and each later one twice as many (64, 128).
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
Weights start as the original's (truncated normal, stddev 0.1; biases 0.1); with
init `he`, He-normal with zero biases, which deep fc stacks need; with `pytorch`,
as PyTorch's layers start, weights and biases uniform in +-1/sqrt(fan-in); with `xavier`,
Glorot-uniform weights and zero biases (Mammoth's MNIST MLP).

`kernels` says how the layers compute: "plain" builds them from Keras's own
layers, as written above; "fast" (the default) swaps in the layers of
models.kernels, the same function with less work on a CPU: a conv block's
convolution, pool, bias and ReLU as one layer (the bias and ReLU after the pool,
on a quarter of the values), LRN as XLA loops, batch normalisation as
TensorFlow's fused kernel, and a first layer that computes with only the input
channels the run's tasks fill (`carried`).
"""

from typing import Sequence

import tensorflow as tf

from models.kernels.batch_norm import FusedBatchNorm
from models.kernels.carried import CarriedConv2D, CarriedDense
from models.kernels.conv_pool import ConvMaxPool
from models.kernels.lrn import FastLocalResponseNorm
from models.layers import LocalResponseNorm, TaskHead
from models.spec import KERNEL_SIZES, KERNELS, layer_shapes, parse_network

def _pytorch_default(seed: int, fan_in: int) -> dict:
    """PyTorch's default for Linear and Conv2d: weights and biases U(+-1/sqrt(fan_in))."""
    bound = fan_in ** -0.5
    return {"kernel_initializer": tf.keras.initializers.RandomUniform(-bound, bound, seed=seed),
            "bias_initializer": tf.keras.initializers.RandomUniform(-bound, bound,
                                                                    seed=seed + 10_000)}


# init -> (seed, fan_in: the inputs of each of the layer's units) -> initializer options.
INITIALIZERS = {
    "truncated-normal": lambda seed, fan_in: {
        "kernel_initializer": tf.keras.initializers.TruncatedNormal(stddev=0.1, seed=seed),
        "bias_initializer": tf.keras.initializers.Constant(0.1)},
    "he": lambda seed, fan_in: {"kernel_initializer": tf.keras.initializers.HeNormal(seed=seed),
                                "bias_initializer": "zeros"},
    "pytorch": _pytorch_default,
    # Mammoth's `xavier` (backbone/__init__.py), which its MNIST MLP starts from: weights
    # uniform in +-sqrt(6 / (fan_in + fan_out)), Glorot's uniform, and zero biases.
    "xavier": lambda seed, fan_in: {
        "kernel_initializer": tf.keras.initializers.GlorotUniform(seed=seed),
        "bias_initializer": "zeros"},
}


def _norm_layer(norm: str, name: str, fast: bool):
    if norm == "lrn":
        return (FastLocalResponseNorm if fast else LocalResponseNorm)(name=name)
    if norm == "batch":
        return (FusedBatchNorm if fast else tf.keras.layers.BatchNormalization)(name=name)
    if norm == "none":
        return None
    raise ValueError(f"unknown norm {norm!r}")


def _conv_block(x, i: int, filters: int, norm: str, keep_prob: float, weights: dict,
                seed: int, fast: bool, subset: tuple | None = None):
    """The original's conv block: convolution, max-pool, bias and ReLU; the normalisation;
    dropout."""
    name, size = f"layer{i + 1}", KERNEL_SIZES["conv"]
    if fast:
        x = ConvMaxPool(filters, size, *(subset or (None, None)), name=f"{name}_conv",
                        **weights)(x)
    else:
        x = tf.keras.layers.Conv2D(filters, size, padding="same", activation="relu",
                                   name=f"{name}_conv", **weights)(x)
        x = tf.keras.layers.MaxPool2D(3, strides=2, padding="same", name=f"{name}_pool")(x)
    norm_layer = _norm_layer(norm, f"{name}_norm", fast)
    if norm_layer is not None:
        x = norm_layer(x)
    if keep_prob < 1.0:
        x = tf.keras.layers.Dropout(1.0 - keep_prob, seed=seed, name=f"{name}_dropout")(x)
    return x


def _conv3_block(x, i: int, filters: int, weights: dict, fast: bool,
                 subset: tuple | None = None):
    """The ten-task paper's block: 3x3 convolution and ReLU, batch norm, 2x2 max-pool."""
    name = f"layer{i + 1}"
    options = dict(activation="relu", name=f"{name}_conv", **weights)
    size = KERNEL_SIZES["conv3"]
    x = (tf.keras.layers.Conv2D(filters, size, padding="same", **options) if subset is None
         else CarriedConv2D(filters, size, *subset, **options))(x)
    # PyTorch's default momentum (the paper's framework): running statistics that settle
    # within the few hundred steps of an early episode.
    norm = FusedBatchNorm if fast else tf.keras.layers.BatchNormalization
    x = norm(momentum=0.9, name=f"{name}_norm")(x)
    return tf.keras.layers.MaxPool2D(2, name=f"{name}_pool")(x)


def _dense(x, i: int, units: int, last: bool, weights: dict, carried: dict | None):
    """A dense layer, ReLU unless it gives the logits; the first fc layer on carried
    channels computes with those rows of its kernel alone (CarriedDense)."""
    options = dict(activation=None if last else "relu",
                   name=f"layer{i + 1}_logits" if last else f"layer{i + 1}_fc", **weights)
    if carried:
        return CarriedDense(units, **carried, **options)(x)
    return tf.keras.layers.Dense(units, **options)(x)


def build_model(network: Sequence[str], *, input_shape: tuple[int, int, int],
                num_classes: int = 10, conv_filters: int = 64, fc_units: int = 500,
                norm: str = "lrn", keep_prob: float = 0.9, seed: int = 0,
                init: str = "truncated-normal", task_signal: int = 0,
                heads: int = 1, carried: tuple[int, int] | None = None,
                kernels: str = "fast") -> tf.keras.Model:
    """Builds the network of `network` (see the module docstring); outputs are logits.

    With `task_signal` > 0 the model takes (images, one-hot task [B, task_signal]) and
    concatenates the one-hot to the first fc layer's input. With `heads` > 1 the output
    layer is one head per task on the shared layers below (hard parameter sharing): the
    model takes the one-hot task (of length `heads`) and answers with its task's head.

    `input_shape` is the declared input, all channels of the input style. With
    `carried` (start, stop), the images given carry only those channels, the others
    being zero for every task of the run: the first layer keeps its weights for every
    channel and computes with the carried ones (models.kernels.carried), the same
    function on less work; plain kernels take every channel.
    """
    network = parse_network(network)
    if kernels not in KERNELS:
        raise ValueError(f"unknown kernels {kernels!r}; use one of {KERNELS}")
    fast = kernels == "fast"
    if task_signal and heads > 1 and task_signal != heads:
        raise ValueError(f"a task signal of {task_signal} tasks with {heads} heads")
    channels = input_shape[-1]
    if carried is None or tuple(carried) == (0, channels):
        subset, carried_shape = None, input_shape
    elif not fast:
        raise ValueError("plain kernels take every input channel; give carried=None")
    else:
        start, stop = carried
        subset, carried_shape = (channels, (start, stop)), (*input_shape[:2], stop - start)
    images = tf.keras.Input(shape=carried_shape, name="images")
    inputs = images
    if task_signal or heads > 1:
        signal = tf.keras.Input(shape=(task_signal or heads,), name="task")
        inputs = (images, signal)
    x = images
    shapes = layer_shapes(network, input_shape=input_shape, conv_filters=conv_filters,
                          fc_units=fc_units, num_classes=num_classes, heads=heads,
                          task_signal=task_signal, norm=norm)  # Every channel, carried or not.
    for i, shape in enumerate(shapes):
        first = subset if i == 0 else None
        weights = INITIALIZERS[init](seed + i, shape.fan_in)
        if shape.kind == "conv":
            x = _conv_block(x, i, shape.outputs[-1], norm, keep_prob, weights, seed + i, fast,
                            first)
        elif shape.kind == "conv3":
            x = _conv3_block(x, i, shape.outputs[-1], weights, fast, first)
        else:
            if i == 0 or shapes[i - 1].kind != "fc":
                x = tf.keras.layers.Flatten(name=f"layer{i + 1}_flatten")(x)
                if task_signal:
                    x = tf.keras.layers.Concatenate(name=f"layer{i + 1}_task_signal")(
                        [x, signal])
            last = i == len(network) - 1
            x = _dense(x, i, shape.outputs[0], last, weights,
                       first and dict(image_shape=input_shape[:2], channels=first[0],
                                      carried=first[1], extra=task_signal))
            if last and heads > 1:
                x = TaskHead(heads, num_classes, name=f"layer{i + 1}_task_head")([x, signal])
    return tf.keras.Model(inputs, x, name="_".join(network).replace(":", "-"))


def signal_split(model: tf.keras.Model) -> tuple[tf.keras.Model, list] | None:
    """A model whose task signal joins the flattened image features (`layerN_task_signal`)
    and goes on in a chain of one-input layers to the logits, as (trunk, head): the trunk
    the model from the images to those features, which no task changes; the head the
    layers from the join on, the first called with [features, signal], each next with the
    one before's output. None for a model without a signal, or whose signal enters
    otherwise (a head per task)."""
    names = [layer.name for layer in model.layers]
    join = next((i for i, name in enumerate(names) if name.endswith("_task_signal")), None)
    if join is None:
        return None
    head = model.layers[join:]
    for before, layer in zip(head, head[1:]):
        if layer.input is not before.output:
            return None
    if head[-1].output is not model.output:
        return None
    features = head[0].input[0]
    return tf.keras.Model(model.inputs[0], features, name=f"{model.name}_trunk"), head


def every_head(model: tf.keras.Model) -> tf.keras.Model | None:
    """For a model with a head per task whose task signal enters only its TaskHead, the
    model from the images to every head's logits, [B, heads * classes], sharing its
    layers: one pass answers for every task, where the model answers for one task a
    pass. None for any other model."""
    last = model.layers[-1]
    if not isinstance(last, TaskHead) or last.output is not model.output:
        return None
    logits, signal = last.input
    if sum(any(x is signal for x in _inputs_of(layer)) for layer in model.layers) != 1:
        return None  # The signal enters another layer too: the heads' inputs differ.
    return tf.keras.Model(model.inputs[0], logits, name=f"{model.name}_every_head")


def _inputs_of(layer) -> list:
    if isinstance(layer, tf.keras.layers.InputLayer):
        return []
    inputs = layer.input
    return list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
