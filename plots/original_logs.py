"""Reads a log directory of the original task.py (TensorBoard events) as a Run.

The original wrote, under log_dir/t_<tasks>/<input style>/<optimizer>/n_<network>/
tt<task time>/<date>/, the folders train/, test/ and test_task_<i>_<name>/, each
holding event files with a scalar `accuracy`. The settings that its folder names
record are read back from the path where they are there.
"""

import glob
import os
import re

import numpy as np

from errors import UserError
from plots.runlog import Run

_TASK_DIR = re.compile(r"^test_task_(\d+)_(.+)$")


def read_scalars(directory: str, tag: str = "accuracy") -> dict[int, float]:
    """{step: value} of one scalar over a folder's event files (TF1 or TF2 format)."""
    import tensorflow as tf

    values = {}
    for path in sorted(glob.glob(os.path.join(directory, "events.out.tfevents.*"))):
        try:
            for event in tf.compat.v1.train.summary_iterator(path):
                for value in event.summary.value:
                    if value.tag != tag:
                        continue
                    if value.HasField("simple_value"):
                        values[event.step] = float(value.simple_value)
                    else:
                        values[event.step] = float(np.asarray(tf.make_ndarray(value.tensor)))
        except tf.errors.DataLossError:
            continue  # A torn last record of a file still being written: keep what came before.
    return values


def _settings_from_path(path: str) -> dict:
    settings = {}
    parts = os.path.normpath(os.path.abspath(path)).split(os.sep)
    for i, part in enumerate(parts):
        if re.fullmatch(r"tt\d+", part):
            settings["task_time"] = int(part[2:])
        elif part.startswith("n_"):
            settings["network"] = part[2:].split("_")
            if i >= 2 and parts[i - 2] in ("combined", "channelplex"):
                settings["input_style"] = parts[i - 2]
                settings["optimizer"] = parts[i - 1]
    return settings


def load_original_run(path: str) -> Run:
    """The original's folders as a Run: test lines per evaluated step, train lines per summary."""
    tasks = {}
    for name in os.listdir(path):
        match = _TASK_DIR.match(name)
        if match:
            tasks[int(match.group(1))] = (match.group(2), os.path.join(path, name))
    order = [tasks[i] for i in sorted(tasks)]
    curves = {name: read_scalars(directory) for name, directory in order}
    steps = sorted(set.intersection(*(set(curve) for curve in curves.values())))
    if not steps:
        raise UserError(f"{path} has the original tool's folders but no `accuracy` events "
                        "common to all tasks; is the run complete?")
    config = {"tasks": [name for name, _ in order], "source": "original task.py",
              **_settings_from_path(path)}
    config["max_steps"] = steps[-1]
    task_time = config.get("task_time")

    def active(step):
        return config["tasks"][(step // task_time) % len(order)] if task_time else None

    tests = tuple({"step": s, "kind": "test", "active_task": active(s),
                   "test_accuracy": {name: curves[name][s] for name, _ in order},
                   "test_accuracy_all": float(np.mean([curves[name][s] for name, _ in order]))}
                  for s in steps)
    train_dir = os.path.join(path, "train")
    train = read_scalars(train_dir) if os.path.isdir(train_dir) else {}
    trains = tuple({"step": s, "kind": "train", "active_task": active(s), "train_accuracy": v}
                   for s, v in sorted(train.items()))
    return Run(path, config, tests, trains)
