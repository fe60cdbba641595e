"""Elastic weight consolidation (Kirkpatrick et al. 2017), --ewc-lambda: each task's weights
held near their value at the end of its period, in proportion to its Fisher information."""

import numpy as np
import tensorflow as tf

from seeds import derive_seed
from training.losses import cross_entropies
from training.methods.base import Method

FISHER_EXAMPLES = 200  # Training examples whose squared gradients estimate a task's Fisher.


class EWC(tf.Module, Method):
    """(strength / 2) * sum over consolidated tasks other than the one training now of
    sum_i F_i (theta_i - theta*_i)^2.

    A task is consolidated at the end of each of its periods: its Fisher and anchor
    are replaced by the newest. The Fisher is the empirical one (squared gradients of
    each example's loss at its true label), from FISHER_EXAMPLES training examples."""

    remedy = ("lower --ewc-lambda or --learning-rate (EWC's penalty is stable while "
              "lambda x Fisher x learning rate stays below 2)")

    def __init__(self, variables: list[tf.Variable], tasks: int, strength: float):
        super().__init__(name="ewc")
        self.strength = strength
        self.fisher = [[tf.Variable(tf.zeros_like(v), trainable=False) for v in variables]
                       for _ in range(tasks)]
        self.anchors = [[tf.Variable(v, trainable=False) for v in variables]
                        for _ in range(tasks)]
        self.consolidated = tf.Variable(tf.zeros([tasks]), trainable=False)
        self.active = tf.Variable(-1, trainable=False)  # The task training now; -1: none.

    @classmethod
    def for_run(cls, config, model, tasks) -> "EWC":
        return cls(model.trainable_variables, len(tasks), config.ewc_lambda)

    @property
    def state_variables(self) -> list[tf.Variable]:
        return list(self.variables)

    def penalty(self, variables: list[tf.Variable]) -> tf.Tensor:
        weights = self.consolidated * (1.0 - tf.one_hot(self.active, len(self.fisher)))
        total = tf.constant(0.0)
        for weight, fisher, anchors in zip(tf.unstack(weights), self.fisher, self.anchors):
            total += weight * tf.add_n([tf.reduce_sum(f * tf.square(v - a))
                                        for f, v, a in zip(fisher, variables, anchors)])
        return 0.5 * self.strength * total

    def loss_term(self, model, inputs, labels, logits) -> tf.Tensor:
        return self.penalty(model.trainable_variables)

    def consolidate(self, task_index: int, fisher: list[tf.Tensor],
                    variables: list[tf.Variable]) -> None:
        for target, value in zip(self.fisher[task_index], fisher):
            target.assign(value)
        for anchor, variable in zip(self.anchors[task_index], variables):
            anchor.assign(variable)
        self.consolidated.assign(tf.tensor_scatter_nd_update(
            self.consolidated, [[task_index]], [1.0]))

    def period_end(self, run, step: int) -> None:
        """Consolidates the task whose period ran to `step`. (A checkpoint at a period's
        start is taken before this, so a run resumed there consolidates then, as the
        uninterrupted run did.)"""
        ended = run.periods.task_index_at(step - 1)
        task, seed = run.tasks[ended], run.config.seed
        rng = np.random.default_rng(derive_seed(seed, "fisher", str(step)))
        rows = rng.choice(len(task.train), min(FISHER_EXAMPLES, len(task.train)), replace=False)
        inputs, labels = task.prepare(*task.train.take(tf.constant(rows)),
                                      tf.constant([seed, step], tf.int64))
        self.consolidate(ended, diagonal_fisher(run.model, inputs, labels),
                         run.model.trainable_variables)

    def period_start(self, run, step: int) -> None:
        self.active.assign(run.periods.task_index_at(step))

    def summary(self, task_names) -> dict:
        consolidated = self.consolidated.numpy()
        return {"ewc_consolidated": [name for name, c in zip(task_names, consolidated) if c]}


def diagonal_fisher(model: tf.keras.Model, images, labels: tf.Tensor) -> list[tf.Tensor]:
    """The mean over examples of each trainable variable's squared per-example gradient of
    the cross-entropy (dropout off)."""
    return _diagonal_fisher(model, images, labels)


@tf.function
def _diagonal_fisher(model, images, labels):
    variables = model.trainable_variables
    sums = [tf.zeros_like(v) for v in variables]
    count = tf.shape(labels)[0]
    for i in tf.range(count):
        one = tf.nest.map_structure(lambda x: x[i:i + 1], images)
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(cross_entropies(model(one, training=False), labels[i:i + 1]))
        gradients = tape.gradient(loss, variables,
                                  unconnected_gradients=tf.UnconnectedGradients.ZERO)
        sums = [s + tf.square(g) for s, g in zip(sums, gradients)]
    return [s / tf.cast(count, tf.float32) for s in sums]
