"""The blog's schedule: a new task every task_time steps, with checkpoints and a loss guard.

Every step trains; every task is evaluated at step 0, every test_frequency steps
and after the last step. The mode says what a step trains on: `switch`, the
active task's batch (with --replay-size, mixed with replayed past examples; with
--ewc-lambda, under EWC's penalty, each task consolidated as its period ends);
`joint`, one batch of every task at once (training.objectives.JointObjective);
`alternate`, the tasks in turn, a different one every step. Joint and alternate
runs have no active task: their lines say null. A checkpoint is taken every checkpoint_every steps, and
when SIGTERM or SIGINT arrives, at the end of the train window under way (then
the run stops, resumable). A NaN or infinite loss stops the run as
diverged, keeping the last good checkpoint.
"""

import time

import numpy as np
import tensorflow as tf

from errors import RunInterrupted
from seeds import derive_seed
from tasks import Task
from tasks.streams import train_stream
from tasks.task import mixed_batches
from training.checkpoint import Checkpointer, StopRequests
from training.config import RunConfig
from training.objectives import FISHER_EXAMPLES, diagonal_fisher
from training.progress import Progress
from training.replay import period_mix
from training.run_log import RunLog, evaluation_record, mean, write_train_window
from training.schedule import Schedule
from training.steps import PLAIN, evaluate, train_steps


class SwitchRun:
    """One run on the switch schedule, from step 0 or from its latest checkpoint."""

    def __init__(self, config: RunConfig, tasks: list[Task], model, optimizer, log: RunLog,
                 progress: Progress, resume: bool = False, objective=PLAIN):
        self.config, self.tasks, self.model, self.optimizer = config, tasks, model, optimizer
        self.log, self.progress, self.objective = log, progress, objective
        self.ewc = getattr(objective, "ewc", None)
        self.remedy = ("lower --ewc-lambda or --learning-rate (EWC's penalty is stable while "
                       "lambda x Fisher x learning rate stays below 2)" if self.ewc is not None
                       else "lower --learning-rate")  # What a diverged run's message advises.
        self.schedule = Schedule(config.tasks, config.task_time)
        self.stream = train_stream(tasks, config.mode, config.batch)
        self.replay: tuple[int, object] | None = None  # (period, its mixed-batch iterator)
        self.checkpointer = Checkpointer(log.run_dir, model, optimizer, [self.stream],
                                         objective.state_variables)
        self.step, self.train_time, self.eval_time, self.resumed_from = 0, 0.0, 0.0, []
        state = {}
        if resume:
            state = self.checkpointer.restore()
            self.resumed_from = log.resume_at(state)
            self.step, self.train_time, self.eval_time = (
                state["step"], state["train_time_s"], state["eval_time_s"])
        self.start = time.monotonic() - state.get("wall_time_s", 0.0)

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
            if self.ewc is not None and step % config.task_time == 0:
                self._consolidate(step)
            losses, accuracies = train_steps(self.model, self.optimizer, self._batches(step),
                                             tf.constant(count), self.objective)
            self._write_train_line(np.asarray(losses), np.asarray(accuracies), step + count - 1)
            self.train_time += time.monotonic() - tick
            step += count

    def _active(self, step: int) -> str | None:
        return self.schedule.task_at(step) if self.config.mode == "switch" else None

    def _batches(self, step: int):
        """The stream that the window starting at `step` draws from: the run's stream (in
        switch mode set to the active task), or a replay period's mixed batches (tf.data)."""
        if self.config.mode != "switch":
            return self.stream
        active = self.schedule.task_index_at(step)
        self.stream.active.assign(active)
        if not self.config.replay_size:
            return self.stream
        period = step // self.config.task_time
        if self.replay is None or self.replay[0] != period:
            mix = period_mix(self.schedule, period, self.config.replay_size,
                             [len(task.train) for task in self.tasks], self.config.batch,
                             self.config.seed)
            stream = (self.stream if mix is None else iter(mixed_batches(
                self.tasks, *mix, self.config.batch,
                derive_seed(self.config.seed, "replay-batches", str(period)),
                start=step - period * self.config.task_time)))
            self.replay = (period, stream)
        return self.replay[1]

    def _consolidate(self, step: int) -> None:
        """EWC, as a period starts at `step`: consolidates the task whose period just ended
        and marks the task now training. (A checkpoint at a period's start is taken before
        this, so a run resumed there consolidates then, as the uninterrupted run did.)"""
        ewc = self.ewc
        if step > 0:
            ended = self.schedule.task_index_at(step - 1)
            task = self.tasks[ended]
            rng = np.random.default_rng(derive_seed(self.config.seed, "fisher", str(step)))
            rows = rng.choice(len(task.train), min(FISHER_EXAMPLES, len(task.train)),
                              replace=False)
            inputs, labels = task.prepare(*task.train.take(tf.constant(rows)),
                                          tf.constant([self.config.seed, step], tf.int64))
            ewc.consolidate(ended, diagonal_fisher(self.model, inputs, labels),
                            self.model.trainable_variables)
        ewc.active.assign(self.schedule.task_index_at(step))

    def _window_length(self, step: int) -> int:
        """Steps from `step` to the next window end (see run)."""
        config = self.config
        periods = [config.train_summary_frequency, config.test_frequency]
        if config.mode == "switch":
            periods.append(config.task_time)
        if config.checkpoint_every:
            periods.append(config.checkpoint_every)
        following = min((step // period + 1) * period for period in periods)
        return min(following, config.max_steps) - step

    def _evaluate(self, step: int) -> dict:
        tick = time.monotonic()
        results = evaluate(self.model, self.tasks, self.config.test_examples)
        self.eval_time += time.monotonic() - tick
        active = self._active(min(step, self.config.max_steps - 1))
        self.log.write(evaluation_record(step, active, results, self.elapsed()))
        self.progress.update(step, active, {name: r["accuracy"] for name, r in results.items()})
        return results

    def _write_train_line(self, losses: np.ndarray, accuracies: np.ndarray, step: int) -> None:
        active = self._active(step)
        write_train_window(self.log, losses, accuracies, step, active, self.elapsed(),
                           self.checkpointer.last_step, self.remedy)
        self.progress.update(step + 1, active)

    def _checkpoint(self, step: int) -> None:
        self.checkpointer.save({"step": step, "metrics_bytes": self.log.metrics_bytes(),
                                "train_time_s": self.train_time, "eval_time_s": self.eval_time,
                                "wall_time_s": self.elapsed()})

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
            **self.objective.summary(self.config.tasks),
        }
