"""The charts' common look: figure setup, task colours, period shading, seed bands."""

import matplotlib

matplotlib.use("Agg")  # Files only; never a window.

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from plots.runlog import Run  # noqa: E402

PALETTE = plt.get_cmap("tab10").colors
RC = {"figure.dpi": 110, "savefig.dpi": 150, "font.size": 9, "axes.titlesize": 10,
      "axes.grid": True, "grid.alpha": 0.3, "axes.spines.top": False,
      "axes.spines.right": False, "legend.fontsize": 8, "legend.frameon": False}


def figure(rows: int = 1, cols: int = 1, width: float = 7.0, height: float = 3.6):
    with plt.rc_context(RC):
        fig, axes = plt.subplots(rows, cols, figsize=(width, height * rows), squeeze=False)
    return fig, axes


def task_colours(tasks) -> dict[str, tuple]:
    return {task: PALETTE[i % len(PALETTE)] for i, task in enumerate(tasks)}


def shade_periods(ax, run: Run, colours: dict[str, tuple]) -> None:
    """Shades each task period in its task's colour and names it at the top of the axes (by
    its place in the run, 1, 2, ..., when names would crowd)."""
    periods = run.periods()
    crowded = sum(len(task) for _, _, task in periods) > 80
    for start, end, task in periods:
        label = str(run.tasks.index(task) + 1) if crowded else task
        ax.axvspan(start, end, color=colours.get(task, "grey"), alpha=0.08, lw=0)
        ax.axvline(start, color="grey", lw=0.5, alpha=0.6)
        ax.text((start + end) / 2, 1.0, label, transform=ax.get_xaxis_transform(),
                ha="center", va="bottom", fontsize=7, color=colours.get(task, "grey"))


def mean_and_stderr(curves: list[tuple[list[int], list[float]]]):
    """Seeds of one setting on their common steps: (steps, mean, standard error)."""
    common = sorted(set.intersection(*(set(steps) for steps, _ in curves)))
    values = np.array([[dict(zip(steps, ys))[s] for s in common] for steps, ys in curves])
    stderr = (values.std(axis=0, ddof=1) / np.sqrt(len(values)) if len(values) > 1
              else np.zeros(len(common)))
    return np.array(common), values.mean(axis=0), stderr


def band(ax, curves, label: str, **style) -> None:
    """Draws the mean of several seeds' curves, with a band of one standard error."""
    steps, mean, stderr = mean_and_stderr(curves)
    n = len(curves)
    line, = ax.plot(steps, mean, label=f"{label} (n={n})" if n > 1 else label, **style)
    if n > 1:
        ax.fill_between(steps, mean - stderr, mean + stderr, color=line.get_color(), alpha=0.2,
                        lw=0)


def legend_below(ax) -> None:
    """A legend under the axes, so that it never hides a curve; long labels one a row."""
    labels = ax.get_legend_handles_labels()[1]
    columns = 1 if max(map(len, labels), default=0) > 40 else min(len(labels), 3)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.24), ncol=max(columns, 1))


def accuracy_axes(ax, xlabel: str = "training step") -> None:
    ax.set_xlabel(xlabel)
    ax.set_ylabel("accuracy (fraction correct)")
    ax.set_ylim(0, 1.05)


def save(fig, path: str) -> None:
    fig.tight_layout()
    fig.savefig(path, bbox_inches="tight")
    plt.close(fig)
