"""DER++ (Buzzega et al. 2020), --derpp-buffer: dark experience replay whose buffer keeps the
labels too, trained on a second, independent draw of it (Mammoth's models/derpp.py)."""

from __future__ import annotations

from lazy import LazyModule
from seeds import derive_seed
from training.losses import cross_entropies
from training.methods.der import DER
from training.settings import setting

tf = LazyModule("tensorflow")


class DERPP(DER):
    """DER's buffer and term, the buffer keeping each example's label beside its inputs and
    logits; every step adds
        alpha * mean (f(x) - z)^2 on one draw + beta * mean CE(f(x'), y') on another,
    two draws of --derpp-batch examples each (as many as the buffer holds, up to that),
    made independently (each its own stateless seed), as Mammoth's two get_data calls; the
    second's logits, and the first's labels, are not read. No period hook: it runs on a
    task-free stream (MNIST-360)."""

    name = "derpp"
    description = ("DER++ (Buzzega et al. 2020): DER, and the cross-entropy on the labels of a "
                   "second, independent draw of its buffer")
    settings = {
        "derpp_buffer": setting(0, "method", bound="non-negative", zero="off", help=(
            "--mode switch: DER++ (Buzzega et al. 2020): DER's buffer of this many examples "
            "with their labels too; every step adds alpha times the logits' mean squared "
            "difference on one draw of it and beta times the cross-entropy on another's "
            "labels; 0: off")),
        "derpp_batch": setting(10, "method", bound="positive", help=(
            "--derpp-buffer: buffer examples in each of the two draws of a step, without "
            "replacement (Mammoth's minibatch_size)")),
        "derpp_alpha": setting(0.5, "method", bound="non-negative", help=(
            "--derpp-buffer: alpha, the weight of the logits' mean squared difference "
            "(Mammoth has no default)")),
        "derpp_beta": setting(0.5, "method", bound="non-negative", help=(
            "--derpp-buffer: beta, the weight of the second draw's cross-entropy (Mammoth "
            "has no default)")),
    }
    order = 160
    example = ("--derpp-buffer", "30")
    remedy = "lower --derpp-alpha, --derpp-beta or --learning-rate"
    keeps_labels, keeps_outputs = True, True

    def __init__(self, model: tf.keras.Model, size: int, batch: int, alpha: float, beta: float,
                 seed: int):
        super().__init__(model, size, batch, alpha, seed)
        self.beta = beta

    @classmethod
    def for_run(cls, config, model, tasks) -> "DERPP":
        return cls(model, config.derpp_buffer, config.derpp_batch, config.derpp_alpha,
                   config.derpp_beta, derive_seed(config.seed, cls.name))

    def replayed(self, model, labels: tf.Tensor, logits: tf.Tensor) -> tf.Tensor:
        """DER's term on one draw, and beta * the cross-entropy on another's labels."""
        matched = super().replayed(model, labels, logits)
        inputs, kept_labels, _ = self.buffer.take(
            self.buffer.draw(self.batch, self.draw_seed("second draw")))
        return matched + self.beta * tf.reduce_mean(
            cross_entropies(model(inputs, training=True), kept_labels))
