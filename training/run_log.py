"""The run log: config.json, append-only metrics.jsonl, summary.json and TensorBoard events.

metrics.jsonl is the record plots read: one JSON object a line, every line with
`step`, `kind` ("train" or "test") and `active_task`. TensorBoard gets the same
scalars in the original tool's layout: `train/`, `test/` (all tasks together)
and one `test_task_<i>_<name>/` writer per task, each with a scalar `accuracy`.
"""

import glob
import json
import os
from typing import Sequence

import numpy as np
import tensorflow as tf

from errors import RunDiverged, UserError
from rundir import CONFIG_FILE, METRICS_FILE, RESUMES_FILE, SUMMARY_FILE, write_json_atomic


class RunLog:
    """Writes one run's records: each to metrics.jsonl (flushed) and to TensorBoard."""

    def __init__(self, run_dir: str, task_names: Sequence[str], config: dict | None):
        """Starts a run's log with its config; or, resuming (config None), waits for
        `resume_at` once the checkpoint is restored: nothing is changed before."""
        self.run_dir = run_dir
        self.task_names = tuple(task_names)
        self._path = os.path.join(run_dir, METRICS_FILE)
        self._writer_dirs = [os.path.join(run_dir, "train"), os.path.join(run_dir, "test")] + [
            os.path.join(run_dir, f"test_task_{i}_{name}") for i, name in enumerate(task_names)]
        self._metrics = None
        if config is not None:
            write_json_atomic(os.path.join(run_dir, CONFIG_FILE), config)
            self._open()

    def _open(self) -> None:
        self._metrics = open(self._path, "a")
        self._train_writer, self._test_writer, *self._task_writers = [
            tf.summary.create_file_writer(directory) for directory in self._writer_dirs]

    def resume_at(self, state: dict) -> list[int]:
        """Goes on from the restored checkpoint of `state`: cuts metrics.jsonl back to its
        length then, writes TensorBoard's event files afresh from the lines kept (so they
        hold what metrics.jsonl holds, not the steps between the checkpoint and the stop),
        and records the resume. A metrics.jsonl shorter than that, or with a line that does
        not read, is refused before anything is changed. Returns the step of every resume
        of the run so far, this one last."""
        kept = self._kept_records(state)
        with open(self._path, "r+b") as f:
            f.truncate(state["metrics_bytes"])
        for directory in self._writer_dirs:
            for events in glob.glob(os.path.join(directory, "events.out.tfevents.*")):
                os.remove(events)
        self._open()
        for record in kept:
            self._mirror(record)
        with open(os.path.join(self.run_dir, RESUMES_FILE), "a") as f:
            f.write(json.dumps({"step": state["step"]}) + "\n")
        with open(os.path.join(self.run_dir, RESUMES_FILE)) as f:
            return [json.loads(line)["step"] for line in f if line.strip()]

    def _kept_records(self, state: dict) -> list[dict]:
        """The records of metrics.jsonl's first state["metrics_bytes"] bytes, checked."""
        fix = ("put back the run's own metrics.jsonl, or start the run afresh under another "
               "--run-name (nothing was changed)")
        try:
            with open(self._path, "rb") as f:
                kept = f.read(state["metrics_bytes"])
        except OSError as e:
            raise UserError(f"cannot read {self._path} ({e.strerror}); {fix}") from None
        if len(kept) < state["metrics_bytes"] or (kept and not kept.endswith(b"\n")):
            raise UserError(f"{self._path} holds {len(kept)} bytes where its checkpoint at step "
                            f"{state['step']} recorded {state['metrics_bytes']} (lines ending "
                            f"there): it was cut or changed; {fix}")
        try:
            return [json.loads(line) for line in kept.decode().splitlines()]
        except ValueError as e:
            raise UserError(f"{self._path} has a damaged line before step {state['step']} "
                            f"({e}); {fix}") from None

    def write(self, record: dict) -> None:
        """Appends one record (a train or test line) and mirrors its scalars to TensorBoard."""
        try:
            self._metrics.write(json.dumps(record, sort_keys=True) + "\n")
            self._metrics.flush()
        except OSError as e:
            raise UserError(f"cannot write the run log in {self.run_dir} ({e.strerror}); free "
                            f"space or fix permissions, then --resume {self.run_dir} from its "
                            "last checkpoint") from None
        self._mirror(record)

    def _mirror(self, record: dict) -> None:
        """A record's scalars in TensorBoard's event files."""
        step = record["step"]
        if record["kind"] == "train":
            with self._train_writer.as_default(step=step):
                tf.summary.scalar("accuracy", record["train_accuracy"])
                tf.summary.scalar("loss", record["loss"])
        else:
            with self._test_writer.as_default(step=step):
                tf.summary.scalar("accuracy", record["test_accuracy_all"])
            for name, writer in zip(self.task_names, self._task_writers):
                with writer.as_default(step=step):
                    tf.summary.scalar("accuracy", record["test_accuracy"][name])
                    tf.summary.scalar("loss", record["test_loss"][name])

    def metrics_bytes(self) -> int:
        """The length of metrics.jsonl so far (every record written is flushed)."""
        return self._metrics.tell()

    def write_summary(self, summary: dict) -> None:
        try:
            write_json_atomic(os.path.join(self.run_dir, SUMMARY_FILE), summary)
        except OSError as e:
            raise UserError(f"cannot write {SUMMARY_FILE} in {self.run_dir} ({e.strerror}); "
                            "free space or fix permissions") from None

    def close(self) -> None:
        if self._metrics is None:
            return  # A resume refused before the log was opened.
        self._metrics.close()
        for writer in (self._train_writer, self._test_writer, *self._task_writers):
            writer.close()


