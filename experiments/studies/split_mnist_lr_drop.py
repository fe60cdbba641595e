"""Split MNIST with the learning rate of the authors' logs: the cells whose logs ran with the
rate dropped to a tenth after the first epoch, run with that drop, to test whether the drop
explains where our table and their logs differ."""

import functools
import math
import statistics

from experiments.grid import Experiment
from experiments.studies.base import Section, Table, summaries
from experiments.studies.split_mnist import (AUTHORS_LOGS, COMMON, METHODS, SCENARIOS, _slug,
                                             format_table, points, table)

# The authors' logs' learning rate: a tenth of it from the second epoch of the first task
# on. That task, digits 0 and 1, has 5,923 + 6,742 = 12,665 of MNIST's training images.
FIRST_TASK_EXAMPLES = 12665
LOGS_DROP_STEP = math.ceil(FIRST_TASK_EXAMPLES / COMMON["batch"])
# The logs that ran with the drop: every one but SI's (which kept the rate) and offline
# training's (one task of all the data, whose first epoch is another length).
DROPPED_IN_LOGS = {scenario: [m for m in AUTHORS_LOGS[scenario] if m not in ("SI", "Offline")]
                   for scenario in SCENARIOS}


def _cell(name: str) -> tuple[str, str]:
    """(scenario, method) of a point's name."""
    scenario, slug = name.split("-", 1)
    return scenario, next(m for m in METHODS if _slug(m) == slug)


def logs_rate_points(form: str) -> list[dict]:
    """The cells the authors' logs ran with the dropped rate, run with it too: the test of
    whether the drop explains where our table and their logs differ."""
    return [dict(point, learning_rate_drops=(LOGS_DROP_STEP,), name=f"{point['name']}-lr-drop")
            for point in points(form) for scenario, method in [_cell(point["name"])]
            if method in DROPPED_IN_LOGS[scenario]]


def logs_rate_quick_points(form: str) -> list[dict]:
    return [dict(point, task_epochs=1, test_examples=500) for point in logs_rate_points(form)]


logs_rate_table = functools.partial(table, suffix="-lr-drop")
EXPERIMENTS = {
    "split-mnist-lr-drop": Experiment(
        "split-mnist's cells that the authors' logs ran with the learning rate dropped to a "
        "tenth after the first epoch, run with that drop", None, logs_rate_points,
        forms=("mnist",), quick_points=logs_rate_quick_points, table=logs_rate_table,
        format_table=format_table, runs_per_process=20),
}
TABLES = (Table("split-mnist-lr-drop", "none", "split-mnist-lr-drop", "mnist"),)


def _rows(cells, scripts, dropped) -> tuple[list[str], dict[str, list[float]]]:
    """A table row per cell (ours at each rate against their logs) and the gaps to the logs."""
    rows, gaps = [], {"scripts": [], "dropped": []}
    for scenario, method in cells:
        ours, drop, theirs = (scripts[scenario][method], dropped[scenario][method],
                              AUTHORS_LOGS[scenario][method])
        gaps["scripts"].append(ours["mean"] - theirs[0])
        gaps["dropped"].append(drop["mean"] - theirs[0])
        sd = "—" if drop["sd"] is None else f"{drop['sd']:z.2f}"
        rows.append(f"| {method} | {scenario} | {ours['mean']:z.2f} | {drop['mean']:z.2f} ± {sd} "
                    f"({drop['seeds']}) | {theirs[0]:z.2f} ± {theirs[1]:z.2f} | "
                    f"{gaps['scripts'][-1]:+z.2f} | {gaps['dropped'][-1]:+z.2f} |")
    return rows, gaps


def sections(results: str, report_dir: str) -> list[Section]:
    """The cells the authors' logs ran with the rate dropped after the first epoch, run with
    that drop: does it close the gap to their logs?"""
    del report_dir
    dropped = logs_rate_table(summaries(results, "split-mnist-lr-drop"))
    scripts = table(summaries(results, "split-mnist"))
    cells = [(s, m) for s in SCENARIOS for m in DROPPED_IN_LOGS[s]
             if dropped[s].get(m) and scripts[s].get(m)]
    if not cells:
        return []
    rows, gaps = _rows(cells, scripts, dropped)
    within = {k: sum(abs(g) < 1.0 for g in v) for k, v in gaps.items()}
    mean_gap = {k: statistics.fmean(abs(g) for g in v) for k, v in gaps.items()}
    closer = sum(abs(b) < abs(a) for a, b in zip(gaps["scripts"], gaps["dropped"]))
    body = "\n\n".join([
        "The authors' logs ran with the learning rate dropped to a tenth from the second "
        f"epoch of the first task on (step {LOGS_DROP_STEP}: the first task's "
        f"{FIRST_TASK_EXAMPLES:,} images in batches of 128). The cells whose logs show "
        "the drop, run again with it (`--learning-rate-drops "
        f"{LOGS_DROP_STEP}`), the rest of the setting as the table above:",
        "```sh\n.venv/bin/python -m experiments run split-mnist-lr-drop --seeds 10 "
        "--log-dir results/split-mnist-lr-drop\n```",
        "| method | scenario | scripts' rate | logs' rate (drop) | their logs | diff, scripts' "
        "rate | diff, logs' rate |\n|---|---|---|---|---|---|---|\n" + "\n".join(rows),
        "Mean ± sample sd over seeds (seeds in brackets), in percent; diff: ours minus their "
        "logs.",
        f"With the logs' rate, {within['dropped']} of these {len(cells)} cells are within a "
        f"point of the logs (with the scripts' rate, {within['scripts']}); the mean distance "
        f"is {mean_gap['dropped']:z.2f} points (against {mean_gap['scripts']:z.2f}), and "
        f"{closer} of the {len(cells)} cells come closer. "
        + ("The dropped rate accounts for most of the differences between our table and "
           "their logs." if mean_gap["dropped"] < mean_gap["scripts"] / 2 else
           "The dropped rate does not account for most of the differences between our "
           "table and their logs.")])
    return [Section("Split MNIST with the learning rate of the authors' logs", body)]
