"""The blog's schedule: a new task every task_time steps, to max_steps.

Every step trains; every task is evaluated at step 0, every test_frequency steps
and after the last step. The run's training methods (training.methods) say what a
step trains on and minimises: by default the active task's batch (with replay,
mixed with past examples; with EWC, under its penalty, each task consolidated as
its period ends); with joint training, one batch of every task at once; with
alternate training, the tasks in turn, a different one every step. Joint and
alternate runs have no active task: their lines say null. A checkpoint is taken
every checkpoint_every steps.
"""

from tasks import Task
from tasks.streams import train_stream
from training.config import RunConfig
from training.loop import RunSchedule
from training.methods.base import Methods
from training.schedule import Schedule


class SwitchSchedule(RunSchedule):
    """Task periods of task_time steps, round robin (or every task all along, for joint and
    alternate training), max_steps in all."""

    def __init__(self, config: RunConfig, tasks: list[Task], methods: Methods):
        super().__init__(config, tasks, methods)
        self.periods = Schedule(config.tasks, config.task_time)
        self.stream = train_stream(tasks, methods.stream, config.batch)
        self.streams = [self.stream]
        self.periodic = methods.stream == "switch"  # Joint and alternate: no task periods.

    def progress_total(self) -> int:
        return self.config.max_steps

    def checkpoint_due(self, step: int) -> bool:
        every = self.config.checkpoint_every
        return bool(every) and step % every == 0 and 0 < step < self.config.max_steps

    def evaluation_due(self, step: int) -> bool:
        return super().evaluation_due(step) or step == self.config.max_steps

    def evaluated(self, step: int, record: dict) -> tuple[int, str]:
        return step, record["active_task"]

    def finished(self, step: int) -> bool:
        return step == self.config.max_steps

    def active(self, step: int) -> str | None:
        if not self.periodic:
            return None
        return self.periods.task_at(min(step, self.config.max_steps - 1))

    def window(self, run, step: int) -> tuple[int, object]:
        """To the next task switch, checkpoint or frequency multiple; the stream set to the
        active task, as the methods leave it or replace it (rehearsal). The period hooks of
        the methods run as a period starts."""
        config = self.config
        end = self._frequency_end(step, config.task_time if self.periodic else 0,
                                  config.checkpoint_every)
        count = min(end, config.max_steps) - step
        if not self.periodic:
            return count, self.stream
        if step % config.task_time == 0:
            self.methods.period_boundary(run, step)
        self.stream.active.assign(self.periods.task_index_at(step))
        return count, self.methods.batches(run, step, self.stream)
