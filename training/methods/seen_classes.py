"""Class-incremental training (--loss-classes seen): the training loss over the classes of
the tasks trained so far, as Hsu et al. 2018 trained their class-incremental scenario
(the output layer cut to the classes seen) and van de Ven and Tolias 2019 ("active
classes"). Evaluation reads every class."""

import tensorflow as tf

from tasks.registry import TASKS
from training.methods.base import Method


class SeenClasses(tf.Module, Method):
    """Logits of classes no task has trained yet are set to -inf for the loss, so they take
    no probability and no gradient; a period's start adds its task's classes."""

    def __init__(self, task_classes: list[tuple[int, ...]], classes: int):
        super().__init__(name="seen_classes")
        self.task_classes = task_classes
        self.seen = tf.Variable(tf.zeros([classes], tf.bool), trainable=False)

    @classmethod
    def for_run(cls, config, model, tasks) -> "SeenClasses":
        return cls([TASKS[task.name].classes_of(config.labels) for task in tasks],
                   model.output_shape[-1])

    @property
    def state_variables(self) -> list[tf.Variable]:
        return [self.seen]

    def train_logits(self, logits: tf.Tensor) -> tf.Tensor:
        return tf.where(self.seen, logits, tf.constant(-float("inf"), logits.dtype))

    def period_start(self, run, step: int) -> None:
        classes = self.task_classes[run.periods.task_index_at(step)]
        self.seen.assign(tf.tensor_scatter_nd_update(
            self.seen, [[c] for c in classes], [True] * len(classes)))
