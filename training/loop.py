"""The run loop, one for every schedule: trains windows of steps in one compiled call each,
evaluates, checkpoints, stops, and sums the run up; the schedule decides the rest.

A window ends where the schedule says (a task switch, an epoch's end) and at every
multiple of --train-summary-frequency and of --test-frequency, so every train
line is whole when the loop evaluates, checkpoints or stops. Each window draws its
batches from a stream sampled inside the compiled call (tasks.streams). A stop
signal (SIGTERM, SIGINT) takes effect at the next window's end: a checkpoint, then
RunInterrupted; a NaN or infinite loss stops the run as diverged, keeping the last
good checkpoint.
"""

import time

import numpy as np
import tensorflow as tf

from errors import RunInterrupted
from training.checkpoint import Checkpointer, StopRequests
from training.methods.base import Methods
from training.progress import Progress
from training.run_log import (RunLog, evaluation_record, extra_accuracies, mean,
                               write_train_window)
from tasks.registry import TASKS, class_identities
from training.steps import class_masks, evaluate, task_heads, train_steps


class RunSchedule:
    """What trains when, for the run loop: a schedule's every decision."""

    unit = "steps"  # What the progress line counts.
    streams: tuple = ()  # tf.Modules whose state a checkpoint keeps (a stream's position).

    def __init__(self, config, tasks: list, methods: Methods):
        self.config, self.tasks, self.methods = config, tasks, methods
        self.names = [task.name for task in tasks]

    def progress_total(self) -> int:
        raise NotImplementedError

    def checkpoint_due(self, step: int) -> bool:
        raise NotImplementedError

    def evaluation_due(self, step: int) -> bool:
        return step % self.config.test_frequency == 0

    def evaluated(self, step: int, record: dict) -> tuple[int, str]:
        """Takes in the test line of `step` (and may add fields to it); returns the progress
        line's position and label."""
        raise NotImplementedError

    def finished(self, step: int) -> bool:
        raise NotImplementedError

    def window(self, run, step: int) -> tuple[int, object]:
        """The window starting at `step`: its length (at most to the next multiple of the
        train summary and test frequencies) and the batches it draws."""
        raise NotImplementedError

    def trained(self, step: int, count: int) -> dict:
        """The window of `count` steps from `step` has trained; returns the train line's
        extra fields."""
        return {}

    def active(self, step: int) -> str | None:
        """The task that the line of `step` names as training."""
        raise NotImplementedError

    def state(self) -> tuple[dict, dict | None]:
        """What a checkpoint keeps of the schedule: JSON fields, and arrays."""
        return {}, None

    def restore(self, state: dict, arrays: dict | None) -> None:
        pass

    def summary(self, step: int) -> dict:
        return {}

    def describe(self) -> dict:
        """What config.json records of the schedule beside the settings."""
        return {}

    def _frequency_end(self, step: int, *periods: int) -> int:
        """The next multiple after `step` of the train summary and test frequencies and of
        `periods`."""
        config = self.config
        return min((step // period + 1) * period
                   for period in (config.train_summary_frequency, config.test_frequency,
                                  *periods) if period)


class Run:
    """One run on its schedule, from step 0 or from its latest checkpoint."""

    def __init__(self, config, tasks: list, model, optimizer, log: RunLog,
                 schedule: RunSchedule, methods: Methods, resume: bool = False,
                 progress_stream=None, on_checkpoint=None):
        self.config, self.tasks, self.model, self.optimizer = config, tasks, model, optimizer
        self.log, self.schedule, self.methods = log, schedule, methods
        self.progress_stream, self.on_checkpoint = progress_stream, on_checkpoint
        # What a diverged run's message advises.
        self.remedy = "; or ".join(methods.remedies) or "lower --learning-rate"
        self.checkpointer = Checkpointer(log.run_dir, model, optimizer, schedule.streams,
                                         methods.state_variables)
        self.step, self.train_time, self.eval_time, self.resumed_from = 0, 0.0, 0.0, []
        # A head per task: every head's logits, for the accuracy without the task given.
        self.heads = task_heads(model, [class_identities(TASKS[task.name], config.labels)
                                        for task in tasks])
        # --task-masked-accuracy: each task's own classes, to read its accuracy among them.
        self.masks = (class_masks(config.tasks, config.labels)
                      if config.task_masked_accuracy else None)
        self.results: dict = {}
        self.start = time.monotonic()
        if resume:  # Everything is read and checked before the log is changed.
            self.resumed_from = log.resume_at(self.checkpointer.restore(self._restore))

    def _restore(self, state: dict, arrays: dict | None) -> None:
        """Takes in a checkpoint's state and arrays (its variables are restored)."""
        self.step, self.train_time, self.eval_time = (
            state["step"], state["train_time_s"], state["eval_time_s"])
        self.start = time.monotonic() - state["wall_time_s"]
        self.schedule.restore(state, arrays)

    @property
    def periods(self):
        """The task periods (schedule.Schedule) of a switch schedule, for the
        methods' period hooks."""
        return self.schedule.periods

    def elapsed(self) -> float:
        return time.monotonic() - self.start

    def run(self, stop: StopRequests) -> dict:
        """Trains to the schedule's end; returns the summary (raises RunInterrupted or
        RunDiverged)."""
        schedule, step = self.schedule, self.step
        self.progress = Progress(schedule.progress_total(), self.progress_stream,
                                 unit=schedule.unit)
        try:
            while True:
                if stop.signal is not None:
                    self._checkpoint(step)
                    raise RunInterrupted(f"stopped by signal {stop.signal} at step {step}, "
                                         f"checkpointed; resume with --resume {self.log.run_dir}",
                                         stop.signal)
                if schedule.checkpoint_due(step) and step != self.checkpointer.last_step:
                    self._checkpoint(step)
                if schedule.evaluation_due(step):
                    self._evaluate(step)
                if schedule.finished(step):
                    return self._summary(step)
                step = self._train_window(step)
        finally:
            self.progress.close()

    def _train_window(self, step: int) -> int:
        tick = time.monotonic()  # Training time includes the methods' period hooks.
        count, batches = self.schedule.window(self, step)
        losses, accuracies = train_steps(self.model, self.optimizer, batches,
                                         tf.constant(count), self.methods)
        losses, accuracies = np.asarray(losses), np.asarray(accuracies)
        extra = self.schedule.trained(step, count)
        end = step + count - 1
        active = self.schedule.active(end)
        write_train_window(self.log, losses, accuracies, end, active, self.elapsed(),
                           self.checkpointer.last_step, self.remedy, **extra)
        self.train_time += time.monotonic() - tick
        if self.schedule.unit == "steps":
            self.progress.update(end + 1, active)
        return step + count

    def _evaluate(self, step: int) -> None:
        tick = time.monotonic()
        model = self.methods.evaluated_model(self, step, self.model)
        self.results = evaluate(model, self.tasks, self.config.test_examples, self.heads,
                                self.masks)
        self.eval_time += time.monotonic() - tick
        record = evaluation_record(step, self.schedule.active(step), self.results,
                                   self.elapsed())
        position, label = self.schedule.evaluated(step, record)
        self.log.write(record, last_checkpoint=self.checkpointer.last_step)
        self.progress.update(position, label, record["test_accuracy"])

    def _checkpoint(self, step: int) -> None:
        state, arrays = self.schedule.state()
        self.checkpointer.save({"step": step, "metrics_bytes": self.log.metrics_bytes(),
                                "train_time_s": self.train_time, "eval_time_s": self.eval_time,
                                "wall_time_s": self.elapsed(), **state}, arrays=arrays)
        if self.on_checkpoint is not None:
            self.on_checkpoint()

    def _summary(self, step: int) -> dict:
        accuracy = {name: r["accuracy"] for name, r in self.results.items()}
        extras = {}
        for kind, values in extra_accuracies(self.results).items():
            extras.update({f"final_test_accuracy_{kind}": values,
                           f"final_test_accuracy_{kind}_all": mean(list(values.values()))})
        return {
            "status": "completed",
            **extras,
            **self.schedule.summary(step),
            "steps": step,
            "final_test_accuracy": accuracy,
            "final_test_accuracy_all": mean(list(accuracy.values())),
            "wall_time_s": self.elapsed(),
            "train_time_s": self.train_time,
            "eval_time_s": self.eval_time,
            "steps_per_second": step / self.train_time if self.train_time else None,
            "resumed_from_steps": self.resumed_from,
            **self.methods.summary(self.config.tasks),
        }
