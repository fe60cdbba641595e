"""Dark experience replay (DER, Buzzega et al. 2020), --der-buffer: a reservoir buffer that
keeps, with each example, the network's outputs for it as they were when it was stored; the
network's present outputs on a draw of the buffer are held to those (Mammoth's
models/der.py)."""

from __future__ import annotations

from lazy import LazyModule
from seeds import derive_seed
from training.methods.er import ER
from training.settings import setting

tf = LazyModule("tensorflow")


class DER(ER):
    """ER's reservoir buffer, filled after each update with the step's batch and the
    network's outputs (logits, every class's) for it from the step's forward pass, before
    the update: they are never computed again. Every step adds
        alpha * mean over the draw and the classes of (f(x) - z)^2,
    f(x) the network's present outputs on --der-batch examples drawn from the buffer (as
    many as it holds, up to that; nothing while it is empty) and z those kept with them
    (PyTorch's mse_loss, a mean over every element, as Mammoth's). The batch's own loss
    is the run's cross-entropy.

    As Mammoth's DER (and its arXiv-v1 code, hastings24/mammoth 4b26d48), the buffer keeps
    no labels. No period hook: it runs on a task-free stream (MNIST-360)."""

    name = "der"
    description = ("dark experience replay (Buzzega et al. 2020): a reservoir buffer keeping "
                   "each example's logits as stored, matched on a draw of it every step")
    settings = {
        "der_buffer": setting(0, "method", bound="non-negative", zero="off", help=(
            "--mode switch: dark experience replay (Buzzega et al. 2020): a reservoir buffer "
            "of this many of the examples trained on, with the network's logits for them as "
            "they were stored; every step adds alpha times the mean squared difference "
            "between the present logits and the kept ones on a draw of it; 0: off")),
        "der_batch": setting(10, "method", bound="positive", help=(
            "--der-buffer: buffer examples drawn each step, without replacement (Mammoth's "
            "minibatch_size)")),
        "der_alpha": setting(0.5, "method", bound="non-negative", help=(
            "--der-buffer: alpha, the weight of the logits' mean squared difference "
            "(Mammoth has no default; its best args for MNIST: 0.2 to 1)")),
    }
    order = 150
    example = ("--der-buffer", "30")
    remedy = "lower --der-alpha or --learning-rate"
    keeps_labels, keeps_outputs = False, True

    def __init__(self, model: tf.keras.Model, size: int, batch: int, alpha: float, seed: int):
        super().__init__(model, size, batch, seed)
        self.alpha = alpha

    @classmethod
    def for_run(cls, config, model, tasks) -> "DER":
        return cls(model, config.der_buffer, config.der_batch, config.der_alpha,
                   derive_seed(config.seed, cls.name))

    def replayed(self, model, labels: tf.Tensor, logits: tf.Tensor) -> tf.Tensor:
        """alpha * the mean squared difference of the logits on a draw of the buffer."""
        inputs, _, kept = self.buffer.take(self.buffer.draw(self.batch, self.draw_seed("draw")))
        return self.alpha * tf.reduce_mean(tf.square(model(inputs, training=True) - kept))
