"""The run log: config.json, append-only metrics.jsonl, summary.json and TensorBoard events.

metrics.jsonl is the record plots read: one JSON object a line, every line with
`step`, `kind` ("train" or "test") and `active_task`. TensorBoard gets the same
scalars in the original tool's layout: `train/`, `test/` (all tasks together)
and one `test_task_<i>_<name>/` writer per task, each with a scalar `accuracy`.
"""

import contextlib
import glob
import json
import os
from typing import Sequence

import numpy as np
import tensorflow as tf

from errors import RunDiverged, UserError, first_line
from rundir import (CONFIG_FILE, METRICS_FILE, RESUMES_FILE, SUMMARY_FILE, write_json_atomic,
                    write_text_atomic)


# The fix when a resume is refused for a damaged log.
UNCHANGED = ("put back the run's own metrics.jsonl, or start the run afresh under another "
             "--run-name (nothing was changed)")


class RunLog:
    """Writes one run's records: each to metrics.jsonl (unbuffered) and to TensorBoard."""

    def __init__(self, run_dir: str, task_names: Sequence[str], config: dict | None):
        """Starts a run's log with its config; or, resuming (config None), waits for
        `resume_at` once the checkpoint is restored: nothing is changed before."""
        self.run_dir = run_dir
        self.task_names = tuple(task_names)
        self._path = os.path.join(run_dir, METRICS_FILE)
        self._writer_dirs = [os.path.join(run_dir, "train"), os.path.join(run_dir, "test")] + [
            os.path.join(run_dir, f"test_task_{i}_{name}") for i, name in enumerate(task_names)]
        self._metrics = None
        self._writers = []  # train/, test/, then a test_task_<i>_<name>/ per task.
        if config is not None:
            write_json_atomic(os.path.join(run_dir, CONFIG_FILE), config)
            try:
                self._open()
            except BaseException:
                self.close()
                raise

    def _open(self) -> None:
        self._metrics = open(self._path, "ab", buffering=0)
        for directory in self._writer_dirs:
            self._writers.append(tf.summary.create_file_writer(directory))
        self._train_writer, self._test_writer, *self._task_writers = self._writers

    def resume_at(self, state: dict) -> list[int]:
        """Goes on from the restored checkpoint of `state`: cuts metrics.jsonl back to its
        length then, writes TensorBoard's event files afresh from the lines kept (so they
        hold what metrics.jsonl holds, not the steps between the checkpoint and the stop),
        and records the resume. What it needs is read and checked first (the lines kept,
        resumes.jsonl, folders and files it writes): a refusal changes nothing. Returns the
        step of every resume of the run so far, this one last."""
        kept = self._kept_records(state)
        resumes = [*self._resumes(), state["step"]]
        self._check_writable()
        try:
            with open(self._path, "r+b") as f:
                f.truncate(state["metrics_bytes"])
            for directory in self._writer_dirs:
                for events in glob.glob(os.path.join(directory, "events.out.tfevents.*")):
                    os.remove(events)
            self._open()
            for record in kept:
                self._mirror(record)
            write_text_atomic(os.path.join(self.run_dir, RESUMES_FILE),
                              "".join(json.dumps({"step": step}) + "\n" for step in resumes))
        except (OSError, tf.errors.OpError) as e:
            raise UserError(f"cannot rewrite the run log in {self.run_dir} ({_reason(e)}); "
                            f"free space or fix permissions, then --resume {self.run_dir} "
                            "again (it goes on from the same checkpoint)") from None
        return resumes

    def _kept_records(self, state: dict) -> list[dict]:
        """The records of metrics.jsonl's first state["metrics_bytes"] bytes, checked."""
        try:
            with open(self._path, "rb") as f:
                kept = f.read(state["metrics_bytes"])
        except OSError as e:
            raise UserError(f"cannot read {self._path} ({e.strerror}); {UNCHANGED}") from None
        if len(kept) < state["metrics_bytes"] or (kept and not kept.endswith(b"\n")):
            raise UserError(f"{self._path} holds {len(kept)} bytes where its checkpoint at step "
                            f"{state['step']} recorded {state['metrics_bytes']} (lines ending "
                            f"there): it was cut or changed; {UNCHANGED}")
        records = []
        for number, line in enumerate(kept.decode(errors="replace").splitlines(), 1):
            try:
                record = json.loads(line)
            except ValueError as e:
                raise UserError(f"{self._path} has a damaged line {number}, before step "
                                f"{state['step']} ({e}); {UNCHANGED}") from None
            problem = self._record_problem(record)
            if problem:
                raise UserError(f"{self._path} line {number} is not a record of this run "
                                f"({problem}); {UNCHANGED}")
            records.append(record)
        return records

    def _record_problem(self, record) -> str | None:
        """What a line of metrics.jsonl lacks of what TensorBoard is given, or None."""
        if not isinstance(record, dict):
            return "not a JSON object"
        if not _is_number(record.get("step")) or not isinstance(record["step"], int):
            return "no whole-number step"
        if record.get("kind") == "train":
            fields = {"train_accuracy": record.get("train_accuracy"), "loss": record.get("loss")}
        elif record.get("kind") == "test":
            fields = {"test_accuracy_all": record.get("test_accuracy_all")}
            for name in ("test_accuracy", "test_loss"):
                values = record.get(name) if isinstance(record.get(name), dict) else {}
                fields.update({f"{name} of {task}": values.get(task) for task in self.task_names})
        else:
            return "its kind is neither train nor test"
        missing = [name for name, value in fields.items() if not _is_number(value)]
        return f"no number for {', '.join(missing)}" if missing else None

    def _resumes(self) -> list[int]:
        """The steps resumes.jsonl lists; a torn last line (a crash as it was written by an
        earlier version) is dropped, to be written whole again."""
        path = os.path.join(self.run_dir, RESUMES_FILE)
        try:
            with open(path) as f:
                lines = f.read().split("\n")
        except FileNotFoundError:
            return []
        except (OSError, ValueError) as e:
            raise UserError(f"cannot read {path} ({e}); {UNCHANGED}") from None
        steps = []
        for number, line in enumerate(lines, 1):
            try:
                steps.append(json.loads(line)["step"] if line.strip() else None)
            except (ValueError, TypeError, KeyError, IndexError):
                if number == len(lines):  # No newline after it: torn.
                    continue
                raise UserError(f"{path} line {number} is damaged: each line is a resume's "
                                f'{{"step": N}}; mend or delete that line, then --resume '
                                f"{self.run_dir} (nothing was changed)") from None
        return [step for step in steps if step is not None]

    def _check_writable(self) -> None:
        """Refuses a resume whose TensorBoard folders, metrics.jsonl or run directory it could
        not write, before anything is changed."""
        for directory in self._writer_dirs:
            if os.path.lexists(directory) and not os.path.isdir(directory):
                raise UserError(f"{directory} is not a folder, where the run keeps TensorBoard "
                                f"events; move it away, then --resume {self.run_dir} (nothing "
                                "was changed)")
        for path in [self.run_dir, self._path, *filter(os.path.isdir, self._writer_dirs)]:
            if not os.access(path, os.W_OK):
                raise UserError(f"{path} cannot be written; fix its permissions, then --resume "
                                f"{self.run_dir} (nothing was changed)")

    def write(self, record: dict, *, last_checkpoint: int | None) -> None:
        """Appends one record (a train or test line) and mirrors its scalars to TensorBoard.
        The line goes to the file whole, unbuffered: a write that fails (a full disk) is cut
        off again, leaving neither a torn line nor a buffer that a later flush would retry;
        its message says how to go on from `last_checkpoint` (the step of the run's latest
        checkpoint, None before its first)."""
        line = memoryview((json.dumps(record, sort_keys=True) + "\n").encode())
        end = self._metrics.tell()
        try:
            while line:
                line = line[self._metrics.write(line):]
        except OSError as e:
            with contextlib.suppress(OSError):
                self._metrics.truncate(end)
            go_on = (f"--resume {self.run_dir} (it goes on from its checkpoint at step "
                     f"{last_checkpoint})" if last_checkpoint is not None else
                     f"--restart {self.run_dir} (it had no checkpoint yet)")
            raise UserError(f"cannot write the run log in {self.run_dir} ({e.strerror}); free "
                            f"space or fix permissions, then {go_on}") from None
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
        """The length of metrics.jsonl so far (every record is written unbuffered)."""
        return self._metrics.tell()

    def write_summary(self, summary: dict) -> None:
        try:
            write_json_atomic(os.path.join(self.run_dir, SUMMARY_FILE), summary)
        except OSError as e:
            raise UserError(f"cannot write {SUMMARY_FILE} in {self.run_dir} ({e.strerror}); "
                            "free space or fix permissions") from None

    def close(self) -> None:
        """Closes what was opened (nothing, for a resume refused before it changed the log)."""
        if self._metrics is not None:
            self._metrics.close()
        for writer in self._writers:
            writer.close()

    def __enter__(self):
        return self

    def __exit__(self, kind, error, traceback) -> None:
        """Closes the log; a failure then (TensorBoard's last events, on a full disk) is one
        line, or nothing beside an error already on its way, which says what to do."""
        try:
            self.close()
        except (OSError, tf.errors.OpError) as e:
            if kind is None:
                raise UserError(f"cannot finish writing the TensorBoard events in "
                                f"{self.run_dir} ({_reason(e)}); metrics.jsonl holds every "
                                "record: free space to see them in TensorBoard") from None


