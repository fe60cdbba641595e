"""The network grammar: a spec such as `conv fc` or `conv:32 fc:100 fc`, checked and expanded,
and the shape of each layer it builds.

TensorFlow-free, so that a RunConfig can be made and checked (a sweep planned)
without loading it; models.builder turns a checked spec into a Keras model, whose
layers layer_shapes describes (the memory floor and the benchmark's FLOP counts
read them there).
"""

import dataclasses
import math
from typing import Sequence

from errors import UserError

LAYER_KINDS = ("conv", "conv3", "fc")
KERNEL_SIZES = {"conv": 5, "conv3": 3}  # The side of each conv kind's square kernel.
NORMS = ("lrn", "batch", "none")
KERNELS = ("fast", "plain")  # How the layers compute: see models.builder.
INITS = ("truncated-normal", "he", "pytorch", "xavier")
NETWORKS = {
    "shapes-paper": ("conv3:16", "conv3:32", "conv3:48", "conv3:64",
                     "fc:512", "fc:512", "fc:512", "fc:512", "fc"),
}
_SPEC_HELP = ("use conv, conv3 and fc (each optionally :WIDTH), convs first, ending in fc "
              f"(e.g. --network conv fc), or a named network: {', '.join(NETWORKS)}")


def split_layer(layer: str) -> tuple[str, int | None]:
    """'fc:512' -> ('fc', 512); 'conv' -> ('conv', None); raises ValueError saying what is
    malformed."""
    kind, _, width = layer.partition(":")
    if kind not in LAYER_KINDS:
        raise ValueError(f"unknown layer {layer!r}")
    if not width:
        return kind, None
    if not width.isdigit() or int(width) <= 0:
        raise ValueError(f"the width of {layer!r} must be a positive whole number")
    return kind, int(width)


def parse_network(spec: Sequence[str]) -> tuple[str, ...]:
    """Checks a network spec (a named network expanded) and returns it as a tuple; raises
    UserError naming the fix."""
    spec = tuple(spec)
    if len(spec) == 1 and spec[0] in NETWORKS:
        spec = NETWORKS[spec[0]]
    if not spec:
        raise UserError(f"--network is empty; {_SPEC_HELP}")
    kinds = []
    for layer in spec:
        try:
            kinds.append(split_layer(layer)[0])
        except ValueError as e:
            raise UserError(f"{e} in --network {' '.join(spec)}; {_SPEC_HELP}") from None
    if kinds[-1] != "fc":
        raise UserError(f"--network {' '.join(spec)} must end in fc, the output layer; "
                        f"{_SPEC_HELP}")
    if split_layer(spec[-1])[1] is not None:
        raise UserError(f"--network {' '.join(spec)}: the output layer's width is the number "
                        f"of classes; write plain fc last")
    if any(kind.startswith("conv") for kind in kinds[kinds.index("fc"):]):
        raise UserError(f"--network {' '.join(spec)} has a conv after an fc; {_SPEC_HELP}")
    return spec


@dataclasses.dataclass(frozen=True)
class LayerShape:
    """One layer of a network, for one example: the shape it takes and the shape it gives,
    (height, width, channels) for a conv block and (features,) for an fc layer; the inputs
    of each of its units (fan_in); its trainable parameters; and the multiply-adds of its
    convolution or matrix product."""

    layer: str
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    fan_in: int
    parameters: int
    multiply_adds: int

    @property
    def kind(self) -> str:
        return split_layer(self.layer)[0]


def layer_shapes(network: Sequence[str], *, input_shape: tuple[int, int, int],
                 conv_filters: int = 64, fc_units: int = 500, num_classes: int = 10,
                 heads: int = 1, task_signal: int = 0, norm: str = "lrn") -> list[LayerShape]:
    """The layers models.builder builds for `network` with these options, in order. Widths
    not given: a conv's `conv_filters * 2 ** i` (i its index), a conv3's `conv_filters`,
    an fc's `fc_units`; the last fc gives a logit a class for each of `heads`; the task
    signal's `task_signal` values join the flattened features at the first fc."""
    spec = parse_network(network)
    shape, layers = tuple(input_shape), []
    for i, layer in enumerate(spec):
        kind, width = split_layer(layer)
        if kind == "fc":
            signal = task_signal if not layers or layers[-1].kind != "fc" else 0
            units = num_classes * heads if i == len(spec) - 1 else width or fc_units
            layers.append(_dense_shape(layer, math.prod(shape) + signal, units))
        else:
            default = conv_filters * 2 ** i if kind == "conv" else conv_filters
            layers.append(_conv_shape(layer, shape, width or default, norm))
        shape = layers[-1].outputs
    return layers


def _dense_shape(layer: str, features: int, units: int) -> LayerShape:
    return LayerShape(layer, (features,), (units,), features, features * units + units,
                      features * units)


def _conv_shape(layer: str, shape: tuple[int, ...], filters: int, norm: str) -> LayerShape:
    """A conv block: a SAME convolution with bias, then its pool (conv: 3x3 stride 2 SAME,
    each side halved rounded up; conv3: 2x2, rounded down). Batch norm (conv3's, or a
    conv's with that norm) adds a scale and an offset a filter."""
    kind = split_layer(layer)[0]
    height, width, channels = shape
    fan_in = KERNEL_SIZES[kind] ** 2 * channels
    if kind == "conv":
        pooled = (-(-height // 2), -(-width // 2))
    else:
        pooled = (height // 2, width // 2)
    scale_offset = 2 * filters if kind == "conv3" or norm == "batch" else 0
    return LayerShape(layer, shape, (*pooled, filters), fan_in,
                      fan_in * filters + filters + scale_offset,
                      height * width * fan_in * filters)
