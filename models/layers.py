"""Layers the original network uses that Keras lacks, written plainly: local response
normalisation (TensorFlow's op) and per-task heads (their fast forms: models.kernels); and
iCaRL's nearest-mean-of-exemplars classifier."""

import tensorflow as tf


class LocalResponseNorm(tf.keras.layers.Layer):
    """Local response normalisation across channels with the original's constants:
    x / (bias + alpha * sum of squares over the 2 * depth_radius + 1 nearest channels)
    ** beta, as tf.nn.local_response_normalization computes it."""

    def __init__(self, depth_radius: int = 4, bias: float = 1.0, alpha: float = 0.001 / 9.0,
                 beta: float = 0.75, **kwargs):
        super().__init__(**kwargs)
        self.depth_radius = depth_radius
        self.bias = bias
        self.alpha = alpha
        self.beta = beta

    def call(self, inputs):
        return tf.nn.local_response_normalization(inputs, self.depth_radius, self.bias,
                                                  self.alpha, self.beta)

    def get_config(self):
        return {**super().get_config(), "depth_radius": self.depth_radius, "bias": self.bias,
                "alpha": self.alpha, "beta": self.beta}


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


class NearestMean(tf.keras.layers.Layer):
    """iCaRL's nearest-mean-of-exemplars classifier on a network's features: inputs are the
    features [B, D] and the network's logits [B, classes]; the answer for class c is
    -||f - mean_c||^2 where c has a mean (`present` is 1), ABSENT for the others (never
    the nearest; an example of such a class has a test loss of about 1e30), and the
    network's own logits while no class has a mean. Its weights, the means and
    `present`, are set from outside (training.methods.icarl)."""

    ABSENT = -1e30

    def __init__(self, classes: int, **kwargs):
        super().__init__(**kwargs)
        self.classes = classes

    def build(self, input_shape):
        features_shape, _ = input_shape
        self.means = self.add_weight(name="means", shape=(self.classes, features_shape[-1]),
                                     initializer="zeros", trainable=False)
        self.present = self.add_weight(name="present", shape=(self.classes,),
                                       initializer="zeros", trainable=False)

    def call(self, inputs):
        features, logits = inputs
        means, present = tf.convert_to_tensor(self.means), tf.convert_to_tensor(self.present) > 0
        distances = tf.reduce_sum(tf.square(features[:, None, :] - means[None]), axis=-1)
        nearest = tf.where(present, -distances, self.ABSENT)
        return tf.where(tf.reduce_any(present), nearest, logits)

    def get_config(self):
        return {**super().get_config(), "classes": self.classes}
