"""The per-example cross-entropy and correctness that every step and evaluation uses."""

import tensorflow as tf


def cross_entropies(logits: tf.Tensor, labels: tf.Tensor) -> tf.Tensor:
    return tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)


def correct(logits: tf.Tensor, labels: tf.Tensor) -> tf.Tensor:
    predictions = tf.argmax(logits, axis=-1, output_type=labels.dtype)
    return tf.cast(tf.equal(predictions, labels), tf.float32)
