"""A floor on the memory a network needs, from its spec alone, so that a batch or a width
that cannot fit is refused before anything is built or written."""

import math
from typing import Sequence

from models.spec import LayerShape, layer_shapes

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
    layers = layer_shapes(network, input_shape=input_shape, conv_filters=conv_filters,
                          fc_units=fc_units, num_classes=num_classes, heads=heads,
                          task_signal=task_signal)
    weights = sum(layer.parameters for layer in layers)
    activations = math.prod(input_shape) + sum(map(_activations, layers))
    return FLOAT_BYTES * (WEIGHT_COPIES * weights + 2 * batch * activations)


def _activations(layer: LayerShape) -> int:
    """The values a layer keeps for one example."""
    if layer.kind == "fc":
        return 2 * layer.outputs[0]  # The product and its ReLU.
    convolved = math.prod(layer.inputs[:2]) * layer.outputs[-1]  # Before the pool.
    if layer.kind == "conv3":
        return 2 * convolved  # And batch norm's.
    return convolved + 3 * math.prod(layer.outputs)  # Pool, norm, dropout.
