"""The task schedule: which task trains at each step, and the periods of a run.

TensorFlow-free, so that the charts read a run's periods from here as its training
followed them (training.switching), without importing the trainer."""

import dataclasses
import itertools


@dataclasses.dataclass(frozen=True)
class Schedule:
    """Round-robin switching, as the original: tasks[(step // task_time) % len(tasks)] when
    every period is task_time steps; `task_time` may instead give each task's period its
    own length (training by epochs: the tasks' sizes differ), in --tasks order."""

    tasks: tuple[str, ...]
    task_time: int | tuple[int, ...]

    @property
    def lengths(self) -> tuple[int, ...]:
        """Each task's period length in steps, in task order."""
        if isinstance(self.task_time, int):
            return (self.task_time,) * len(self.tasks)
        return tuple(self.task_time)

    def period_at(self, step: int) -> tuple[int, int, int]:
        """(number, first step, end step exclusive) of the period that holds `step`; periods
        are numbered from 0 across rounds."""
        lengths = self.lengths
        rounds, within = divmod(step, sum(lengths))
        start = rounds * sum(lengths)
        for index, length in enumerate(lengths):
            if within < length:
                return rounds * len(lengths) + index, start, start + length
            within, start = within - length, start + length
        raise AssertionError("unreachable: within < sum(lengths)")

    def task_index_at(self, step: int) -> int:
        return self.period_at(step)[0] % len(self.tasks)

    def task_at(self, step: int) -> str:
        return self.tasks[self.task_index_at(step)]

    def period_start(self, number: int) -> int:
        """The first step of period `number`."""
        rounds, index = divmod(number, len(self.tasks))
        return rounds * sum(self.lengths) + sum(self.lengths[:index])

    def periods(self, max_steps: int) -> list[tuple[int, int, str]]:
        """The task periods of a run as (first step, end step exclusive, task)."""
        result = []
        for number in itertools.count():
            start = self.period_start(number)
            if start >= max_steps:
                return result
            index = number % len(self.tasks)
            result.append((start, min(start + self.lengths[index], max_steps),
                           self.tasks[index]))
