"""The task schedule: which task trains at each step."""

import dataclasses

from rundir import task_index_at


@dataclasses.dataclass(frozen=True)
class Schedule:
    """Round-robin switching, as the original: tasks[(step // task_time) % len(tasks)]."""

    tasks: tuple[str, ...]
    task_time: int

    def task_index_at(self, step: int) -> int:
        return task_index_at(step, self.task_time, len(self.tasks))

    def task_at(self, step: int) -> str:
        return self.tasks[self.task_index_at(step)]

    def periods(self, max_steps: int) -> list[tuple[int, int, str]]:
        """The task periods of a run as (first step, end step exclusive, task)."""
        return [(start, min(start + self.task_time, max_steps), self.task_at(start))
                for start in range(0, max_steps, self.task_time)]
