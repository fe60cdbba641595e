"""Averaged gradient episodic memory (Chaudhry et al. 2019), --agem-memory: a memory of past
tasks' training examples; a step whose gradient would raise the loss on a batch of the
memory is projected so that it does not."""

from __future__ import annotations

import numpy as np

from lazy import LazyModule
from seeds import derive_seed
from training.methods.base import TASK_PERIODS, Method
from training.methods.replay import buffer_at
from training.settings import setting

tf = LazyModule("tensorflow")
task_module = LazyModule("tasks.task")


class AGEM(Method):
    """g, the batch's gradient, and g_ref, the gradient of the training loss on --agem-batch
    examples drawn from the memory without replacement (fresh each step): if g . g_ref < 0
    the update applies g - (g . g_ref / g_ref . g_ref) g_ref, else g. The memory holds
    --agem-memory examples shared equally among the tasks whose periods have ended
    (replay's buffer: each task keeps a prefix of its own fixed random order)."""

    name = "agem"
    description = ("averaged gradient episodic memory (Chaudhry et al. 2019): a step that would "
                   "raise the loss on a batch of past tasks' remembered examples is projected "
                   "so it does not")
    settings = {
        "agem_memory": setting(0, "method", bound="non-negative", zero="off", help=(
            "--mode switch: A-GEM (Chaudhry et al. 2019): keep this many training examples "
            "of past tasks (shared equally); a step that would raise the loss on a batch of "
            "them is projected so that it does not; 0: off")),
        "agem_batch": setting(256, "method", bound="positive", help=(
            "--agem-memory: memory examples each step's reference gradient is taken on (the "
            "paper's 256)")),
    }
    needs = (TASK_PERIODS,)
    excludes = {"gem": "both project the gradient"}
    order = 110
    example = ("--agem-memory", "30", "--agem-batch", "8")

    def __init__(self, tasks: list, memory: int, batch: int, seed: int):
        self.tasks, self.memory, self.batch = list(tasks), memory, batch
        self.seed = derive_seed(seed, "agem")
        self.task_ids = tf.Variable(tf.zeros([0], tf.int32), shape=tf.TensorShape([None]),
                                    trainable=False)
        self.example_ids = tf.Variable(tf.zeros([0], tf.int64), shape=tf.TensorShape([None]),
                                       trainable=False)

    @classmethod
    def for_run(cls, config, model, tasks) -> "AGEM":
        return cls(tasks, config.agem_memory, config.agem_batch, config.seed)

    @property
    def state_variables(self) -> list[tf.Variable]:
        return [self.task_ids, self.example_ids]

    def period_end(self, run, step: int) -> None:
        """The memory as the next period starts: the ended tasks' shares."""
        period = run.periods.period_at(step)[0]
        kept = buffer_at(run.periods, period, self.memory,
                         [len(task.train) for task in run.tasks], run.config.seed)
        self.task_ids.assign(np.concatenate(
            [np.full(len(ids), t, np.int32) for t, ids in kept.items()]))
        self.example_ids.assign(np.concatenate(list(kept.values())).astype(np.int64))

    def adjust_gradients(self, model, gradients, step, training_loss):
        size = tf.shape(self.task_ids)[0]
        return tf.cond(size > 0,
                       lambda: self._projected(model, gradients, step, training_loss, size),
                       lambda: list(gradients))

    def _projected(self, model, gradients, step, training_loss, size):
        seed = tf.stack([tf.constant(self.seed, tf.int64), tf.cast(step, tf.int64)])
        rows = tf.random.experimental.stateless_shuffle(tf.range(size), seed)[:self.batch]
        return project_off(gradients, self.memory_gradient(model, rows, seed, training_loss))

    def memory_gradient(self, model, rows: tf.Tensor, seed: tf.Tensor,
                        training_loss) -> list[tf.Tensor]:
        """The gradient of the training loss on the memory's examples at `rows`."""
        inputs, labels = task_module.mixed_batch(self.tasks, tf.gather(self.task_ids, rows),
                                                 tf.gather(self.example_ids, rows), seed)
        with tf.GradientTape() as tape:
            loss = training_loss(model, inputs, labels)
        return tape.gradient(loss, model.trainable_variables,
                             unconnected_gradients=tf.UnconnectedGradients.ZERO)


def project_off(gradients: list[tf.Tensor], reference: list[tf.Tensor]) -> list[tf.Tensor]:
    """g - (g . r / r . r) r when g . r < 0 (the update would raise the reference loss),
    else g; g and r lists of tensors taken as one vector each."""
    dot = tf.add_n([tf.reduce_sum(g * r) for g, r in zip(gradients, reference)])
    norm = tf.add_n([tf.reduce_sum(r * r) for r in reference])
    scale = tf.where(dot < 0, dot / tf.maximum(norm, 1e-30), 0.0)
    return [g - scale * r for g, r in zip(gradients, reference)]