def evaluation_record(step: int, active: str, results: dict, wall_time: float) -> dict:
    """A test line of metrics.jsonl, from evaluate()'s results; with a head per task, the
    task-agnostic accuracies beside the task-aware ones (test_accuracy)."""
    accuracy = {name: r["accuracy"] for name, r in results.items()}
    record = {"step": step, "kind": "test", "active_task": active,
              "test_accuracy": accuracy,
              "test_accuracy_all": mean(list(accuracy.values())),
              "test_loss": {name: r["loss"] for name, r in results.items()}}
    agnostic = {name: r["accuracy_task_agnostic"] for name, r in results.items()
                if "accuracy_task_agnostic" in r}
    if agnostic:  # A head per task: the accuracy without the task given, too.
        record["test_accuracy_task_agnostic"] = agnostic
        record["test_accuracy_task_agnostic_all"] = mean(list(agnostic.values()))
    return {**record, "wall_time": wall_time}


def mean(values: list[float]) -> float:
    return sum(values) / len(values)


def write_train_window(log: RunLog, losses: np.ndarray, accuracies: np.ndarray, step: int,
                       active: str | None, wall_time: float, last_checkpoint: int | None,
                       remedy: str = "lower --learning-rate", **extra) -> None:
    """The train line of the window of steps ending at `step` (their per-step losses and
    accuracies); a NaN or infinite loss among them stops the run as diverged instead, its
    message ending with the remedy."""
    finite = np.isfinite(losses)
    if not finite.all():
        raise_diverged(log, step - len(losses) + 1 + int(np.argmin(finite)), last_checkpoint,
                       wall_time, remedy)
    log.write({"step": step, "kind": "train", "active_task": active, **extra,
               "train_accuracy": float(np.mean(accuracies)), "loss": float(np.mean(losses)),
               "steps": len(losses), "wall_time": wall_time})


def raise_diverged(log: RunLog, step: int, last_checkpoint: int | None, wall_time: float,
                   remedy: str = "lower --learning-rate"):
    """Marks the run diverged in summary.json and raises RunDiverged naming the step."""
    kept = (f"the last good checkpoint (step {last_checkpoint}) is kept"
            if last_checkpoint is not None else "no checkpoint had been taken")
    log.write_summary({"status": "diverged", "diverged_at_step": step,
                       "last_checkpoint_step": last_checkpoint, "wall_time_s": wall_time})
    raise RunDiverged(f"the loss became NaN or infinite at step {step}: the run diverged "
                      f"({kept}; summary.json says diverged); {remedy}")
