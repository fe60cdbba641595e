"""Continual-learning metrics: pure functions of an accuracy matrix, and task-switch events.

acc[i, j] is the test accuracy of task j at the end of period i; trained[i] is the
task trained in period i. With each task trained once in order (trained[i] == i,
the default) the functions are the published ones: forgetting as Chaudhry et al.
(2018), backward transfer as Lopez-Paz and Ranzato (2017), and forward transfer in
the three definitions of the literature, each named where it is printed:
  init   Lopez-Paz and Ranzato (2017): a task's accuracy just before its first period
         minus its accuracy at step 0 (the network at initialisation);
  all    Diaz-Rodriguez et al. (2018): the mean over every period before the task's
         first of its accuracy then, minus its accuracy at step 0;
  alone  against a network trained on the task alone (a single-task reference, as
         Continual World, Wolczyk et al. 2021, measures transfer; here on final
         accuracies): a task's accuracy at the end of its first period minus the
         reference's, which other runs give (`plots metrics --alone RUN_DIR...`).
When a schedule comes back to a task, "learned" means its last period (backward
transfer) and "before it was learned" its first (forward transfer). A metric with
no terms is NaN.
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


def forward_transfer_all(acc: np.ndarray, initial: np.ndarray,
                         trained: Sequence[int] | None = None) -> float:
    """Diaz-Rodriguez et al.'s: the mean over task j and every period i before j's first of
    acc[i, j] minus j's accuracy at step 0."""
    trained = _trained(acc, trained)
    first_period = {}
    for i, task in enumerate(trained):
        first_period.setdefault(task, i)
    terms = [acc[i, j] - initial[j] for j, first in first_period.items() for i in range(first)]
    return float(np.mean(terms)) if terms else np.nan


def forward_transfer_alone(acc: np.ndarray, alone: dict[int, float],
                           trained: Sequence[int] | None = None) -> float:
    """Against a single-task reference: the mean over tasks j with a reference `alone[j]`
    (j's accuracy when trained alone) and a first period that is not the run's first of
    acc[first period of j, j] - alone[j]."""
    trained = _trained(acc, trained)
    first_period = {}
    for i, task in enumerate(trained):
        first_period.setdefault(task, i)
    terms = [acc[i, j] - alone[j] for j, i in first_period.items() if i > 0 and j in alone]
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


def run_metrics(run: Run, tolerance: float = 0.0, alone: dict[str, float] | None = None) -> dict:
    """Every metric of one run, as written by `python -m plots metrics --json`; `alone`:
    each task's accuracy when trained alone, the single-task reference of forward
    transfer (alone). A joint or alternate run has no task periods: one row (the end),
    and no forgetting or transfer."""
    if not run.switching:
        final = [run.tests[-1]["test_accuracy"][task] for task in run.tasks]
        nan = float("nan")
        return {"run": run.path, "tasks": list(run.tasks), "accuracy_matrix": [final],
                "period_tasks": ["all"],
                "initial_accuracy": [run.tests[0]["test_accuracy"][t] for t in run.tasks],
                "average_accuracy": float(np.mean(final)), "forgetting": nan,
                "backward_transfer": nan, "forward_transfer": nan,
                "forward_transfer_all": nan, "forward_transfer_alone": nan, "switches": []}
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
        "forward_transfer_all": forward_transfer_all(acc, initial, trained),
        "forward_transfer_alone": forward_transfer_alone(
            acc, {run.tasks.index(t): a for t, a in (alone or {}).items() if t in run.tasks},
            trained),
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


SUMMARISED = ("average_accuracy", "forgetting", "backward_transfer", "forward_transfer",
              "forward_transfer_all", "forward_transfer_alone")
# The printed tables' column titles: forward transfer named by its reference.
TITLES = {"average_accuracy": "avg acc", "forgetting": "forget", "backward_transfer": "BWT",
          "forward_transfer": "FWT init", "forward_transfer_all": "FWT all",
          "forward_transfer_alone": "FWT alone"}
FWT_LEGEND = ("FWT init: before a task's first period minus at step 0 (Lopez-Paz and Ranzato "
              "2017); FWT all: every period before it, minus at step 0 (Diaz-Rodriguez et al. "
              "2018); FWT alone: after its first period minus the task trained alone "
              "(--alone runs)")


def alone_accuracies(runs: list[Run]) -> dict[str, float]:
    """Each task's final accuracy in single-task runs (the mean over runs of one task), the
    reference of forward transfer (alone); runs of several tasks are an error."""
    by_task: dict[str, list[float]] = {}
    for run in runs:
        if len(run.tasks) != 1:
            raise UserError(f"--alone {run.path} trains {len(run.tasks)} tasks; give runs of "
                            "one task each, the single-task reference")
        by_task.setdefault(run.tasks[0], []).append(run.tests[-1]["test_accuracy"][run.tasks[0]])
    return {task: float(np.mean(values)) for task, values in by_task.items()}


def setting_table(runs: list[Run], alone: dict[str, float] | None = None) -> list[dict]:
    """One row per setting (runs that differ only by seed): its label (group_labels), the
    number of seeds, and the mean and standard deviation over seeds of each metric in
    SUMMARISED (NaN where the metric is undefined, as forgetting in joint training)."""
    groups = group_by_settings(runs)
    rows = []
    for group, label in zip(groups, group_labels(groups)):
        metrics = [run_metrics(run, alone=alone) for run in group]
        row = {"setting": label, "seeds": len(group),
               "runs": [run.path for run in group]}
        for name in SUMMARISED:
            values = np.array([m[name] for m in metrics], float)
            defined = values[~np.isnan(values)]
            row[name] = float(np.mean(defined)) if len(defined) else float("nan")
            row[f"{name}_sd"] = float(np.std(defined)) if len(defined) > 1 else float("nan")
        rows.append(row)
    return rows
