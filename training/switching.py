"""The blog's schedule: a new task every task_time steps, with checkpoints and a loss guard.

Every step trains; every task is evaluated at step 0, every test_frequency steps
and after the last step. A checkpoint is taken every checkpoint_every steps, and
when SIGTERM or SIGINT arrives, at the next point where no train window is half
summed (then the run stops, resumable). A NaN or infinite loss stops the run as
diverged, keeping the last good checkpoint.
"""

import time

import numpy as np

from errors import RunInterrupted
from tasks import Task
from training.checkpoint import Checkpointer, StopRequests
from training.config import RunConfig
from training.progress import Progress
from training.run_log import RunLog, evaluation_record, mean, raise_diverged
from training.schedule import Schedule
from training.steps import evaluate, train_step


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
        """Trains to max_steps; returns the summary (raises RunInterrupted or RunDiverged)."""
        config, window, results = self.config, [], {}
        every = config.checkpoint_every
        for step in range(self.step, config.max_steps + 1):
            if not window:  # A clean point: every train line up to here is written.
                if stop.signal is not None:
                    self._checkpoint(step)
                    raise RunInterrupted(f"stopped by signal {stop.signal} at step {step}, "
                                         f"checkpointed; resume with --resume "
                                         f"{self.log.run_dir}", stop.signal)
                if every and step % every == 0 and step not in (0, self.checkpointer.last_step) \
                        and step < config.max_steps:
                    self._checkpoint(step)
            if step % config.test_frequency == 0 or step == config.max_steps:
                results = self._evaluate(step)
            if step == config.max_steps:
                break
            tick = time.monotonic()
            images, labels = next(self.iterators[self.schedule.task_index_at(step)])
            window.append(train_step(self.model, self.optimizer, images, labels))
            if self._window_ends(step):
                self._write_train_line(window, step)
                window = []
            self.train_time += time.monotonic() - tick
        return self._summary(results)

    def _window_ends(self, step: int) -> bool:
        """A train line closes every train_summary_frequency steps, at a switch and at the end."""
        following = step + 1
        return (following % self.config.train_summary_frequency == 0
                or following == self.config.max_steps
                or self.schedule.task_at(following) != self.schedule.task_at(step))

    def _evaluate(self, step: int) -> dict:
        tick = time.monotonic()
        results = evaluate(self.model, self.tasks, self.config.test_examples)
        self.eval_time += time.monotonic() - tick
        active = self.schedule.task_at(min(step, self.config.max_steps - 1))
        self.log.write(evaluation_record(step, active, results, self.elapsed()))
        self.progress.update(step, active, {name: r["accuracy"] for name, r in results.items()})
        return results

    def _write_train_line(self, window: list, step: int) -> None:
        losses, accuracies = (np.array(values) for values in zip(*window))
        if not np.all(np.isfinite(losses)):
            raise_diverged(self.log, step - len(window) + 1 + int(np.argmin(np.isfinite(losses))),
                           self.checkpointer.last_step, self.elapsed())
        active = self.schedule.task_at(step)
        self.log.write({"step": step, "kind": "train", "active_task": active,
                        "train_accuracy": float(accuracies.mean()), "loss": float(losses.mean()),
                        "steps": len(window), "wall_time": self.elapsed()})
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
