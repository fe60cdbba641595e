"""Reads a log directory of the original task.py (TensorBoard events) as a run's config and
records, which plots.runlog makes a Run.

The original wrote, under log_dir/t_<tasks>/<input style>/<TF1 optimizer name>/
n_<network>/tt<task time>/<date>/, the folders train/, test/ and
test_task_<i>_<name>/. Each holds event files with one scalar, its accuracy,
tagged `accuracy_1` (TF1 uniquified the summary's name scope because the graph
already had a scope `accuracy`; another graph could give `accuracy_2`, and a
rewritten log plain `accuracy`). `test/` is the accuracy over every task's test
set concatenated (pooled), `train/` one training batch's accuracy (dropout on)
every 10 steps. The settings that its folder names record are read back from the
path where they are there; the optimizer folder is TF1's name for it
(`GradientDescent`, `Adam`).

The original ran `--max-steps` N steps, 0 to N-1, and tested instead of training
at every multiple of `--test-frequency`, so its last test is the last multiple
below N. N is not in the log: the run's length (`max_steps` here, the end of its
last period) is read back as the step its training reached, the later of its last
test and its last train summary rounded up to the train summary frequency (10):
800 for `--max-steps 800` (last test 700, last summary 790) and for 801 (whose
step 800 tested and trained nothing).
"""

import glob
import os
import re
import struct
import sys
from typing import Iterator

import numpy as np

from errors import UserError
from schedule import Schedule

_TASK_DIR = re.compile(r"^test_task_(\d+)_(.+)$")
_ACCURACY_TAG = re.compile(r"^accuracy(_\d+)?$")
# TF1's optimizer names (its folder names) -> this tool's --optimizer values.
OPTIMIZERS = {"GradientDescent": "sgd", "Adam": "adam", "Momentum": "momentum",
              "RMSProp": "rmsprop"}
TRAIN_SUMMARY_FREQUENCY = 10  # The original's default --train-summary-frequency.


def event_records(path: str) -> Iterator[bytes]:
    """The records of a TFRecord file (an event file): each a little-endian uint64 length,
    its CRC, the data and the data's CRC. A torn last record (a file still being written)
    ends the file, and so does a damaged length (its CRC does not match), with a warning:
    no length is read past the file's end. The data's CRCs are not checked (a damaged
    record fails to parse instead)."""
    from tensorboard.compat.tensorflow_stub.pywrap_tensorflow import masked_crc32c

    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        while len(header := f.read(12)) == 12:
            (length, crc) = struct.unpack("<QI", header)
            if crc != masked_crc32c(header[:8]):
                print(f"warning: {path}: a damaged record at byte {f.tell() - 12}; reading "
                      "stops there (the records before it are kept)", file=sys.stderr)
                return
            if length + 4 > size - f.tell():
                return
            data = f.read(length)
            f.read(4)
            yield data


def read_scalars(directory: str) -> dict[int, float]:
    """{step: value} of a folder's accuracy scalar over its event files (TF1 or TF2 format),
    read with TensorBoard's protocol buffers: no TensorFlow, and none of its log lines."""
    from google.protobuf.message import DecodeError
    from tensorboard.compat.proto.event_pb2 import Event
    from tensorboard.util.tensor_util import make_ndarray

    by_tag: dict[str, dict[int, float]] = {}
    for path in sorted(glob.glob(os.path.join(directory, "events.out.tfevents.*"))):
        try:
            for record in event_records(path):
                event = Event.FromString(record)
                for value in event.summary.value:
                    if not _ACCURACY_TAG.match(value.tag):
                        continue
                    if value.HasField("simple_value"):
                        number = float(value.simple_value)
                    else:
                        number = float(np.asarray(make_ndarray(value.tensor)))
                    by_tag.setdefault(value.tag, {})[event.step] = number
        except DecodeError:
            continue  # A damaged record: keep what came before it.
    if len(by_tag) > 1:
        raise UserError(f"{directory} holds several accuracy scalars ({', '.join(sorted(by_tag))}); "
                        "give a folder written by one run of the original")
    return next(iter(by_tag.values()), {})


def settings_from_path(path: str) -> dict:
    """The settings the original's folder names record: task time, network, input style,
    optimizer (as this tool's --optimizer value)."""
    settings = {}
    parts = os.path.normpath(os.path.abspath(path)).split(os.sep)
    for i, part in enumerate(parts):
        if re.fullmatch(r"tt\d+", part):
            settings["task_time"] = int(part[2:])
        elif part.startswith("n_") and i >= 2 and parts[i - 2] in ("combined", "channelplex"):
            settings["network"] = part[2:].split("_")
            settings["input_style"] = parts[i - 2]
            settings["optimizer"] = OPTIMIZERS.get(parts[i - 1], parts[i - 1].lower())
    return settings


def run_length(last_test: int, last_train: int | None) -> int:
    """The step the original's training reached, from its last test and train summary."""
    if last_train is None:
        return last_test
    return max(last_test, -(-(last_train + 1) // TRAIN_SUMMARY_FREQUENCY)
               * TRAIN_SUMMARY_FREQUENCY)


def read_original_run(path: str) -> tuple[dict, tuple[dict, ...], tuple[dict, ...]]:
    """The original's folders as this tool's run would be: (config, test lines per evaluated
    step, train lines per summary), each sorted by step."""
    tasks = {}
    for name in os.listdir(path):
        match = _TASK_DIR.match(name)
        if match:
            tasks[int(match.group(1))] = (match.group(2), os.path.join(path, name))
    order = [tasks[i] for i in sorted(tasks)]
    names = [name for name, _ in order]
    curves = {name: read_scalars(directory) for name, directory in order}
    steps = sorted(set.intersection(*(set(curve) for curve in curves.values())))
    if not steps:
        raise UserError(f"{path} has the original tool's folders but no accuracy events "
                        "common to all tasks; is the run complete?")
    pooled = _optional_scalars(os.path.join(path, "test"))
    train = _optional_scalars(os.path.join(path, "train"))
    config = {"tasks": names, "source": "original task.py", **settings_from_path(path)}
    config["max_steps"] = run_length(steps[-1], max(train) if train else None)
    schedule = Schedule(tuple(names), config["task_time"]) if config.get("task_time") else None

    def active(step):
        return schedule.task_at(step) if schedule else None

    tests = []
    for s in steps:
        line = {"step": s, "kind": "test", "active_task": active(s),
                "test_accuracy": {name: curves[name][s] for name in names},
                "test_accuracy_all": float(np.mean([curves[name][s] for name in names]))}
        if s in pooled:
            line["test_accuracy_pooled"] = pooled[s]
        tests.append(line)
    trains = tuple({"step": s, "kind": "train", "active_task": active(s), "train_accuracy": v}
                   for s, v in sorted(train.items()))
    return config, tuple(tests), trains


def _optional_scalars(directory: str) -> dict[int, float]:
    return read_scalars(directory) if os.path.isdir(directory) else {}
