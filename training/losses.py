"""The per-example cross-entropy and correctness that every step and evaluation uses.
(TensorFlow is loaded at first use: the training methods' files import this one and must
import without it.)"""

from __future__ import annotations

from lazy import LazyModule

tf = LazyModule("tensorflow")


def cross_entropies(logits: tf.Tensor, labels: tf.Tensor) -> tf.Tensor:
    return tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)


def correct(logits: tf.Tensor, labels: tf.Tensor) -> tf.Tensor:
    predictions = tf.argmax(logits, axis=-1, output_type=labels.dtype)
    return tf.cast(tf.equal(predictions, labels), tf.float32)
