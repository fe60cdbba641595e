"""Result tables: a results folder's runs as one tidy, gzip-compressed CSV, runs.csv.gz,
beside each run's config.json and summary.json.

    pandas.read_csv("results/switching/runs.csv.gz")

One row per (run, task, step): `run` (the run's folder under the table's, whose
config.json holds every setting), `setting` (the run's grid point: its seeds share it),
`seed` (empty for the original's unseeded runs), `task`, `step`, `test_accuracy` (at an
evaluation) and `train_accuracy` (the active task's, over the train line's steps); where a
folder's runs log them, `test_accuracy_task_agnostic` (a head per task, evaluated without
the task given), and an episodic run's `episode` and `trials` (the task's training
examples so far). A table keeps every evaluation and, of the train lines, those the
report reads (`TRAIN_LINES`); a run's other records stay in its raw log, out of the
repository.

The table is written byte for byte the same from the same runs (rows in a fixed order,
floats as Python writes them back exactly, gzip's time stamp 0), so that a rerun of the
conversion changes nothing it need not. `ResultsFolder` reads a folder's runs back as
plots.runlog's Runs: from their raw logs where a run still has them (a sweep's folder, or
runs just arrived), else from the table.
"""

import csv
import dataclasses
import fnmatch
import gzip
import io
import os
import re

from errors import UserError
from rundir import (CHECKPOINT_DIR, CONFIG_FILE, METRICS_FILE, RESUMES_FILE, SUMMARY_FILE,
                    TENSORBOARD_DIRS, is_complete, read_json_object, read_summary)

TABLE_FILE = "runs.csv.gz"
COLUMNS = ("run", "setting", "seed", "task", "step", "test_accuracy", "train_accuracy")
# Columns a table has only where its runs log them.
OPTIONAL_COLUMNS = ("test_accuracy_task_agnostic", "episode", "trials")
# Which train lines a table keeps: every one (a chart draws the training curve), those in
# the last TRAIN_WINDOW steps of each task period (the report's training accuracy at a
# period's end), or none.
TRAIN_LINES = ("all", "period-ends", "none")
TRAIN_WINDOW = 100
# A raw run's files and folders beyond config.json and summary.json: what a conversion in
# place removes once the table holds the run.
RAW_FILES = (METRICS_FILE, RESUMES_FILE)
RAW_FOLDERS = (CHECKPOINT_DIR, *TENSORBOARD_DIRS)
SETTING_FILE = "setting.json"  # An original sweep's setting (fidelity.original_sweep).
# The original's log tree below its run folder: t_<tasks>/<style>/<optimizer>/n_<network>/
# tt<task time>/<date>/.
ORIGINAL_TREE_DEPTH = 6


def run_key(folder: str, path: str) -> str:
    """A run's name in its folder's table: its folder relative to the table's, '/'
    separated; an original run's is the folder its log tree was written into (its
    TF1 tree of settings and date below it left out)."""
    parts = os.path.relpath(path, folder).split(os.sep)
    if (len(parts) > ORIGINAL_TREE_DEPTH and parts[-ORIGINAL_TREE_DEPTH].startswith("t_")
            and _is_original(path)):
        parts = parts[:-ORIGINAL_TREE_DEPTH]
    return "/".join(parts)


def setting_of(key: str) -> str:
    """The grid point a run belongs to: its name without its seed (NAME-sSEED), or the
    folder of its numbered runs (SETTING/3, project/seed3)."""
    head, _, last = key.rpartition("/")
    if re.fullmatch(r"(seed)?\d+", last) and head:
        return head
    stripped = re.sub(r"-s\d+$", "", last)
    return f"{head}/{stripped}" if head else stripped


def key_order(key: str) -> tuple[str, ...]:
    """Keys in the order a sorted walk of their folders meets them."""
    return tuple(key.split("/"))


def _is_tool(path: str) -> bool:
    return os.path.isfile(os.path.join(path, METRICS_FILE))


def _is_original(path: str) -> bool:
    return os.path.isdir(path) and any(name.startswith("test_task_")
                                       for name in os.listdir(path))


def find_run_folders(folder: str) -> dict[str, tuple[str, str]]:
    """{key: (kind, path)} of every run at or below `folder`: "tool" (a raw run of this
    tool: metrics.jsonl), "original" (the original's event files: path is its log tree's
    last folder) or "tabulated" (config.json or summary.json only: its records in the
    table); a raw log wins over a tabulated run of the same key. Folders a sweep set aside
    as incomplete are left out."""
    found = {}
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if ".incomplete-" not in d)
        if root == folder:
            continue
        if METRICS_FILE in files:
            found[run_key(folder, root)] = ("tool", root)
            dirs.clear()
        elif any(d.startswith("test_task_") for d in dirs):
            found[run_key(folder, root)] = ("original", root)
            dirs.clear()
        elif CONFIG_FILE in files or SUMMARY_FILE in files:
            found.setdefault(run_key(folder, root), ("tabulated", root))
    return found


