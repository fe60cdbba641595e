"""The ten-task paper's measures, from the logs of episodic runs (`--schedule episodes`).

Tasks are indexed by ordinal position (j, from 1: the order of `--tasks`) and
episodes by number (i, from 1); task j is trained in episodes i >= j, for the
(i - j + 1)-th time. Trials are training examples of the task within the episode.
Matrices are [position - 1, episode - 1], NaN where a task is not yet trained.
"""

import numpy as np

from errors import UserError
from plots.runlog import Run


def check_episodic(run: Run) -> None:
    if not run.episodic:
        raise UserError(f"{run.path} is not an episodic run (made with --schedule episodes)")


def episode_tests(run: Run, episode: int) -> list[dict]:
    """The test lines of one episode, led by the one it starts from (the previous episode's
    last, or the evaluation before any training)."""
    check_episodic(run)
    lines = [r for r in run.tests if r["episode"] == episode]
    before = [r for r in run.tests if r["episode"] < episode]
    start = before[-1] if before else lines[0]
    return [start] + [r for r in lines if r is not start]


def episode_curve(run: Run, position: int, episode: int) -> tuple[list[int], list[float]]:
    """(trials of the task within the episode, its held-out accuracy) over one episode."""
    task = run.tasks[position - 1]
    lines = episode_tests(run, episode)
    first = lines[0]["trials"][task]
    return ([r["trials"][task] - first for r in lines],
            [r["test_accuracy"][task] for r in lines])


def _episodes(run: Run) -> int:
    return max(r["episode"] for r in run.tests)


def trials_to_criterion(run: Run, criterion: float | None = None) -> np.ndarray:
    """Trials of task j in episode i until its held-out accuracy first reached the criterion
    (the run's own unless given), at the resolution of the run's evaluations; NaN if it
    never did in that episode."""
    criterion = run.config.get("criterion", 0.95) if criterion is None else criterion
    n = len(run.tasks)
    out = np.full((n, n), np.nan)
    for episode in range(1, _episodes(run) + 1):
        for position in range(1, episode + 1):
            trials, accuracy = episode_curve(run, position, episode)
            reached = [t for t, a in zip(trials[1:], accuracy[1:]) if a >= criterion]
            if reached:
                out[position - 1, episode - 1] = reached[0]
    return out


def accuracy_after(run: Run, budget: int) -> np.ndarray:
    """Held-out accuracy of task j after `budget` of its trials in episode i, interpolated
    linearly between the evaluations around it (the episode's last, if it ended sooner)."""
    n = len(run.tasks)
    out = np.full((n, n), np.nan)
    for episode in range(1, _episodes(run) + 1):
        for position in range(1, episode + 1):
            trials, accuracy = episode_curve(run, position, episode)
            out[position - 1, episode - 1] = np.interp(budget, trials, accuracy)
    return out


def accuracy_at_start(run: Run) -> np.ndarray:
    """Held-out accuracy of task j when episode i starts: before it is first trained (j = i),
    and what remains of it from the episode before (j < i): backward interference."""
    n = len(run.tasks)
    out = np.full((n, n), np.nan)
    for episode in range(1, _episodes(run) + 1):
        start = episode_tests(run, episode)[0]
        for position in range(1, episode + 1):
            out[position - 1, episode - 1] = start["test_accuracy"][run.tasks[position - 1]]
    return out


def by_times_trained(matrix: np.ndarray) -> np.ndarray:
    """Re-indexes [position, episode] as [position, times trained]: k = i - j + 1."""
    n = matrix.shape[0]
    out = np.full_like(matrix, np.nan)
    for j in range(n):
        out[j, :n - j] = matrix[j, j:]
    return out


def default_budget(run: Run) -> int:
    """The trials an old task gets in one epoch of the last episode: the fewest an epoch gives
    any task, so that every task has had them by its first epoch-end evaluation."""
    epoch = run.config.get("epoch_size") or run.config.get("shapes_train")
    n = len(run.tasks)
    return max(1, (epoch - epoch // 2) // max(n - 1, 1)) if n > 1 else epoch


def episode_metrics(run: Run) -> dict:
    """The paper's measures of one episodic run, as written by `python -m plots metrics`."""
    summary_epochs = {}
    for r in run.tests:
        if r.get("epoch_end"):
            summary_epochs[r["episode"]] = r["epoch"]
    budget = default_budget(run)
    return {
        "criterion": run.config.get("criterion"),
        "epochs_per_episode": [summary_epochs[e] for e in sorted(summary_epochs)],
        "trials_to_criterion": trials_to_criterion(run).tolist(),
        "accuracy_at_episode_start": accuracy_at_start(run).tolist(),
        "budget_trials": budget,
        "accuracy_after_budget": accuracy_after(run, budget).tolist(),
    }
