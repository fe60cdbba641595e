"""Class-incremental training (--loss-classes seen): the training loss over the classes of
the tasks trained so far, as Hsu et al. 2018 trained their class-incremental scenario
(the output layer cut to the classes seen) and van de Ven and Tolias 2019 ("active
classes"). Evaluation reads every class."""

from __future__ import annotations

from errors import UserError
from lazy import LazyModule
from tasks.registry import TASKS
from training.methods.base import TASK_BOUNDARIES, Method
from training.settings import setting

tf = LazyModule("tensorflow")


class SeenClasses(Method):
    """Logits of classes no task has trained yet are set to -inf for the loss, so they take
    no probability and no gradient; a period's start adds its task's classes."""

    name = "seen-classes"
    description = ("the training loss over the classes of the tasks trained so far, the other "
                   "logits left out (class-incremental training, as Hsu et al. 2018)")
    settings = {"loss_classes": setting("all", "method", choices=("all", "seen"), help=(
        "all: the training loss over every output class; seen: over the classes of the "
        "tasks trained so far, the others' logits left out (class-incremental training, as "
        "Hsu et al. 2018)"))}
    needs = (TASK_BOUNDARIES,)  # Its classes grow as each period starts.
    order = 40
    example = ("--scenario", "class")

    @classmethod
    def used(cls, config) -> bool:
        # Offline training sees every class from its first step.
        return config.loss_classes == "seen" and config.mode == "switch"

    @classmethod
    def check(cls, config) -> None:
        if config.loss_classes == "seen" and (config.head != "shared"
                                              or config.mode not in ("switch", "offline")):
            raise UserError(f"--head {config.head} with --mode {config.mode} does not go with "
                            "--loss-classes seen (which --scenario class sets), one shared "
                            "head trained on the classes seen so far: that needs --head "
                            "shared and --mode switch (or offline, where every class is seen "
                            "from the start); for a head per task use --scenario task, or "
                            "give --loss-classes all")

    def __init__(self, task_classes: list[tuple[int, ...]], classes: int):
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
