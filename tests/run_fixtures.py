"""Synthetic run logs written by the tests, in this tool's layout and in the original's."""

import json
import os

import numpy as np
import tensorflow as tf


def write_run(path, *, tasks=("id", "inv"), task_time=100, max_steps=400, test_frequency=50,
              seed=0, accuracy=None, train_accuracy=None, **settings) -> str:
    """A run directory whose accuracies follow `accuracy(task_index, step, active_index)`
    (default: a task rises while trained and decays otherwise), and its training
    accuracy `train_accuracy(step)` (default: the active task's level)."""
    rng = np.random.default_rng(seed)
    os.makedirs(path)
    config = {"tasks": list(tasks), "task_time": task_time, "max_steps": max_steps,
              "test_frequency": test_frequency, "seed": seed, "network": ["conv", "fc"],
              "optimizer": "sgd", "learning_rate": 0.01, "fc_units": 500, "conv_filters": 64,
              "input_style": "combined", "run_name": os.path.basename(path), **settings}
    with open(os.path.join(path, "config.json"), "w") as f:
        json.dump(config, f)
    level = np.full(len(tasks), 0.1)
    lines = []
    for step in range(0, max_steps + 1):
        active = (min(step, max_steps - 1) // task_time) % len(tasks)
        if step % test_frequency == 0 or step == max_steps:
            values = ([accuracy(j, step, active) for j in range(len(tasks))] if accuracy
                      else np.clip(level + rng.normal(0, 0.01, len(tasks)), 0, 1))
            lines.append({"step": step, "kind": "test", "active_task": tasks[active],
                          "test_accuracy": {t: float(v) for t, v in zip(tasks, values)},
                          "test_accuracy_all": float(np.mean(values)),
                          "test_loss": {t: 1.0 for t in tasks}})
        if step < max_steps:
            level[active] += (0.95 - level[active]) * 0.02
            others = np.arange(len(tasks)) != active
            level[others] -= (level[others] - 0.1) * 0.005
            if (step + 1) % 10 == 0:
                lines.append({"step": step, "kind": "train", "active_task": tasks[active],
                              "train_accuracy": float(train_accuracy(step) if train_accuracy
                                                      else level[active]),
                              "loss": 1.0, "steps": 10})
    with open(os.path.join(path, "metrics.jsonl"), "w") as f:
        f.writelines(json.dumps(line) + "\n" for line in lines)
    return str(path)


def write_original_run(path, curves: dict[str, dict[int, float]],
                       train: dict[int, float] | None = None, tag: str = "accuracy_1") -> str:
    """Event files as the original TF1 task.py wrote them: simple_value scalars tagged
    `accuracy_1`, as TF1 named them; `test/` the mean of the tasks' (equal-sized) sets."""
    def write(directory, values):
        os.makedirs(directory)
        filename = os.path.join(directory, "events.out.tfevents.1520000000.host")
        with tf.io.TFRecordWriter(filename) as writer:
            writer.write(tf.compat.v1.Event(wall_time=1.0, file_version="brain.Event:2")
                         .SerializeToString())
            for step, value in sorted(values.items()):
                summary = tf.compat.v1.Summary(
                    value=[tf.compat.v1.Summary.Value(tag=tag, simple_value=value)])
                writer.write(tf.compat.v1.Event(wall_time=1.0 + step, step=step,
                                                summary=summary).SerializeToString())

    for i, (task, values) in enumerate(curves.items()):
        write(os.path.join(path, f"test_task_{i}_{task}"), values)
    steps = sorted(next(iter(curves.values())))
    write(os.path.join(path, "test"),
          {s: float(np.mean([c[s] for c in curves.values()])) for s in steps})
    if train:
        write(os.path.join(path, "train"), train)
    return str(path)


def write_episodic_run(path, tasks, lines, criterion=0.9, epoch_size=100) -> str:
    """An episodic run directory from test lines given as
    (step, episode, epoch, epoch_end, trials per task, accuracy per task)."""
    os.makedirs(path)
    config = {"tasks": list(tasks), "schedule": "episodes", "criterion": criterion,
              "epoch_size": epoch_size, "seed": 0, "network": ["shapes-paper"],
              "optimizer": "adam", "learning_rate": 0.001}
    with open(os.path.join(path, "config.json"), "w") as f:
        json.dump(config, f)
    records = []
    for step, episode, epoch, epoch_end, trials, accuracy in lines:
        records.append({"step": step, "kind": "test", "active_task": tasks[episode - 1],
                        "episode": episode, "epoch": epoch, "epoch_end": epoch_end,
                        "trials": dict(zip(tasks, trials)),
                        "test_accuracy": dict(zip(tasks, accuracy)),
                        "test_accuracy_all": float(np.mean(accuracy)),
                        "test_loss": {t: 1.0 for t in tasks}})
    with open(os.path.join(path, "metrics.jsonl"), "w") as f:
        f.writelines(json.dumps(record) + "\n" for record in records)
    return str(path)
