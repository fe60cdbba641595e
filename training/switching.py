"""The blog's schedule: a new task every task_time steps, with checkpoints and a loss guard.

Every step trains; every task is evaluated at step 0, every test_frequency steps
and after the last step. A checkpoint is taken every checkpoint_every steps, and
when SIGTERM or SIGINT arrives, at the end of the train window under way (then
the run stops, resumable). A NaN or infinite loss stops the run as
diverged, keeping the last good checkpoint.
"""

import time

import numpy as np
import tensorflow as tf

from errors import RunInterrupted
from tasks import Task
from training.checkpoint import Checkpointer, StopRequests
from training.config import RunConfig
from training.progress import Progress
from training.run_log import RunLog, evaluation_record, mean, write_train_window
from training.schedule import Schedule
from training.steps import evaluate, train_steps


class SwitchRun:
    """One run on the switch schedule, from step 0 or from its latest checkpoint."""

    def __init__(self, config: RunConfig, tasks: list[Task], model, optimizer, log: RunLog,
                 progress: Progress, resume: dict | None = None):
        self.config, self.tasks, self.model, self.optimizer = config, tasks, model, optimizer
        self.log, self.progress = log, progress
        self.schedule = Schedule(config.tasks, config.task_time)
        self.iterators = [iter(task.train_batches(config.batch)) for task in tasks]
        self.checkpointer = Checkpointer(log.run_dir, model, optimizer, self.iterators)
        self.step, self.train_time, self.eval_time, self.resumed_from = 0, 0.0, 0.0, []
        if resume is not None:
            state = self.checkpointer.restore()
            self.step, self.train_time, self.eval_time = (
                state["step"], state["train_time_s"], state["eval_time_s"])
            self.resumed_from = state.get("resumed_from", []) + [state["step"]]
        self.start = time.monotonic() - (resume or {}).get("wall_time_s", 0.0)

    def elapsed(self) -> float:
        return time.monotonic() - self.start

    def run(self, stop: StopRequests) -> dict:
        """Trains to max_steps; returns the summary (raises RunInterrupted or RunDiverged).

        Training goes a window at a time, one compiled call per window: a window ends
        every train_summary_frequency steps, at a task switch, before an evaluation or a
        checkpoint, and at the end. Between windows every train line is written, so any
        of those points is a clean place to checkpoint or stop."""
        config, results, step = self.config, {}, self.step
        every = config.checkpoint_every
        while True:
            if stop.signal is not None:
                self._checkpoint(step)
                raise RunInterrupted(f"stopped by signal {stop.signal} at step {step}, "
                                     f"checkpointed; resume with --resume {self.log.run_dir}",
                                     stop.signal)
            if (every and step % every == 0 and step not in (0, self.checkpointer.last_step)
                    and step < config.max_steps):
                self._checkpoint(step)
            if step % config.test_frequency == 0 or step == config.max_steps:
                results = self._evaluate(step)
            if step == config.max_steps:
                return self._summary(results)
            count = self._window_length(step)
            tick = time.monotonic()
            losses, accuracies = train_steps(
                self.model, self.optimizer, self.iterators[self.schedule.task_index_at(step)],
                tf.constant(count))
            self._write_train_line(np.asarray(losses), np.asarray(accuracies), step + count - 1)
            self.train_time += time.monotonic() - tick
            step += count

    def _window_length(self, step: int) -> int:
        """Steps from `step` to the next window end (see run)."""
        config = self.config
        periods = [config.train_summary_frequency, config.task_time, config.test_frequency]
        if config.checkpoint_every:
            periods.append(config.checkpoint_every)
        following = min((step // period + 1) * period for period in periods)
        return min(following, config.max_steps) - step

    def _evaluate(self, step: int) -> dict:
        tick = time.monotonic()
        results = evaluate(self.model, self.tasks, self.config.test_examples)
        self.eval_time += time.monotonic() - tick
        active = self.schedule.task_at(min(step, self.config.max_steps - 1))
        self.log.write(evaluation_record(step, active, results, self.elapsed()))
        self.progress.update(step, active, {name: r["accuracy"] for name, r in results.items()})
        return results

    def _write_train_line(self, losses: np.ndarray, accuracies: np.ndarray, step: int) -> None:
        active = self.schedule.task_at(step)
        write_train_window(self.log, losses, accuracies, step, active, self.elapsed(),
                           self.checkpointer.last_step)
        self.progress.update(step + 1, active)

    def _checkpoint(self, step: int) -> None:
        self.checkpointer.save({"step": step, "metrics_bytes": self.log.metrics_bytes(),
                                "train_time_s": self.train_time, "eval_time_s": self.eval_time,
                                "wall_time_s": self.elapsed(), "resumed_from": self.resumed_from})

    def _summary(self, results: dict) -> dict:
        accuracy = {name: r["accuracy"] for name, r in results.items()}
        return {
            "status": "completed",
            "steps": self.config.max_steps,
            "final_test_accuracy": accuracy,
            "final_test_accuracy_all": mean(list(accuracy.values())),
            "wall_time_s": self.elapsed(),
            "train_time_s": self.train_time,
            "eval_time_s": self.eval_time,
            "steps_per_second": (self.config.max_steps / self.train_time
                                 if self.train_time else None),
            "resumed_from_steps": self.resumed_from,
        }