def _setting(folder: str, key: str) -> dict | None:
    """The setting.json an original sweep wrote beside a run's folder, if any."""
    return read_json_object(os.path.join(folder, setting_of(key), SETTING_FILE))


def kept_trains(run, train: str) -> list[dict]:
    """The run's train lines that a table keeps (TRAIN_LINES)."""
    if train == "all":
        return list(run.trains)
    if train == "none":
        return []
    ends = [end for _, end, _ in run.periods()]
    return [r for r in run.trains
            if any(end - TRAIN_WINDOW < r["step"] <= end for end in ends)]


def rows_of(key: str, run, train: str) -> list[dict]:
    """The table's rows of one run, by step, then in the order of the run's tasks."""
    original = bool(run.config.get("source"))
    base = {"run": key, "setting": setting_of(key),
            "seed": None if original else run.config.get("seed")}
    cells: dict[tuple[int, str | None], dict] = {}

    def cell(step, task):
        return cells.setdefault((step, task), {**base, "task": task, "step": step})

    for record in run.tests:
        for task in run.tasks:
            row = cell(record["step"], task)
            row["test_accuracy"] = record["test_accuracy"][task]
            if "test_accuracy_task_agnostic" in record:
                row["test_accuracy_task_agnostic"] = record["test_accuracy_task_agnostic"][task]
            if "episode" in record:
                row["episode"] = record["episode"]
            if "trials" in record:
                row["trials"] = record["trials"][task]
    for record in kept_trains(run, train):
        cell(record["step"], record["active_task"])["train_accuracy"] = record["train_accuracy"]
    place = {task: i for i, task in enumerate(run.tasks)}
    return [cells[k] for k in sorted(cells, key=lambda k: (k[0], place.get(k[1], len(place))))]


def _text(value) -> str:
    if value is None:
        return ""
    return repr(value) if isinstance(value, float) else str(value)


def encode(rows: list[dict]) -> bytes:
    """The rows as gzip-compressed CSV, the same bytes for the same rows."""
    columns = list(COLUMNS) + [c for c in OPTIONAL_COLUMNS if any(c in row for row in rows)]
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows([_text(row.get(column)) for column in columns] for row in rows)
    out = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=out, mtime=0) as f:
        f.write(text.getvalue().encode())
    return out.getvalue()


_INTS = ("seed", "step", "episode", "trials")
_FLOATS = ("test_accuracy", "train_accuracy", "test_accuracy_task_agnostic")


def decode(data: bytes) -> list[dict]:
    """`encode`'s rows back, numbers as numbers and empty cells left out."""
    rows = []
    for raw in csv.DictReader(io.StringIO(gzip.decompress(data).decode())):
        row = {}
        for column, value in raw.items():
            if value == "":
                continue
            row[column] = int(value) if column in _INTS else float(value) \
                if column in _FLOATS else value
        rows.append(row)
    return rows


def read_table(folder: str) -> dict[str, list[dict]]:
    """{run key: its rows} of the folder's table; empty if it has none."""
    path = os.path.join(folder, TABLE_FILE)
    try:
        with open(path, "rb") as f:
            rows = decode(f.read())
    except FileNotFoundError:
        return {}
    except (OSError, EOFError, gzip.BadGzipFile, csv.Error, ValueError) as e:
        raise UserError(f"cannot read {path} ({e}); restore it from the repository "
                        "(git checkout) or make it again from the raw runs") from None
    by_run: dict[str, list[dict]] = {}
    for row in rows:
        by_run.setdefault(row["run"], []).append(row)
    return by_run


def run_from_rows(path: str, config: dict, rows: list[dict]):
    """A Run from its table rows: test records at each evaluated step (the mean over tasks
    as the run computed it, in its tasks' order), train records where the table kept them."""
    from plots.runlog import Run

    tasks = list(config["tasks"])
    tests: dict[int, dict] = {}
    trains = []
    for row in rows:
        if "test_accuracy" in row:
            record = tests.setdefault(row["step"], {"step": row["step"], "kind": "test",
                                                    "test_accuracy": {}})
            record["test_accuracy"][row["task"]] = row["test_accuracy"]
            for column, field in (("test_accuracy_task_agnostic", "test_accuracy_task_agnostic"),
                                  ("trials", "trials")):
                if column in row:
                    record.setdefault(field, {})[row["task"]] = row[column]
            if "episode" in row:
                record["episode"] = row["episode"]
        if "train_accuracy" in row:
            trains.append({"step": row["step"], "kind": "train",
                           "active_task": row.get("task"),
                           "train_accuracy": row["train_accuracy"]})
    for record in tests.values():
        values = [record["test_accuracy"][t] for t in tasks if t in record["test_accuracy"]]
        record["test_accuracy_all"] = sum(values) / len(values)  # As training.run_log's mean.
    if not tests:
        raise UserError(f"{path} has no evaluations in its table")
    return Run(path, config, tuple(tests.values()), tuple(trains))


