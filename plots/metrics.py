"""Continual-learning metrics: pure functions of an accuracy matrix, and task-switch events.

acc[i, j] is the test accuracy of task j at the end of period i; trained[i] is the
task trained in period i. With each task trained once in order (trained[i] == i,
the default) the functions are the published ones: forgetting as Chaudhry et al.
(2018), backward and forward transfer as Lopez-Paz and Ranzato (2017), forward
transfer measured against each task's accuracy at step 0. When a schedule comes
back to a task, "learned" means its last period (backward transfer) and "before
it was learned" its first (forward transfer). A metric with no terms is NaN.
"""

import math
from typing import Sequence

import numpy as np

from errors import UserError
from plots.runlog import Run, group_by_settings, group_labels
from plots.episodes import episode_metrics


def _trained(acc: np.ndarray, trained: Sequence[int] | None) -> list[int]:
    return list(range(acc.shape[0])) if trained is None else list(trained)


def average_accuracy(acc: np.ndarray) -> float:
    """Mean accuracy over all tasks at the end of the last period."""
    return float(np.mean(acc[-1]))


def forgetting(acc: np.ndarray, trained: Sequence[int] | None = None) -> float:
    """Mean over tasks trained before the last period (and not in it) of best earlier minus final."""
    trained = _trained(acc, trained)
    tasks = sorted(set(trained[:-1]) - {trained[-1]})
    return float(np.mean([acc[:-1, j].max() - acc[-1, j] for j in tasks])) if tasks else np.nan


def backward_transfer(acc: np.ndarray, trained: Sequence[int] | None = None) -> float:
    """Mean of final accuracy minus accuracy just after the task's last period (negative: forgetting)."""
    trained = _trained(acc, trained)
    last_period = {task: i for i, task in enumerate(trained)}
    terms = [acc[-1, j] - acc[i, j] for j, i in last_period.items() if i < len(trained) - 1]
    return float(np.mean(terms)) if terms else np.nan


def forward_transfer(acc: np.ndarray, initial: np.ndarray,
                     trained: Sequence[int] | None = None) -> float:
    """Mean of a task's accuracy just before its first period minus its accuracy at step 0."""
    trained = _trained(acc, trained)
    first_period = {}
    for i, task in enumerate(trained):
        first_period.setdefault(task, i)
    terms = [acc[i - 1, j] - initial[j] for j, i in first_period.items() if i > 0]
    return float(np.mean(terms)) if terms else np.nan


def _test_at_or_before(run: Run, step: int) -> dict:
    candidates = [r for r in run.tests if r["step"] <= step]
    return candidates[-1] if candidates else run.tests[0]


def accuracy_matrix(run: Run) -> tuple[np.ndarray, list[int], np.ndarray]:
    """(acc, trained, initial) of a run: acc[i, j] from the last test at or before period i's end."""
    periods = [p for p in run.periods() if p[0] < run.last_step]
    if not periods and run.periods():
        raise UserError(f"{run.path} has no test after step 0 yet; wait for its next evaluation")
    if not periods:
        raise UserError(f"cannot tell the task periods of {run.path}: its task time is unknown "
                        "(an original log outside its tt<N> folder?)")
    acc = np.array([[_test_at_or_before(run, end)["test_accuracy"][task] for task in run.tasks]
                    for _, end, _ in periods])
    trained = [run.tasks.index(task) for _, _, task in periods]
    initial = np.array([run.tests[0]["test_accuracy"][task] for task in run.tasks])
    return acc, trained, initial


def switch_events(run: Run, tolerance: float = 0.0) -> list[dict]:
    """For every task switch: the task left, its accuracy at the switch, its lowest accuracy
    before it is trained again and the drop, and once it returns, the steps it takes to get
    back to within `tolerance` of its accuracy at the switch (None if it never does)."""
    periods = run.periods()
    events = []
    for k in range(1, len(periods)):
        switch, left = periods[k][0], periods[k - 1][2]
        if switch >= run.last_step or left == periods[k][2]:
            continue
        before = _test_at_or_before(run, switch)["test_accuracy"][left]
        returns = next((start for start, _, task in periods[k:] if task == left), None)
        until = returns if returns is not None else run.last_step
        lows = [r["test_accuracy"][left] for r in run.tests if switch < r["step"] <= until]
        lowest = min(lows) if lows else before
        recovery = None
        if returns is not None:
            recovery = next((r["step"] - returns for r in run.tests if r["step"] >= returns
                             and r["test_accuracy"][left] >= before - tolerance), None)
        events.append({"step": switch, "left": left, "entered": periods[k][2],
                       "accuracy_at_switch": before, "lowest": lowest, "drop": before - lowest,
                       "returns_at": returns, "recovery_steps": recovery})
    return events


def run_metrics(run: Run, tolerance: float = 0.0) -> dict:
    """Every metric of one run, as written by `python -m plots metrics --json`. A joint or
    alternate run has no task periods: one row (the end), and no forgetting or transfer."""
    if not run.switching:
        final = [run.tests[-1]["test_accuracy"][task] for task in run.tasks]
        nan = float("nan")
        return {"run": run.path, "tasks": list(run.tasks), "accuracy_matrix": [final],
                "period_tasks": ["all"],
                "initial_accuracy": [run.tests[0]["test_accuracy"][t] for t in run.tasks],
                "average_accuracy": float(np.mean(final)), "forgetting": nan,
                "backward_transfer": nan, "forward_transfer": nan, "switches": []}
    acc, trained, initial = accuracy_matrix(run)
    return {
        "run": run.path,
        "tasks": list(run.tasks),
        "accuracy_matrix": acc.tolist(),
        "period_tasks": [run.tasks[j] for j in trained],
        "initial_accuracy": initial.tolist(),
        "average_accuracy": average_accuracy(acc),
        "forgetting": forgetting(acc, trained),
        "backward_transfer": backward_transfer(acc, trained),
        "forward_transfer": forward_transfer(acc, initial, trained),
        "switches": [] if run.episodic else switch_events(run, tolerance),
        **({"episodes": episode_metrics(run)} if run.episodic else {}),
    }


def json_ready(value):
    """Metrics with NaN as None (null), so that the JSON is standard."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: json_ready(v) for k, v in value.items()}
    if isinstance(value, list):
        return [json_ready(v) for v in value]
    return value


SUMMARISED = ("average_accuracy", "forgetting", "backward_transfer", "forward_transfer")


def setting_table(runs: list[Run]) -> list[dict]:
    """One row per setting (runs that differ only by seed): its label (group_labels), the
    number of seeds, and the mean and standard deviation over seeds of each metric in
    SUMMARISED (NaN where the metric is undefined, as forgetting in joint training)."""
    groups = group_by_settings(runs)
    rows = []
    for group, label in zip(groups, group_labels(groups)):
        metrics = [run_metrics(run) for run in group]
        row = {"setting": label, "seeds": len(group),
               "runs": [run.path for run in group]}
        for name in SUMMARISED:
            values = np.array([m[name] for m in metrics], float)
            defined = values[~np.isnan(values)]
            row[name] = float(np.mean(defined)) if len(defined) else float("nan")
            row[f"{name}_sd"] = float(np.std(defined)) if len(defined) > 1 else float("nan")
        rows.append(row)
    return rows
