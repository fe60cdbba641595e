"""Figure 2 of the ten-task paper, from episodic runs (replications averaged by position)."""

import numpy as np

from plots import style
from plots.episodes import (accuracy_after, by_times_trained, check_episodic, default_budget,
                            episode_curve, trials_to_criterion)
from plots.runlog import Run


def _held(curves: list[tuple[list[int], list[float]]]):
    """Replications' curves on the union of their x values, each holding its last value
    after it ends (an episode ends once the criterion is met): (x, mean, standard error)."""
    xs = sorted({x for x_values, _ in curves for x in x_values})
    rows = []
    for x_values, y_values in curves:
        rows.append([y_values[max(0, np.searchsorted(x_values, x, side="right") - 1)]
                     for x in xs])
    values = np.array(rows)
    stderr = (values.std(axis=0, ddof=1) / np.sqrt(len(values)) if len(values) > 1
              else np.zeros(len(xs)))
    return np.array(xs), values.mean(axis=0), stderr


def _curve_panel(ax, curves_by_line: dict[str, list], title: str, colours) -> None:
    for (label, curves), colour in zip(curves_by_line.items(), colours):
        if not curves:
            continue
        x, mean, stderr = _held(curves)
        ax.plot(x, mean, color=colour, lw=1.3, label=label)
        if len(curves) > 1:
            ax.fill_between(x, mean - stderr, mean + stderr, color=colour, alpha=0.15, lw=0)
    style.accuracy_axes(ax, "trials of the task in the episode")
    ax.set_ylim(0.4, 1.02)
    ax.set_title(title)


def _matrix_panel(ax, matrices: list[np.ndarray], xlabel: str, ylabel: str, title: str,
                  colours, log: bool) -> None:
    """One line per ordinal position: the replications' mean of each column."""
    stack = np.array(matrices)
    n = stack.shape[1]
    for j in range(n):
        values = stack[:, j, :]
        counts = np.sum(~np.isnan(values), axis=0)
        keep = counts > 0
        if not keep.any():
            continue
        mean = np.nanmean(np.where(keep, values, 0.0), axis=0)
        ax.plot(np.arange(1, n + 1)[keep], mean[keep], marker="o", ms=3, lw=1.2,
                color=colours[j], label=f"task {j + 1}")
    if log:
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.xaxis.set_minor_formatter(style.plt.NullFormatter())
    ax.set_xticks(range(1, n + 1), [str(k) for k in range(1, n + 1)])
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)


def figure2_chart(runs: list[Run]):
    """The paper's Figure 2: (a) a new task's held-out accuracy against trials, by ordinal
    position; (b) the first task as it is retrained, by episode; trials to criterion against
    (c) times trained and (d) episode, log-log; accuracy after a fixed number of trials
    against (e) times trained and (f) episode. Replications are averaged position by
    position (the tasks at a position differ between them)."""
    for run in runs:
        check_episodic(run)
    n = min(len(run.tasks) for run in runs)
    episodes = [min(max(r["episode"] for r in run.tests), n) for run in runs]
    colours = [style.plt.get_cmap("viridis")(k / max(n - 1, 1)) for k in range(n)]
    fig, axes = style.figure(rows=2, cols=3, width=13.0, height=3.9)
    new = {f"task {j}": [episode_curve(run, j, j) for run, last in zip(runs, episodes)
                         if j <= last] for j in range(1, n + 1)}
    _curve_panel(axes[0, 0], new, "(a) new task, by ordinal position", colours)
    first = {f"episode {i}": [episode_curve(run, 1, i) for run, last in zip(runs, episodes)
                              if i <= last] for i in range(1, n + 1)}
    _curve_panel(axes[0, 1], first, "(b) first task, retrained in each episode", colours)
    criterion = runs[0].config.get("criterion", 0.95)
    trials = [trials_to_criterion(run)[:n, :n] for run in runs]
    _matrix_panel(axes[0, 2], [by_times_trained(m) for m in trials], "times trained",
                  f"trials to {criterion:.0%} criterion", "(c) trials to criterion", colours,
                  log=True)
    _matrix_panel(axes[1, 0], trials, "episode", f"trials to {criterion:.0%} criterion",
                  "(d) trials to criterion", colours, log=True)
    budget = min(default_budget(run) for run in runs)
    after = [accuracy_after(run, budget)[:n, :n] for run in runs]
    _matrix_panel(axes[1, 1], [by_times_trained(m) for m in after], "times trained",
                  "held-out accuracy", f"(e) accuracy after {budget} trials", colours, log=False)
    _matrix_panel(axes[1, 2], after, "episode", "held-out accuracy",
                  f"(f) accuracy after {budget} trials", colours, log=False)
    for ax in (axes[0, 0], axes[0, 1]):
        ax.legend(loc="lower right", fontsize=6, ncol=2)
    axes[0, 2].legend(loc="upper right", fontsize=6, ncol=2)
    fig.suptitle(f"Sequential tasks in criterion episodes: {len(runs)} replication"
                 f"{'s' if len(runs) != 1 else ''}, {n} tasks", y=1.0)
    return fig