def held(run, train: str) -> tuple[list[dict], list[dict]]:
    """What a table holds of a run's records: (tests, trains), each record's fields as
    run_from_rows gives them back."""
    fields = ("step", "kind", "test_accuracy", "test_accuracy_all", "episode", "trials",
              "test_accuracy_task_agnostic")
    tests = [{k: r[k] for k in fields if k in r} for r in run.tests]
    trains = [{k: r[k] for k in ("step", "kind", "active_task", "train_accuracy")}
              for r in kept_trains(run, train)]
    return tests, trains


def _config(path: str) -> dict:
    """A tabulated run's config as a Run has it: an original's as written, this tool's
    over the settings' defaults (as plots.runlog reads a raw run's)."""
    config = read_json_object(os.path.join(path, CONFIG_FILE))
    if config is None:
        raise UserError(f"{path} has no readable {CONFIG_FILE}; restore it from the "
                        "repository, or tabulate its raw run again")
    if config.get("source"):
        return config
    from plots.runlog import setting_defaults

    return {**setting_defaults(), **config}


def load_raw(path: str):
    """A raw run, this tool's or the original's, as a Run."""
    from plots.runlog import load_run

    return load_run(path)


class ResultsFolder:
    """The runs of one results folder, each read from its raw log where it still has one
    (a sweep's folder, or runs just arrived) and else from the folder's table; Run.path
    is the run's folder under it (for the original, the folder above its log tree)."""

    def __init__(self, path: str):
        self.path = path
        self.found = find_run_folders(path) if os.path.isdir(path) else {}
        self._table: dict[str, list[dict]] | None = None

    def table(self) -> dict[str, list[dict]]:
        if self._table is None:
            self._table = read_table(self.path)
        return self._table

    def folder(self, key: str) -> str:
        return os.path.join(self.path, *key.split("/"))

    def complete(self, key: str) -> bool:
        """Whether a run ended as planned: its summary says so; the original's, which writes
        none, once its logs have an evaluation of every task."""
        kind, path = self.found[key]
        if kind == "tool":
            return is_complete(path)
        if kind == "tabulated":
            config = read_json_object(os.path.join(path, CONFIG_FILE)) or {}
            return bool(config.get("source")) or is_complete(path)
        try:
            load_raw(path)
        except UserError:  # No evaluation common to all its tasks yet.
            return False
        return True

    def finished(self, key: str) -> bool:
        """Whether a complete run will log nothing more: an original run of a sweep once it
        reached its setting's last step (setting.json's max_steps), as a sweep judges it."""
        kind, path = self.found[key]
        if kind != "original":
            return self.complete(key)
        setting = _setting(self.path, key) or {}
        try:
            return load_raw(path).last_step >= setting.get("max_steps", 0)
        except UserError:
            return False

    def keys(self, pattern: str = "*") -> list[str]:
        """The complete runs' keys that match the shell `pattern`, in order."""
        return sorted((key for key in self.found if fnmatch.fnmatchcase(key, pattern)
                       and self.complete(key)), key=key_order)

    def run(self, key: str):
        kind, path = self.found[key]
        if kind != "tabulated":
            return dataclasses.replace(load_raw(path), path=self.folder(key))
        if key not in self.table():
            raise UserError(f"{path} has neither its raw log ({METRICS_FILE}) nor rows in "
                            f"{os.path.join(self.path, TABLE_FILE)}; restore the table from "
                            "the repository, or remove the run's folder")
        return run_from_rows(self.folder(key), _config(path), self.table()[key])

    def runs(self, pattern: str = "*") -> list:
        return [self.run(key) for key in self.keys(pattern)]

    def summary(self, key: str) -> dict | None:
        return read_summary(self.folder(key))

    def config(self, key: str) -> dict:
        """The run's config.json as written."""
        return read_json_object(os.path.join(self.folder(key), CONFIG_FILE)) or {}

    def by_setting(self, pattern: str = "*") -> dict[str, list[str]]:
        """The complete runs' keys matching `pattern`, grouped by setting, in order."""
        groups: dict[str, list[str]] = {}
        for key in self.keys(pattern):
            groups.setdefault(setting_of(key), []).append(key)
        return groups
