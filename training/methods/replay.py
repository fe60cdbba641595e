"""Replay (--replay-size): a buffer of past tasks' training examples mixed into every batch
of the switch schedule.

The buffer holds up to --replay-size examples, shared equally among the tasks
whose periods have ended (a task's share shrinks as new tasks arrive: it keeps the
first examples of its own fixed random order, so what stays was there before).
While a task trains, the tasks in the buffer other than it are replayed: a
REPLAY_FRACTION of every batch is drawn from them, a task uniformly and then one
of its kept examples, and the rest is the training task's own examples, each
epoch in a fresh order. The mix of a period is a function of the run's seed and
the schedule alone, so a resumed run rebuilds it exactly.
"""

from __future__ import annotations

import numpy as np

from errors import UserError
from lazy import LazyModule
from schedule import Schedule
from seeds import derive_seed
from training.methods.base import TASK_PERIODS, Method
from training.settings import setting

streams = LazyModule("tasks.streams")

REPLAY_FRACTION = 0.5


class Replay(Method):
    """While a task trains, batches that mix in the buffer's examples of other tasks
    (tasks.streams.MixStream); none in the first period, whose buffer is empty."""

    name = "replay"
    description = "a buffer of past tasks' training examples replayed as half of every batch"
    settings = {"replay_size": setting(0, "method", bound="non-negative", zero="off", help=(
        "--mode switch: keep this many training examples of past tasks (shared equally) and "
        "replay them as half of every batch; 0: off"))}
    needs = (TASK_PERIODS,)
    excludes = {"rehearsal": "are two ways to train on past examples"}
    order = 100
    example = ("--replay-size", "40")

    @classmethod
    def check(cls, config) -> None:
        if 0 < config.replay_size < len(config.tasks):
            raise UserError(f"--replay-size {config.replay_size} keeps too few examples to "
                            f"share among {len(config.tasks)} tasks")

    def __init__(self, replay_size: int):
        self.replay_size = replay_size
        self._period: int | None = None  # The period whose mix the stream holds.
        self._mixed = False
        self._stream = None

    @classmethod
    def for_run(cls, config, model, tasks) -> "Replay":
        return cls(config.replay_size)

    def batches(self, run, step: int, batches):
        """The period's mixed batches, from where `step` stands in the period (so that a
        resumed run draws what the uninterrupted run drew)."""
        config = run.config
        period, start, _ = run.periods.period_at(step)
        if self._period != period:
            self._period = period
            mix = period_mix(run.periods, period, self.replay_size,
                             [len(task.train) for task in run.tasks], config.batch, config.seed)
            self._mixed = mix is not None
            if self._mixed:
                self._stream = self._stream or streams.MixStream(run.tasks, config.batch)
                self._stream.use(*mix, derive_seed(config.seed, "replay-batches", str(period)),
                                 start=step - start)
        return self._stream if self._mixed else batches


def buffer_at(schedule: Schedule, period: int, replay_size: int, train_sizes: list[int],
              seed: int) -> dict[int, np.ndarray]:
    """The buffer when period `period` starts: task index -> indices of its kept examples."""
    seen = tasks_before(period, len(schedule.tasks))
    if not seen:
        return {}
    share = replay_size // len(seen)
    return {index: _order(seed, schedule.tasks[index], train_sizes[index])[:share]
            for index in seen}


def tasks_before(period: int, tasks: int) -> list[int]:
    """The indices of the tasks whose periods ended before period `period` (round robin), in
    the order they first trained."""
    return list(dict.fromkeys(earlier % tasks for earlier in range(period)))


def period_mix(schedule: Schedule, period: int, replay_size: int, train_sizes: list[int],
               batch: int, seed: int) -> tuple[np.ndarray, np.ndarray] | None:
    """A period's batches as (task index, example index) arrays of (its steps) * batch rows,
    a batch after another; None when nothing is replayed (the first period, or only the
    training task in the buffer)."""
    active = period % len(schedule.tasks)
    buffer = {t: kept for t, kept in buffer_at(schedule, period, replay_size, train_sizes,
                                                seed).items() if t != active}
    if not buffer:
        return None
    rng = np.random.default_rng(derive_seed(seed, "replay", str(period)))
    replayed = int(round(batch * REPLAY_FRACTION))
    steps, own = schedule.lengths[active], batch - replayed
    epochs = -(-steps * own // train_sizes[active])
    own_ids = np.concatenate([rng.permutation(train_sizes[active]) for _ in range(epochs)])
    own_ids = own_ids[:steps * own].reshape(steps, own)
    past = np.array(sorted(buffer))
    replay_tasks = past[rng.integers(len(past), size=(steps, replayed))]
    replay_ids = np.empty((steps, replayed), np.int64)
    for t in past:
        chosen = replay_tasks == t
        replay_ids[chosen] = buffer[t][rng.integers(len(buffer[t]), size=int(chosen.sum()))]
    task_ids = np.concatenate([np.full((steps, own), active), replay_tasks], axis=1)
    example_ids = np.concatenate([own_ids, replay_ids], axis=1)
    return task_ids.reshape(-1).astype(np.int32), example_ids.reshape(-1).astype(np.int64)


def _order(seed: int, task: str, size: int) -> np.ndarray:
    return np.random.default_rng(derive_seed(seed, "replay-buffer", task)).permutation(size)
