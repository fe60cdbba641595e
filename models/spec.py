"""The network grammar: a spec such as `conv fc` or `conv:32 fc:100 fc`, checked and expanded.

TensorFlow-free, so that a RunConfig can be made and checked (a sweep planned)
without loading it; models.builder turns a checked spec into a Keras model.
"""

from typing import Sequence

from errors import UserError

LAYER_KINDS = ("conv", "conv3", "fc")
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
