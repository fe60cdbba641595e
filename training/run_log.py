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

CONFIG_FILE = "config.json"
METRICS_FILE = "metrics.jsonl"
SUMMARY_FILE = "summary.json"


def write_json_atomic(path: str, obj: dict) -> None:
    """Writes JSON to a temporary file beside `path` and renames it: never a half file."""
    temporary = f"{path}.tmp"
    with open(temporary, "w") as f:
        json.dump(obj, f, indent=2, sort_keys=True)
        f.write("\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(temporary, path)


def create_run_dir(log_dir: str, run_name: str) -> str:
    """Makes a new, empty run directory; an existing one is refused, never reused."""
    path = os.path.join(log_dir, run_name)
    if os.path.exists(log_dir) and not os.path.isdir(log_dir):
        raise UserError(f"--log-dir {log_dir} is a file, not a folder; choose a folder "
                        "(nothing was written)")
    try:
        os.makedirs(log_dir, exist_ok=True)
        os.mkdir(path)
    except FileExistsError:
        raise UserError(f"run directory {path} already exists; choose another --run-name "
                        "or --log-dir (nothing was overwritten)") from None
    except OSError as e:
        raise UserError(f"cannot create a run directory in --log-dir {log_dir} "
                        f"({e.strerror}); choose a writable --log-dir") from None
    return path


class RunLog:
    """Writes one run's records: each to metrics.jsonl (flushed) and to TensorBoard."""

    def __init__(self, run_dir: str, task_names: Sequence[str], config: dict | None,
                 metrics_bytes: int | None = None):
        """Starts a run's log with its config; or, resuming (config None), cuts metrics.jsonl
        back to its first `metrics_bytes` bytes (its length at the checkpoint) and goes on,
        with TensorBoard's event files written afresh from the lines kept (so they hold
        what metrics.jsonl holds, not the steps between the checkpoint and the stop)."""
        self.run_dir = run_dir
        self.task_names = tuple(task_names)
        path = os.path.join(run_dir, METRICS_FILE)
        writer_dirs = [os.path.join(run_dir, "train"), os.path.join(run_dir, "test")] + [
            os.path.join(run_dir, f"test_task_{i}_{name}") for i, name in enumerate(task_names)]
        if config is not None:
            write_json_atomic(os.path.join(run_dir, CONFIG_FILE), config)
        else:
            with open(path, "r+b") as f:
                f.truncate(metrics_bytes)
            # TensorBoard's events are cut back too: written again from the kept lines.
            for directory in writer_dirs:
                for events in glob.glob(os.path.join(directory, "events.out.tfevents.*")):
                    os.remove(events)
        self._metrics = open(path, "a")
        self._train_writer, self._test_writer, *self._task_writers = [
            tf.summary.create_file_writer(directory) for directory in writer_dirs]
        if config is None:
            with open(path) as f:
                for line in f:
                    self._mirror(json.loads(line))

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
        self._metrics.close()
        for writer in (self._train_writer, self._test_writer, *self._task_writers):
            writer.close()


def evaluation_record(step: int, active: str, results: dict, wall_time: float) -> dict:
    """A test line of metrics.jsonl, from evaluate()'s results."""
    accuracy = {name: r["accuracy"] for name, r in results.items()}
    return {"step": step, "kind": "test", "active_task": active,
            "test_accuracy": accuracy,
            "test_accuracy_all": mean(list(accuracy.values())),
            "test_loss": {name: r["loss"] for name, r in results.items()},
            "wall_time": wall_time}


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
