"""L2 to the previous task's weights (--l2-lambda), the baseline of Hsu et al. 2018: every
weight is pulled toward its value at the end of the latest finished period, all alike."""

from __future__ import annotations

from lazy import LazyModule
from training.methods.base import TASK_PERIODS, Method
from training.settings import setting

tf = LazyModule("tensorflow")


class L2(Method):
    """strength * sum_i (theta_i - theta*_i)^2, theta* the weights as the latest period ended
    (one anchor, replaced at each period's end, as Hsu et al.'s `L2` agent keeps it; their
    form, without EWC's 1/2); no penalty before the first period ends."""

    name = "l2"
    description = ("L2 to the previous task's weights (the baseline of Hsu et al. 2018): every "
                   "weight pulled toward its value as the latest period ended")
    settings = {"l2_lambda": setting(0.0, "method", bound="non-negative", zero="off", help=(
        "--mode switch: L2's strength (Hsu et al. 2018): lambda * sum of (weight - its value "
        "as the last period ended)^2; 0: off"))}
    needs = (TASK_PERIODS,)
    order = 60
    example = ("--l2-lambda", "0.1")
    remedy = "lower --l2-lambda or --learning-rate"

    def __init__(self, variables: list[tf.Variable], strength: float):
        self.strength = strength
        self.anchors = [tf.Variable(v, trainable=False) for v in variables]
        self.anchored = tf.Variable(0.0, trainable=False)  # 1 once a period has ended.

    @classmethod
    def for_run(cls, config, model, tasks) -> "L2":
        return cls(model.trainable_variables, config.l2_lambda)

    @property
    def state_variables(self) -> list[tf.Variable]:
        return [*self.anchors, self.anchored]

    def penalty(self, variables: list[tf.Variable]) -> tf.Tensor:
        distance = tf.add_n([tf.reduce_sum(tf.square(v - a))
                             for v, a in zip(variables, self.anchors)])
        return self.anchored * self.strength * distance

    def loss_term(self, model, inputs, labels, logits) -> tf.Tensor:
        return self.penalty(model.trainable_variables)

    def period_end(self, run, step: int) -> None:
        for anchor, variable in zip(self.anchors, run.model.trainable_variables):
            anchor.assign(variable)
        self.anchored.assign(1.0)
