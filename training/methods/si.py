"""Synaptic intelligence (Zenke, Poole and Ganguli 2017), --si-c: each weight's importance is
how much it moved the loss along its path while a task trained, and the weights are held
near their value at the end of each period in proportion to it."""

from __future__ import annotations

from lazy import LazyModule
from training.methods.base import TASK_PERIODS, Method
from training.settings import setting

tf = LazyModule("tensorflow")


class SI(Method):
    """While a task trains, each update adds -g * (its change of the weight) to the weight's
    path integral w, g the gradient of the batch's plain loss (as Hsu et al. 2018's
    implementation takes it). As a period ends, the importance grows by
    w / ((the weight's change over the period)^2 + damping), w restarts at zero and the
    anchor moves to the weight's present value; while later periods train, the loss
    carries c * sum_i importance_i (theta_i - anchor_i)^2 (Hsu et al.'s form, one running
    importance and anchor: Zenke et al.'s online SI)."""

    name = "si"
    description = ("synaptic intelligence (Zenke et al. 2017): each weight held near its value "
                   "at the last period's end by how much its path moved the loss while tasks "
                   "trained")
    settings = {
        "si_c": setting(0.0, "method", bound="non-negative", zero="off", help=(
            "--mode switch: synaptic intelligence's strength c (Zenke et al. 2017): c * sum "
            "of importance * (weight - its value as the last period ended)^2; 0: off")),
        "si_damping": setting(0.1, "method", bound="positive", help=(
            "--si-c: the damping xi of each importance, w / (change^2 + xi) (Hsu et al. "
            "2018's value)")),
    }
    needs = (TASK_PERIODS,)
    order = 70
    example = ("--si-c", "1")
    needs_loss_gradients = True
    remedy = "lower --si-c or --learning-rate"

    def __init__(self, variables: list[tf.Variable], strength: float, damping: float = 0.1):
        self.strength, self.damping = strength, damping

        def copies(initial):
            return [tf.Variable(initial(v), trainable=False) for v in variables]

        self.path = copies(tf.zeros_like)  # w: this period's path integral.
        self.previous = copies(tf.identity)  # The weights before the latest update.
        self.anchors = copies(tf.identity)  # The weights as the last period ended (at first,
        #                                      their initial values).
        self.importance = copies(tf.zeros_like)

    @classmethod
    def for_run(cls, config, model, tasks) -> "SI":
        return cls(model.trainable_variables, config.si_c, config.si_damping)

    @property
    def state_variables(self) -> list[tf.Variable]:
        return [*self.path, *self.previous, *self.anchors, *self.importance]

    def penalty(self, variables: list[tf.Variable]) -> tf.Tensor:
        return self.strength * tf.add_n([tf.reduce_sum(o * tf.square(v - a)) for o, v, a
                                         in zip(self.importance, variables, self.anchors)])

    def loss_term(self, model, inputs, labels, logits) -> tf.Tensor:
        return self.penalty(model.trainable_variables)

    def after_update(self, model, loss_gradients) -> None:
        for w, previous, v, g in zip(self.path, self.previous, model.trainable_variables,
                                     loss_gradients):
            w.assign_sub(g * (v - previous))
            previous.assign(v)

    def period_end(self, run, step: int) -> None:
        self.consolidate(run.model.trainable_variables)

    def consolidate(self, variables: list[tf.Variable]) -> None:
        """The period has ended: its path integrals become importance."""
        for o, w, a, v in zip(self.importance, self.path, self.anchors, variables):
            o.assign_add(w / (tf.square(v - a) + self.damping))
            w.assign(tf.zeros_like(w))
            a.assign(v)
