"""Converts run folders into a results folder's table (`python -m experiments tabulate`).

In place (a folder under results/ that holds raw runs, as they arrive from a sweep run
with `--log-dir results/NAME`): each finished run's records go into the folder's
runs.csv.gz, and its raw log (metrics.jsonl, TensorBoard events, checkpoints, the
original's event files, its console output) is removed, config.json and summary.json
kept. With `--from DIR` (a sweep's own folder, runs/NAME): its finished runs' records go
into the table and their config.json and summary.json are copied beside it; DIR is left
as it is. Runs not finished (a partial sweep) are left out and listed; a run tabulated
again replaces its rows. Before any raw log is removed, every run is read back from the
table and compared with its raw log, record for record, in what the table keeps.
"""

import dataclasses
import glob
import os
import shutil

from errors import UserError
from experiments.tables import (CONFIG_FILE, ORIGINAL_TREE_DEPTH, RAW_FILES, RAW_FOLDERS,
                                SETTING_FILE, SUMMARY_FILE, TABLE_FILE, ResultsFolder, decode,
                                encode, held, key_order, load_raw, read_table, rows_of,
                                run_from_rows, setting_of)
from rundir import write_json_atomic


@dataclasses.dataclass
class Tabulated:
    """What a conversion did: the runs it added (or replaced), the runs it left out as not
    finished, the rows it dropped of runs whose folder is gone, and the runs in the table."""

    added: list[str]
    unfinished: list[str]
    dropped: list[str]
    runs: int


def _checked_rows(key: str, run, train: str) -> list[dict]:
    """The run's rows, read back through the table's encoding and compared with the run."""
    rows = rows_of(key, run, train)
    back = run_from_rows(run.path, run.config, decode(encode(rows)))
    if held(run, train) != held(back, "all"):
        raise UserError(f"{run.path}: its table rows do not give back its records (a value "
                        "the table cannot hold?); nothing was changed")
    return rows


def _keep_files(source: ResultsFolder, target: str, key: str, run) -> None:
    """Writes what the table does not hold beside it: this tool's config.json and
    summary.json (copied), the original's config as its logs give it (config.json), and an
    original sweep's setting.json."""
    destination = os.path.join(target, *key.split("/"))
    os.makedirs(destination, exist_ok=True)
    kind, path = source.found[key]
    if kind == "original":
        write_json_atomic(os.path.join(destination, CONFIG_FILE), run.config)
        setting = os.path.join(source.path, setting_of(key), SETTING_FILE)
        copy = os.path.join(target, setting_of(key), SETTING_FILE)
        if os.path.isfile(setting) and os.path.abspath(setting) != os.path.abspath(copy):
            shutil.copyfile(setting, copy)
        return
    for name in (CONFIG_FILE, SUMMARY_FILE):
        if os.path.abspath(path) != os.path.abspath(destination):
            shutil.copyfile(os.path.join(path, name), os.path.join(destination, name))


def remove_raw(folder: ResultsFolder, key: str) -> None:
    """Removes a tabulated run's raw log from its folder: what a run writes beside its
    config.json and summary.json, or the original's log tree; and its console output."""
    kind, path = folder.found[key]
    run_dir = folder.folder(key)
    if kind == "original":
        tree = os.path.join(run_dir, os.path.relpath(path, run_dir).split(os.sep)[0])
        assert len(os.path.relpath(path, run_dir).split(os.sep)) == ORIGINAL_TREE_DEPTH
        shutil.rmtree(tree)
    else:
        for name in RAW_FILES:
            if os.path.isfile(os.path.join(run_dir, name)):
                os.remove(os.path.join(run_dir, name))
        for pattern in RAW_FOLDERS:
            for found in glob.glob(os.path.join(run_dir, pattern)):
                shutil.rmtree(found)
    if os.path.isfile(f"{run_dir}.output.txt"):
        os.remove(f"{run_dir}.output.txt")


def _write(target: str, table: dict[str, list[dict]]) -> None:
    rows = [row for key in sorted(table, key=key_order) for row in table[key]]
    data = encode(rows)
    path = os.path.join(target, TABLE_FILE)
    try:
        with open(path, "rb") as f:
            if f.read() == data:
                return  # The same bytes: left untouched.
    except FileNotFoundError:
        pass
    temporary = f"{path}.tmp"
    with open(temporary, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(temporary, path)


def tabulate(target: str, train: str, source: str | None = None,
             keep_raw: bool = False) -> Tabulated:
    """Adds the finished raw runs of `source` (default: `target` itself) to `target`'s
    table, keeping `train`'s train lines (tables.TRAIN_LINES); in place, removes their raw
    logs unless `keep_raw`."""
    if source is not None and not os.path.isdir(source):
        raise UserError(f"--from {source} is not a folder of runs")
    origin = ResultsFolder(source or target)
    os.makedirs(target, exist_ok=True)
    table = {key: rows for key, rows in read_table(target).items()}
    added, unfinished = [], []
    for key in sorted(origin.found, key=key_order):
        kind, _ = origin.found[key]
        if kind == "tabulated":
            continue
        if not origin.finished(key):
            unfinished.append(key)
            continue
        run = load_raw(origin.found[key][1])
        table[key] = _checked_rows(key, run, train)
        _keep_files(origin, target, key, run)
        added.append(key)
    dropped = [key for key in table
               if not os.path.isfile(os.path.join(target, *key.split("/"), CONFIG_FILE))]
    for key in dropped:
        del table[key]
    _write(target, table)
    if source is None and not keep_raw:
        for key in added:
            remove_raw(origin, key)
    return Tabulated(added, unfinished, dropped, len(table))


def describe(target: str, done: Tabulated, removed: bool) -> str:
    """One line of what a conversion did."""
    line = (f"{target}: {done.runs} run{'s' if done.runs != 1 else ''} in {TABLE_FILE}; "
            f"{len(done.added)} added"
            + ("" if not done.added or not removed else ", their raw logs removed"))
    if done.unfinished:
        line += (f"; {len(done.unfinished)} not finished, left out: "
                 f"{', '.join(done.unfinished)}")
    if done.dropped:
        line += f"; rows dropped of runs whose folder is gone: {', '.join(done.dropped)}"
    return line
