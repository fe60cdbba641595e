"""Naive rehearsal (--rehearsal-memory M), Hsu et al. 2018's strong baseline: a memory of M
training examples of the tasks seen so far, trained on together with the new task's.

The memory is shared equally among the tasks whose periods have ended (each keeps
the first M / tasks of its own fixed random order, so a task's share shrinks to a
subset of what it held), as replay's buffer is. While a task trains, its examples
and the memory's, the memory repeated max(task's examples // M, 1) times (their
code: old and new data about one to one), form one set, shuffled each epoch; with
--task-epochs an epoch covers the whole set, so the period is longer than the
task's own. The mix of a period is a function of the run's seed and the schedule
alone, so a resumed run rebuilds it exactly.
"""

from __future__ import annotations

import numpy as np

from lazy import LazyModule
from seeds import derive_seed
from training.methods.base import TASK_PERIODS, Method
from training.methods.replay import buffer_at, tasks_before
from training.settings import setting

streams = LazyModule("tasks.streams")


class Rehearsal(Method):
    """The period's batches drawn from its task's examples and the memory's, as one set."""

    name = "rehearsal"
    description = ("naive rehearsal (Hsu et al. 2018): a fixed memory of past tasks' training "
                   "examples, trained on together with the new task's as one shuffled set")
    settings = {"rehearsal_memory": setting(0, "method", bound="non-negative", zero="off", help=(
        "--mode switch: naive rehearsal (Hsu et al. 2018): keep this many training examples "
        "of past tasks (shared equally) and train each new task on its examples and the "
        "memory's as one shuffled set; 0: off"))}
    needs = (TASK_PERIODS,)
    order = 130
    example = ("--rehearsal-memory", "40")

    def __init__(self, memory: int):
        self.memory = memory
        self._period: int | None = None  # The period whose mix the stream holds.
        self._stream = None

    @classmethod
    def for_run(cls, config, model, tasks) -> "Rehearsal":
        return cls(config.rehearsal_memory)

    def memory_examples(self, period: int, tasks: list) -> int:
        """The memory's examples in the period's set, repeats counted."""
        seen = tasks_before(period, len(tasks))
        if not seen:
            return 0
        sizes = [len(task.train) for task in tasks]
        kept = sum(min(self.memory // len(seen), sizes[t]) for t in seen)
        return kept * self._repeats(sizes[period % len(tasks)])

    def batches(self, run, step: int, batches):
        config = run.config
        period, start, end = run.periods.period_at(step)
        if period == 0:
            return batches
        if self._period != period:
            self._period = period
            sizes = [len(task.train) for task in run.tasks]
            task_ids, example_ids = self.period_set(run.periods, period, sizes, config.seed)
            rows = (end - start) * config.batch
            rng = np.random.default_rng(derive_seed(config.seed, "rehearsal", str(period)))
            order = np.concatenate([rng.permutation(len(task_ids))
                                    for _ in range(-(-rows // len(task_ids)))])[:rows]
            self._stream = self._stream or streams.MixStream(run.tasks, config.batch)
            self._stream.use(task_ids[order], example_ids[order],
                             derive_seed(config.seed, "rehearsal-batches", str(period)),
                             start=step - start)
        return self._stream

    def period_set(self, schedule, period: int, sizes: list[int],
                   seed: int) -> tuple[np.ndarray, np.ndarray]:
        """(task index, example index) of every example of the period's set: the task's own,
        then the memory's, repeated."""
        active = period % len(schedule.tasks)
        memory = buffer_at(schedule, period, self.memory, sizes, seed)
        repeats = self._repeats(sizes[active])
        task_ids = [np.full(sizes[active], active)] + [
            np.full(len(kept) * repeats, t) for t, kept in memory.items()]
        example_ids = [np.arange(sizes[active])] + [
            np.tile(kept, repeats) for kept in memory.values()]
        return (np.concatenate(task_ids).astype(np.int32),
                np.concatenate(example_ids).astype(np.int64))

    def _repeats(self, own: int) -> int:
        return max(own // self.memory, 1)

