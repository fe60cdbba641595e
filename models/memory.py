"""A floor on the memory a network needs, from its spec alone, so that a batch or a width
that cannot fit is refused before anything is built or written."""

import math
from typing import Sequence

from models.spec import parse_network, split_layer

FLOAT_BYTES = 4
# Copies of the weights a training step holds: the weights, their gradients, and up to
# two optimizer slots (Adam's moments).
WEIGHT_COPIES = 4


def memory_floor(network: Sequence[str], *, input_shape: tuple[int, int, int], batch: int,
                 conv_filters: int = 64, fc_units: int = 500, num_classes: int = 10,
                 heads: int = 1, task_signal: int = 0) -> int:
    """Bytes a training step needs at the least: the weights' copies, and each example's
    inputs and activations twice over (kept for the backward pass, and their gradients).
    It counts less than TensorFlow uses (workspace, fragmentation), never more."""
    height, width, channels = input_shape
    weights, activations = 0, height * width * channels
    spec = parse_network(network)
    for i, layer in enumerate(spec):
        kind, size = split_layer(layer)
        if kind == "conv":  # 5x5 SAME conv, 3x3 max-pool stride 2: conv and pooled values.
            filters = size or conv_filters * 2 ** i
            weights += 25 * channels * filters + filters
            pooled = math.ceil(height / 2) * math.ceil(width / 2) * filters
            activations += height * width * filters + 3 * pooled  # Pool, norm, dropout.
            height, width, channels = math.ceil(height / 2), math.ceil(width / 2), filters
        elif kind == "conv3":  # 3x3 conv, batch norm, 2x2 max-pool.
            filters = size or conv_filters
            weights += 9 * channels * filters + 3 * filters
            activations += 2 * height * width * filters
            height, width, channels = height // 2, width // 2, filters
        else:
            first_fc = i == 0 or not spec[i - 1].startswith("fc")  # Where the signal joins.
            inputs = height * width * channels + (task_signal if first_fc else 0)
            units = num_classes * heads if i == len(spec) - 1 else size or fc_units
            weights += inputs * units + units
            activations += 2 * units
            height, width, channels = 1, 1, units
    return FLOAT_BYTES * (WEIGHT_COPIES * weights + 2 * batch * activations)
