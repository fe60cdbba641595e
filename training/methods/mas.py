"""Memory aware synapses (Aljundi et al. 2018), --mas-lambda: a weight's importance is how much
the network's output moves with it on a task's examples, and the weights are held near
their value at the end of each period in proportion to it."""

from __future__ import annotations

import functools

from lazy import LazyModule
from seeds import derive_seed
from training.methods.base import TASK_PERIODS, Method
from training.settings import setting

tf = LazyModule("tensorflow")


class MAS(Method):
    """As a period ends: over the ended task's training examples, in batches of --batch, the
    mean over batches of |d mean(output^2) / d weight| (dropout off; the output the logits
    the model answers with) is added to each weight's importance, and the anchor moves
    to the weights; while later periods train, the loss carries lambda * sum_i
    importance_i (theta_i - anchor_i)^2 (Hsu et al. 2018's form, one running importance)."""

    name = "mas"
    description = ("memory aware synapses (Aljundi et al. 2018): each weight held near its "
                   "value at the last period's end by how much the network's output moves "
                   "with it")
    settings = {"mas_lambda": setting(0.0, "method", bound="non-negative", zero="off", help=(
        "--mode switch: memory aware synapses' strength (Aljundi et al. 2018): lambda * sum "
        "of importance * (weight - its value as the last period ended)^2, the importance "
        "how much the output moves with the weight; 0: off"))}
    needs = (TASK_PERIODS,)
    order = 80
    example = ("--mas-lambda", "1")
    remedy = "lower --mas-lambda or --learning-rate"

    def __init__(self, variables: list[tf.Variable], strength: float):
        self.strength = strength
        self.anchors = [tf.Variable(v, trainable=False) for v in variables]
        self.importance = [tf.Variable(tf.zeros_like(v), trainable=False) for v in variables]

    @classmethod
    def for_run(cls, config, model, tasks) -> "MAS":
        return cls(model.trainable_variables, config.mas_lambda)

    @property
    def state_variables(self) -> list[tf.Variable]:
        return [*self.anchors, *self.importance]

    def penalty(self, variables: list[tf.Variable]) -> tf.Tensor:
        return self.strength * tf.add_n([tf.reduce_sum(o * tf.square(v - a)) for o, v, a
                                         in zip(self.importance, variables, self.anchors)])

    def loss_term(self, model, inputs, labels, logits) -> tf.Tensor:
        return self.penalty(model.trainable_variables)

    def period_end(self, run, step: int) -> None:
        task = run.tasks[run.periods.task_index_at(step - 1)]
        size, batch = len(task.train), run.config.batch
        seed = derive_seed(run.config.seed, "mas", str(step))
        batches = (task.prepare(*task.train.take(tf.range(start, min(start + batch, size))),
                                tf.constant([seed, start], tf.int64))[0]
                   for start in range(0, size, batch))
        self.consolidate(output_sensitivity(run.model, batches, run.methods.train_logits),
                         run.model.trainable_variables)

    def consolidate(self, sensitivity: list[tf.Tensor], variables: list[tf.Variable]) -> None:
        for o, s, a, v in zip(self.importance, sensitivity, self.anchors, variables):
            o.assign_add(s)
            a.assign(v)


def output_sensitivity(model: tf.keras.Model, batches, train_logits=None) -> list[tf.Tensor]:
    """The mean over the input batches of |the gradient of mean(output^2)| for each trainable
    variable, dropout off; the mean over the outputs that `train_logits` leaves (a
    class-incremental run's seen classes, as Hsu et al. cut the output)."""
    totals, count = None, 0
    for inputs in batches:
        gradients = _compiled_output_gradients()(model, inputs,
                                                 train_logits or (lambda logits: logits))
        totals = gradients if totals is None else [t + g for t, g in zip(totals, gradients)]
        count += 1
    return [t / count for t in totals]


@functools.cache
def _compiled_output_gradients():
    """_absolute_output_gradients compiled, once, when first needed (not on import, which
    must not load TensorFlow)."""
    return tf.function(_absolute_output_gradients, reduce_retracing=True)


def _absolute_output_gradients(model, inputs, train_logits):
    with tf.GradientTape() as tape:
        outputs = train_logits(model(inputs, training=False))
        kept = tf.math.is_finite(outputs)  # Outputs left out are -inf.
        loss = (tf.reduce_sum(tf.square(tf.where(kept, outputs, 0.0)))
                / tf.reduce_sum(tf.cast(kept, tf.float32)))
    gradients = tape.gradient(loss, model.trainable_variables,
                              unconnected_gradients=tf.UnconnectedGradients.ZERO)
    return [tf.abs(g) for g in gradients]
