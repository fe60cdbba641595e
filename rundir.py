"""A run directory's format and ownership, in one place and TensorFlow-free.

A run directory holds config.json (the settings and where the run was made),
metrics.jsonl (one JSON record a line, each with `step`, `kind` "train" or "test",
and `active_task`), summary.json (written at the end: `status` "completed",
"diverged", "failed" or "interrupted"), resumes.jsonl (one line per resume),
checkpoint/ (state.json naming the latest checkpoint) and the TensorBoard folders
train/, test/ and test_task_<i>_<name>/. training/ writes it, plots/ and
experiments/ read it, all through this module; `.lock` is held by the process
writing the run (RunDirLock).
"""

import contextlib
import fcntl
import glob
import json
import os
import shutil
import sys

from errors import UserError

CONFIG_FILE = "config.json"
METRICS_FILE = "metrics.jsonl"
SUMMARY_FILE = "summary.json"
RESUMES_FILE = "resumes.jsonl"  # One line a resume: the step it went on from.
LOCK_FILE = ".lock"  # Held by the process writing the run (RunDirLock).
CHECKPOINT_DIR = "checkpoint"
STATE_FILE = "state.json"
TENSORBOARD_DIRS = ("train", "test", "test_task_*")


def write_json_atomic(path: str, obj: dict) -> None:
    """Writes JSON to a temporary file beside `path` and renames it: never a half file."""
    write_text_atomic(path, json.dumps(obj, indent=2, sort_keys=True) + "\n")


