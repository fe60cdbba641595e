"""The conv-net builder: a network spec such as `conv fc` becomes the original's Keras model.

A spec is a list of layer kinds, convolutions first, ending with the `fc` output
layer. Following the original code:
  conv  5x5 kernels with SAME padding and ReLU, 3x3 max-pool with stride 2, a
        normalisation (local response normalisation by default), dropout. The
        first conv has `conv_filters` filters and each later one twice as many
        (64 then 128 by default).
  fc    a dense layer: `fc_units` ReLU units (500 by default), or the 10-way
        logits when it is the last layer.
Weights start truncated-normal with stddev 0.1 and biases at 0.1.
"""

from typing import Sequence

import tensorflow as tf

from errors import UserError
from models.layers import LocalResponseNorm

LAYER_KINDS = ("conv", "fc")
NORMS = ("lrn", "batch", "none")
_SPEC_HELP = "use conv and fc, convs first, ending in fc (e.g. --network conv fc)"


def parse_network(spec: Sequence[str]) -> tuple[str, ...]:
    """Checks a network spec and returns it as a tuple; raises UserError naming the fix."""
    spec = tuple(spec)
    if not spec:
        raise UserError(f"--network is empty; {_SPEC_HELP}")
    for kind in spec:
        if kind not in LAYER_KINDS:
            raise UserError(f"unknown layer {kind!r} in --network {' '.join(spec)}; {_SPEC_HELP}")
    if spec[-1] != "fc":
        raise UserError(f"--network {' '.join(spec)} must end in fc, the output layer; {_SPEC_HELP}")
    if "conv" in spec[spec.index("fc"):]:
        raise UserError(f"--network {' '.join(spec)} has a conv after an fc; {_SPEC_HELP}")
    return spec


def _initializers(seed: int):
    return {"kernel_initializer": tf.keras.initializers.TruncatedNormal(stddev=0.1, seed=seed),
            "bias_initializer": tf.keras.initializers.Constant(0.1)}


def _norm_layer(norm: str, name: str):
    if norm == "lrn":
        return LocalResponseNorm(name=name)
    if norm == "batch":
        return tf.keras.layers.BatchNormalization(name=name)
    if norm == "none":
        return None
    raise UserError(f"unknown --norm {norm!r}; use one of: {', '.join(NORMS)}")


def build_model(network: Sequence[str], *, input_shape: tuple[int, int, int],
                num_classes: int = 10, conv_filters: int = 64, fc_units: int = 500,
                norm: str = "lrn", keep_prob: float = 0.9, seed: int = 0) -> tf.keras.Model:
    """Builds the network of `network` (see the module docstring); outputs are logits."""
    network = parse_network(network)
    layers = [tf.keras.Input(shape=input_shape, name="images")]
    for i, kind in enumerate(network):
        name = f"layer{i + 1}"
        if kind == "conv":
            layers += [
                tf.keras.layers.Conv2D(conv_filters * 2 ** i, 5, padding="same",
                                       activation="relu", name=f"{name}_conv",
                                       **_initializers(seed + i)),
                tf.keras.layers.MaxPool2D(3, strides=2, padding="same", name=f"{name}_pool"),
                _norm_layer(norm, f"{name}_norm"),
            ]
            if keep_prob < 1.0:
                layers.append(tf.keras.layers.Dropout(1.0 - keep_prob, seed=seed + i,
                                                      name=f"{name}_dropout"))
        else:
            last = i == len(network) - 1
            if i == 0 or network[i - 1] == "conv":
                layers.append(tf.keras.layers.Flatten(name=f"{name}_flatten"))
            layers.append(tf.keras.layers.Dense(
                num_classes if last else fc_units, activation=None if last else "relu",
                name=f"{name}_logits" if last else f"{name}_fc", **_initializers(seed + i)))
    return tf.keras.Sequential([layer for layer in layers if layer is not None],
                               name="_".join(network))
