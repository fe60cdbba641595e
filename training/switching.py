"""The blog's schedule: a new task every task_time steps, to max_steps; or, with
--task-epochs, each task for that many epochs of its examples, once through the tasks.

Every step trains; every task is evaluated at step 0, every test_frequency steps
and after the last step. The run's training methods (training.methods) say what a
step trains on and minimises: by default the active task's batch (with replay,
mixed with past examples; with EWC, under its penalty, each task consolidated as
its period ends); with joint training, one batch of every task at once; with
alternate training, the tasks in turn, a different one every step. Joint and
alternate runs have no active task: their lines say null. A checkpoint is taken
every checkpoint_every steps.
"""

from schedule import Schedule
from tasks import Task
from tasks.streams import train_stream
from training.config import RunConfig
from training.loop import RunSchedule
from training.methods.base import Methods


class StepSchedule(RunSchedule):
    """A schedule of `max_steps` training steps (set by the subclass): a checkpoint every
    --checkpoint-every steps, an evaluation every --test-frequency steps and at the end."""

    max_steps: int

    def progress_total(self) -> int:
        return self.max_steps

    def checkpoint_due(self, step: int) -> bool:
        every = self.config.checkpoint_every
        return bool(every) and step % every == 0 and 0 < step < self.max_steps

    def evaluation_due(self, step: int) -> bool:
        return super().evaluation_due(step) or step == self.max_steps

    def evaluated(self, step: int, record: dict) -> tuple[int, str]:
        return step, record["active_task"]

    def finished(self, step: int) -> bool:
        return step == self.max_steps


class SwitchSchedule(StepSchedule):
    """Task periods of task_time steps (or of --task-epochs epochs, each task's own length),
    round robin (or every task all along, for joint, alternate and offline training),
    max_steps in all (with --task-epochs, once through the tasks)."""

    def __init__(self, config: RunConfig, tasks: list[Task], methods: Methods):
        super().__init__(config, tasks, methods)
        self.periodic = methods.stream == "switch"  # The others: no task periods.
        lengths = config.task_time
        if config.task_epochs:
            lengths = tuple(epoch_steps(config.task_epochs, methods.period_examples(index, tasks),
                                        config.batch) for index in range(len(tasks)))
        self.periods = Schedule(config.tasks, lengths)
        self.max_steps = config.max_steps
        if config.task_epochs:
            self.max_steps = (sum(self.periods.lengths) if self.periodic else epoch_steps(
                config.task_epochs, sum(len(task.train) for task in tasks), config.batch))
        self.stream = train_stream(tasks, methods.stream, config.batch, config.seed)
        self.streams = [self.stream]

    def evaluation_due(self, step: int) -> bool:
        switch = (self.config.task_epochs and self.periodic
                  and self.periods.period_at(step)[1] == step)
        return super().evaluation_due(step) or bool(switch)

    def active(self, step: int) -> str | None:
        if not self.periodic:
            return None
        return self.periods.task_at(min(step, self.max_steps - 1))

    def window(self, run, step: int) -> tuple[int, object]:
        """To the next task switch, checkpoint or frequency multiple; the stream set to the
        active task, as the methods leave it or replace it (rehearsal). The period hooks of
        the methods run as a period starts."""
        config = self.config
        _, start, end = self.periods.period_at(step)
        count = min(self._frequency_end(step, config.checkpoint_every),
                    end if self.periodic else self.max_steps, self.max_steps) - step
        if not self.periodic:
            return count, self.stream
        if step == start:
            self.methods.period_boundary(run, step)
        self.stream.active.assign(self.periods.task_index_at(step))
        return count, self.methods.batches(run, step, self.stream)

    def describe(self) -> dict:
        """With --task-epochs, each task's period length and the run's steps, which the
        tasks' sizes decide (the readers' periods)."""
        if not self.config.task_epochs:
            return {}
        return {"period_steps": list(self.periods.lengths), "total_steps": self.max_steps}


def epoch_steps(epochs: int, examples: int, batch: int) -> int:
    """Steps that train `epochs` epochs of `examples`: ceil(epochs x examples / batch)."""
    return -(-epochs * examples // batch)
