"""Batch normalisation as TensorFlow's fused kernel: Keras's BatchNormalization, the same
function and statistics, in one kernel forward and one backward."""

import tensorflow as tf


class FusedBatchNorm(tf.keras.layers.BatchNormalization):
    """Keras's BatchNormalization (its weights, their names and its moving averages) whose
    call on a batch of images is TensorFlow's FusedBatchNormV3 and its gradient kernel.

    Keras composes the normalisation of a dozen element-wise kernels and reductions,
    and autodiff differentiates each: on a CPU that was a third of the ten-task
    paper's training step. The fused kernel computes the same function: the batch's
    mean and biased variance over all but the channels, (x - mean) / sqrt(variance +
    epsilon) * gamma + beta, and the exact gradient of it. The kernel returns the
    variance with Bessel's correction (for the moving average, as TF1's layer kept
    it); Keras's moving variance averages the biased one, so it is taken back.
    Anything else (another axis, a mask, another rank or dtype) is Keras's own call."""

    def call(self, inputs, training=None, mask=None):
        if (mask is not None or inputs.shape.rank != 4 or self.axis not in (-1, 3)
                or inputs.dtype != tf.float32 or not (self.scale and self.center)
                or self.renorm or self.synchronized):
            return super().call(inputs, training=training, mask=mask)
        if not (training and self.trainable):
            return tf.compat.v1.nn.fused_batch_norm(
                inputs, self.gamma, self.beta, self.moving_mean, self.moving_variance,
                epsilon=self.epsilon, is_training=False)[0]
        outputs, mean, variance = tf.compat.v1.nn.fused_batch_norm(
            inputs, self.gamma, self.beta, epsilon=self.epsilon, is_training=True)[:3]
        count = tf.cast(tf.reduce_prod(tf.shape(inputs)[:-1]), variance.dtype)
        variance = variance * ((count - 1.0) / count)  # Bessel's correction taken back.
        momentum = self.momentum
        self.moving_mean.assign(self.moving_mean * momentum
                                + tf.stop_gradient(mean) * (1.0 - momentum))
        self.moving_variance.assign(self.moving_variance * momentum
                                    + tf.stop_gradient(variance) * (1.0 - momentum))
        return outputs