def write_text_atomic(path: str, text: str) -> None:
    """Writes `text` to a temporary file beside `path` and renames it: never a half file,
    and no temporary left behind when the write fails (a full disk)."""
    temporary = f"{path}.tmp"
    try:
        with open(temporary, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(temporary)
        raise


def clear_run_dir(run_dir: str) -> None:
    """Removes what a run wrote in its directory (its log, summary, resumes, checkpoints and
    TensorBoard folders), for a restart in place; anything else there is left."""
    for name in (METRICS_FILE, SUMMARY_FILE, RESUMES_FILE):
        with contextlib.suppress(FileNotFoundError):
            os.remove(os.path.join(run_dir, name))
    for pattern in (CHECKPOINT_DIR, *TENSORBOARD_DIRS):
        for path in glob.glob(os.path.join(run_dir, pattern)):
            shutil.rmtree(path, ignore_errors=True)


class RunDirLock:
    """This process's hold on a run directory, so that no two processes write one run: an
    exclusive flock on RUN_DIR/.lock, which holds the owner's pid. The system drops the lock
    when the process ends however it ends (kill -9 included), so a lock left by a dead
    process is never in the way; `release` removes the file."""

    def __init__(self, run_dir: str):
        self.path = os.path.join(run_dir, LOCK_FILE)
        while True:
            try:
                lock = open(self.path, "a+")
            except OSError as e:
                raise UserError(f"cannot take hold of {run_dir} ({e.strerror}); point at a "
                                "run directory you can write") from None
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                lock.seek(0)
                owner = lock.read().strip() or "unknown"
                lock.close()
                raise UserError(f"{run_dir} is in use by another process (pid {owner}); wait "
                                "for it to end or stop it, then try again (nothing was "
                                "changed)") from None
            try:
                if os.stat(self.path).st_ino == os.fstat(lock.fileno()).st_ino:
                    break  # Not a file that its last owner removed as we opened it.
            except FileNotFoundError:
                pass
            lock.close()
        try:
            lock.truncate(0)
            lock.write(f"{os.getpid()}\n")
            lock.flush()
        except OSError as e:  # A full disk.
            with contextlib.suppress(OSError):
                os.remove(self.path)
            lock.close()
            raise UserError(f"cannot take hold of {run_dir} ({e.strerror}); free space, then "
                            "try again (nothing was changed)") from None
        self._file = lock

    def release(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.remove(self.path)
        self._file.close()


def run_dir_owner(run_dir: str) -> str | None:
    """The pid of the live process writing the run (holding its RunDirLock), or None."""
    try:
        lock = open(os.path.join(run_dir, LOCK_FILE))
    except OSError:
        return None
    with lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return lock.read().strip() or "unknown"
        return None


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


# What every state.json holds, with its type.
STATE_FIELDS = {"step": int, "prefix": str, "metrics_bytes": int, "train_time_s": (int, float),
                "eval_time_s": (int, float), "wall_time_s": (int, float)}


def latest_state(run_dir: str) -> dict | None:
    """The state.json of a run's latest checkpoint, or None if it has none."""
    path = os.path.join(run_dir, CHECKPOINT_DIR, STATE_FILE)
    try:
        with open(path) as f:
            state = json.load(f)
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as e:
        raise UserError(f"cannot read {path} ({e}); the checkpoint is damaged: start the run "
                        "afresh under another --run-name") from None
    wrong = invalid_state_fields(state)
    if wrong:
        raise UserError(f"{path} lacks a valid {', '.join(wrong)}; the checkpoint is damaged: "
                        "start the run afresh under another --run-name")
    return state


def invalid_state_fields(state) -> list[str]:
    """The STATE_FIELDS that `state` lacks or holds with another type."""
    if not isinstance(state, dict):
        return list(STATE_FIELDS)
    return [name for name, kind in STATE_FIELDS.items()
            if not isinstance(state.get(name), kind) or isinstance(state.get(name), bool)]


def read_json_object(path: str) -> dict | None:
    """A JSON file's object, or None if it is missing, unreadable, torn or not an object."""
    try:
        with open(path) as f:
            value = json.load(f)
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def read_summary(run_dir: str) -> dict | None:
    """A run's summary.json, or None while it has none (running, or killed) or a torn one."""
    return read_json_object(os.path.join(run_dir, SUMMARY_FILE))


def is_complete(run_dir: str) -> bool:
    """Whether the run ended as planned: its summary says completed."""
    summary = read_summary(run_dir)
    return summary is not None and summary.get("status") == "completed"


def has_checkpoint(run_dir: str) -> bool:
    """Whether the run has written a checkpoint it could be resumed from."""
    return os.path.exists(os.path.join(run_dir, CHECKPOINT_DIR, STATE_FILE))


def has_metrics(run_dir: str) -> bool:
    return os.path.isfile(os.path.join(run_dir, METRICS_FILE))


def read_config(run_dir: str, fix: str) -> dict:
    """A run's config.json; a UserError that ends with `fix` if it cannot be read."""
    path = os.path.join(run_dir, CONFIG_FILE)
    try:
        with open(path) as f:
            config = json.load(f)
    except (OSError, ValueError) as e:
        raise UserError(f"{run_dir}: cannot read its {CONFIG_FILE} ({e}); {fix}") from None
    if not isinstance(config, dict):
        raise UserError(f"{path} holds no settings; {fix}")
    return config


def record_problem(record) -> str | None:
    """Why a metrics.jsonl line's JSON is no record (this module's docstring says what one
    holds, a test line its test_accuracy by task and their mean, a train line its
    train_accuracy), or None if it is one."""
    if not isinstance(record, dict):
        return "not a JSON object"
    step, kind = record.get("step"), record.get("kind")
    if not isinstance(step, int) or isinstance(step, bool):
        return f"its step is {json.dumps(step)}, not a whole number"
    if kind not in ("train", "test"):
        return f'its kind is {json.dumps(kind)}, not "train" or "test"'
    if kind == "train":
        return None if _is_number(record.get("train_accuracy")) else "no train_accuracy number"
    accuracies = record.get("test_accuracy")
    if not (isinstance(accuracies, dict) and all(map(_is_number, accuracies.values()))
            and _is_number(record.get("test_accuracy_all"))):
        return "no test_accuracy numbers by task and test_accuracy_all"
    return None


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def read_metrics(run_dir: str) -> list[dict]:
    """The records of a run's metrics.jsonl, in file order. A torn last line (the run is
    writing it, or died) is left out with a warning; any other bad line, or one that is
    JSON but no record (record_problem), is an error."""
    path = os.path.join(run_dir, METRICS_FILE)
    with open(path) as f:
        lines = f.read().split("\n")
    records = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            if number >= len(lines) - 1:
                print(f"warning: {path}: ignoring a torn last line {number}", file=sys.stderr)
                continue
            raise UserError(f"{path} line {number} is not JSON; the file is damaged "
                            "(only a torn last line is tolerated)") from None
        problem = record_problem(records[-1])
        if problem:
            raise UserError(f"{path} line {number} is no record ({problem}); the file is "
                            "damaged: mend or remove that line")
    return records