def evaluation_record(step: int, active: str, results: dict, wall_time: float) -> dict:
    """A test line of metrics.jsonl, from evaluate()'s results; with a head per task, the
    task-agnostic accuracies beside the task-aware ones (test_accuracy)."""
    accuracy = {name: r["accuracy"] for name, r in results.items()}
    record = {"step": step, "kind": "test", "active_task": active,
              "test_accuracy": accuracy,
              "test_accuracy_all": mean(list(accuracy.values())),
              "test_loss": {name: r["loss"] for name, r in results.items()}}
    # A head per task: the accuracy without the task given, too; --task-masked-accuracy:
    # the accuracy among each task's own classes of the shared head, too.
    for kind, values in extra_accuracies(results).items():
        record[f"test_accuracy_{kind}"] = values
        record[f"test_accuracy_{kind}_all"] = mean(list(values.values()))
    return {**record, "wall_time": wall_time}


EXTRA_ACCURACIES = ("task_agnostic", "task_masked")


def extra_accuracies(results: dict) -> dict[str, dict[str, float]]:
    """The accuracies beside each task's own that evaluate() gave: kind -> task -> value."""
    extras = {kind: {name: r[f"accuracy_{kind}"] for name, r in results.items()
                     if f"accuracy_{kind}" in r} for kind in EXTRA_ACCURACIES}
    return {kind: values for kind, values in extras.items() if values}


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _reason(error: Exception) -> str:
    """An OSError's or TensorFlow error's cause, in a few words."""
    return getattr(error, "strerror", None) or first_line(error)


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
               "steps": len(losses), "wall_time": wall_time}, last_checkpoint=last_checkpoint)


def raise_diverged(log: RunLog, step: int, last_checkpoint: int | None, wall_time: float,
                   remedy: str = "lower --learning-rate"):
    """Marks the run diverged in summary.json and raises RunDiverged naming the step."""
    kept = (f"the last good checkpoint (step {last_checkpoint}) is kept"
            if last_checkpoint is not None else "no checkpoint had been taken")
    log.write_summary({"status": "diverged", "diverged_at_step": step,
                       "last_checkpoint_step": last_checkpoint, "wall_time_s": wall_time})
    raise RunDiverged(f"the loss became NaN or infinite at step {step}: the run diverged "
                      f"({kept}; summary.json says diverged); {remedy}")
