"""Joint training (--mode joint): every step one batch of each task, their losses summed,
weighted equally, by fixed weights or by learned uncertainty (Kendall, Gal and Cipolla
2018), optionally with PCGrad's gradient surgery (Yu et al. 2020)."""

from __future__ import annotations

import math

from errors import UserError
from lazy import LazyModule
from training.losses import correct, cross_entropies
from training.methods.base import SWITCH_SCHEDULE, Method
from training.settings import setting

tf = LazyModule("tensorflow")


class JointTraining(Method):
    """One batch from every task, run together: the weighted sum of the tasks' mean
    cross-entropies. Weighting "equal" sums them; "fixed" multiplies each by its given
    weight; "uncertainty" learns s_t = log sigma_t^2 per task and minimises
    sum_t exp(-s_t) L_t + s_t / 2 (Kendall et al. 2018, their classification form). With
    `pcgrad`, each task's batch runs forward on its own, each task's gradient of its
    weighted term is projected off the normal plane of every other task's it
    conflicts with (negative dot product), the others taken in a random order each
    step, and the projections are summed."""

    name = "joint"
    description = ("every step sums the losses of one batch of each task, weighted equally, by "
                   "fixed weights or by learned uncertainty (Kendall et al. 2018), optionally "
                   "with PCGrad's gradient surgery (Yu et al. 2020)")
    mode = "joint"
    settings = {
        "loss_weighting": setting(
            "equal", "method", "--mode joint: equal (a plain sum), fixed (--loss-weights) or "
            "uncertainty (learned per-task weights, Kendall et al. 2018)",
            choices=("equal", "fixed", "uncertainty")),
        "loss_weights": setting(
            None, "method", "--loss-weighting fixed: one weight per task, in --tasks order",
            type=tuple[float, ...] | None, metavar="W", shown="none",
            example=("--loss-weighting", "fixed", "--loss-weights", "1", "0.5")),
        "pcgrad": setting(
            False, "method", "--mode joint: PCGrad (Yu et al. 2020): project each task's "
            "gradient off the ones it conflicts with before summing"),
    }
    needs = (SWITCH_SCHEDULE,)
    order = 10
    example = ("--mode", "joint", "--loss-weighting", "uncertainty", "--pcgrad")
    stream = "joint"

    @classmethod
    def check(cls, config) -> None:
        if config.mode != "joint" and (config.loss_weighting != "equal" or config.pcgrad):
            raise UserError("--loss-weighting and --pcgrad weigh and combine the tasks' losses "
                            "of joint training; add --mode joint")
        weights = config.loss_weights
        if (config.loss_weighting == "fixed") != (weights is not None):
            raise UserError("--loss-weights goes with --loss-weighting fixed, and that needs "
                            "it: one weight per task")
        if weights is not None and (len(weights) != len(config.tasks)
                                    or not all(math.isfinite(w) and w >= 0 for w in weights)):
            raise UserError(f"--loss-weights needs {len(config.tasks)} non-negative numbers, "
                            f"one per task, got {' '.join(map(str, weights))}")

    def __init__(self, tasks: int, weighting: str = "equal",
                 weights: tuple[float, ...] | None = None, pcgrad: bool = False, seed: int = 0):
        self.tasks, self.pcgrad, self.seed = tasks, pcgrad, seed
        self.weights = tf.constant(weights if weighting == "fixed" else [1.0] * tasks,
                                   tf.float32)
        self.log_variances = (tf.Variable(tf.zeros([tasks]), name="task_log_variances")
                              if weighting == "uncertainty" else None)

    @classmethod
    def for_run(cls, config, model, tasks) -> "JointTraining":
        return cls(len(tasks), config.loss_weighting, config.loss_weights,
                   pcgrad=config.pcgrad, seed=config.seed)

    @property
    def trained_variables(self) -> list[tf.Variable]:
        return [self.log_variances] if self.log_variances is not None else []

    @property
    def state_variables(self) -> list[tf.Variable]:
        return self.trained_variables

    def summary(self, task_names) -> dict:
        """Fields for summary.json: the learned weights exp(-s_t) of uncertainty weighting."""
        if self.log_variances is None:
            return {}
        weights = tf.exp(-self.log_variances).numpy()
        return {"learned_loss_weights": dict(zip(task_names, map(float, weights)))}

    def weighted(self, losses: tf.Tensor, task: int | None = None) -> tf.Tensor:
        """The terms of the total loss from the tasks' mean cross-entropies [tasks], or
        task `task`'s term alone from its loss."""
        pick = (lambda values: values) if task is None else (lambda values: values[task])
        if self.log_variances is None:
            return pick(self.weights) * losses
        log_variances = pick(self.log_variances)
        return tf.exp(-log_variances) * losses + 0.5 * log_variances

    def gradients(self, model: tf.keras.Model, batch, step: tf.Tensor | None = None):
        """(gradients, variables, loss, accuracy) of one batch per task; loss is the mean of
        the tasks' cross-entropies. `step` seeds PCGrad's order."""
        if self.pcgrad:
            return self._surgery_gradients(model, batch, step)
        inputs = tf.nest.map_structure(lambda *parts: tf.concat(parts, 0),
                                       *[inputs for inputs, _ in batch])
        labels = tf.concat([labels for _, labels in batch], 0)
        variables = model.trainable_variables + self.trained_variables
        with tf.GradientTape() as tape:
            logits = model(inputs, training=True)
            task_losses = tf.reduce_mean(
                tf.reshape(cross_entropies(logits, labels), [self.tasks, -1]), axis=1)
            total = tf.reduce_sum(self.weighted(task_losses))
        return (tape.gradient(total, variables), variables, tf.reduce_mean(task_losses),
                tf.reduce_mean(correct(logits, labels)))

    def _surgery_gradients(self, model, batch, step):
        """PCGrad: each task's batch forward and backward on its own (a gradient per task
        through one pass over the stacked batches would backpropagate every batch for
        each task), the task gradients projected, then summed."""
        shared = model.trainable_variables
        terms, task_losses, right = [], [], []
        with tf.GradientTape(persistent=True) as tape:
            for t, (inputs, labels) in enumerate(batch):
                logits = model(inputs, training=True)
                loss = tf.reduce_mean(cross_entropies(logits, labels))
                terms.append(self.weighted(loss, t))
                task_losses.append(loss)
                right.append(tf.reduce_mean(correct(logits, labels)))
            total = tf.add_n(terms)
        by_task = [tape.gradient(term, shared, unconnected_gradients=tf.UnconnectedGradients.ZERO)
                   for term in terms]
        flat = tf.stack([tf.concat([tf.reshape(g, [-1]) for g in grads], 0)
                         for grads in by_task])
        seed = tf.stack([tf.constant(self.seed, tf.int64),
                         tf.cast(step if step is not None else 0, tf.int64)])
        combined = tf.reduce_sum(project_conflicting(flat, seed), axis=0)
        sizes = [v.shape.num_elements() for v in shared]
        gradients = [tf.reshape(part, v.shape)
                     for part, v in zip(tf.split(combined, sizes), shared)]
        if self.trained_variables:
            gradients += tape.gradient(total, self.trained_variables)
        del tape
        return (gradients, shared + self.trained_variables, tf.reduce_mean(tf.stack(task_losses)),
                tf.reduce_mean(tf.stack(right)))


def project_conflicting(gradients: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
    """PCGrad: for each row g_t of gradients [tasks, parameters], in a random order over the
    other rows g_j, g_t -= min(g_t . g_j, 0) / |g_j|^2 * g_j. Returns the projected rows."""
    tasks = gradients.shape[0]
    projected = []
    for t in range(tasks):
        order = tf.argsort(tf.random.stateless_uniform(
            [tasks], tf.stack([seed[0], seed[1] * tasks + t])))
        row = gradients[t]
        for k in range(tasks):
            j = order[k]
            other = tf.gather(gradients, j)
            dot = tf.reduce_sum(row * other)
            coefficient = tf.minimum(dot, 0.0) / (tf.reduce_sum(tf.square(other)) + 1e-20)
            row = row - tf.cast(j != t, tf.float32) * coefficient * other
        projected.append(row)
    return tf.stack(projected)
