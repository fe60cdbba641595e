"""The task-free schedule: one pass over a stream with no task boundaries (MNIST-360).

The stream's task holds its training examples in stream order and the sizes of its
batches (tasks.mnist360, Task.stream_batches); the run trains on them batch after
batch, once, and ends. No period starts or ends, so a training method that acts at
task boundaries is refused with one line: the config refuses one that declares the need
(training.methods.base.TASK_BOUNDARIES, which TASK_PERIODS includes), and the schedule
one whose class implements a period hook, or draws its own batches from the task
periods, without declaring it. A method that learns from the batches as they come (ER,
DER, DER++: a reservoir buffer) runs on the stream. Offline training of the stream's
examples (--mode offline, the JOINT upper bound) runs on the switch schedule instead.
"""

from errors import UserError
from tasks import Task
from tasks.streams import SequenceStream
from training.config import RunConfig
from training.methods.base import Method, Methods
from training.switching import StepSchedule

# The hooks that act at task boundaries, or on the task periods' batches.
BOUNDARY_HOOKS = ("period_start", "period_end", "batches", "memory_examples")


def is_task_free(tasks: list[Task], methods: Methods) -> bool:
    """Whether the run trains on a task-free stream: a stream task, not trained offline."""
    return any(task.stream_batches is not None for task in tasks) and methods.stream != "offline"


def needs_task_boundaries(method: type) -> bool:
    """Whether a training method's class acts at task boundaries: implements a period hook,
    draws the task periods' batches itself, or asks for a stream of several tasks."""
    return (any(getattr(method, hook) is not getattr(Method, hook) for hook in BOUNDARY_HOOKS)
            or method.stream is not None)


class TaskFreeSchedule(StepSchedule):
    """One pass over the stream task's batches, evaluated every --test-frequency steps and
    at the end; checkpointed every --checkpoint-every steps. --task-time and --max-steps
    do not apply: the stream's batches are the run."""

    def __init__(self, config: RunConfig, tasks: list[Task], methods: Methods):
        super().__init__(config, tasks, methods)
        [task] = tasks  # tasks.registry refuses a stream beside other tasks.
        _check(config, task, methods)
        self.stream = SequenceStream(task)
        self.streams = [self.stream]
        self.max_steps = self.stream.batches
        self.periods = None  # No task periods: no method's period hook is called.

    def active(self, step: int) -> str:
        return self.names[0]

    def window(self, run, step: int) -> tuple[int, object]:
        """To the next checkpoint or frequency multiple, or the stream's end."""
        end = min(self._frequency_end(step, self.config.checkpoint_every), self.max_steps)
        return end - step, self.stream

    def describe(self) -> dict:
        """The stream's length, as one period (the readers' periods)."""
        return {"period_steps": [self.max_steps], "total_steps": self.max_steps,
                "stream_examples": len(self.tasks[0].train)}


def _check(config: RunConfig, task: Task, methods: Methods) -> None:
    """Refuses what a task-free stream cannot do, with the fix."""
    if config.schedule != "switch" or methods.stream != "switch":
        raise UserError(f"{task.name} is a task-free stream: train it with --mode switch (the "
                        "stream, one pass) or --mode offline (its examples shuffled, the JOINT "
                        "upper bound), on --schedule switch")
    if config.task_epochs is not None:
        raise UserError(f"{task.name} is one pass over its stream; --task-epochs does not apply "
                        "to it (drop it, or give --mode offline to train on its examples by "
                        "epochs)")
    for method in map(type, methods.methods):
        if needs_task_boundaries(method):
            raise UserError(f"{method.flags()[0]} ({method.name}) acts at task boundaries, and "
                            f"the task-free stream {task.name} has none; run {method.name} on "
                            f"tasks with boundaries, or {task.name} without it")
