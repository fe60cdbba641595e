"""The plain reference: the original network from standard Keras layers, the same maths.

Conv2D with bias and ReLU, MaxPool2D, tf.nn.local_response_normalization, Dropout,
Flatten, Dense, in the original's order, fed float32 images by tf.data: how one
would write the network without this project. `copy_weights` gives it the
project model's weights, so the two can be compared output for output.
"""

from typing import Sequence

import numpy as np
import tensorflow as tf

from models import parse_network


def build_reference(network: Sequence[str], *, input_shape: tuple[int, int, int],
                    num_classes: int = 10, conv_filters: int = 64, fc_units: int = 500,
                    keep_prob: float = 0.9, seed: int = 0) -> tf.keras.Model:
    """The original network of `network` (conv and fc layers, LRN) from standard layers."""
    network = parse_network(network)
    layers = [tf.keras.Input(shape=input_shape)]
    for i, kind in enumerate(network):
        if kind == "conv":
            layers += [
                tf.keras.layers.Conv2D(conv_filters * 2 ** i, 5, padding="same",
                                       activation="relu"),
                tf.keras.layers.MaxPool2D(3, strides=2, padding="same"),
                tf.keras.layers.Lambda(lambda x: tf.nn.local_response_normalization(
                    x, depth_radius=4, bias=1.0, alpha=0.001 / 9.0, beta=0.75)),
                tf.keras.layers.Dropout(1.0 - keep_prob, seed=seed + i),
            ]
        else:
            last = i == len(network) - 1
            if i == 0 or network[i - 1] == "conv":
                layers.append(tf.keras.layers.Flatten())
            layers.append(tf.keras.layers.Dense(num_classes if last else fc_units,
                                                activation=None if last else "relu"))
    return tf.keras.Sequential(layers)


def copy_weights(project: tf.keras.Model, reference: tf.keras.Model) -> None:
    """Sets the reference's weights to the project model's: each conv and dense layer's
    kernel and bias, in order."""
    values = []
    for layer in project.layers:
        if hasattr(layer, "kernel"):
            values += [layer.kernel.numpy(), layer.bias.numpy()]
    reference.set_weights([np.asarray(v) for v in values])
