"""The blog's charts, each drawn from runs (several seeds of one setting drawn as mean and band)."""

import json

import numpy as np

from errors import UserError
from plots import style
from plots.episode_charts import figure2_chart
from plots.metrics import accuracy_matrix, average_accuracy, forgetting
from plots.runlog import Run, describe, differing_settings, group_by_settings, group_labels


def _title(run: Run) -> str:
    c = run.config
    names = " ".join(run.tasks)
    parts = [f"tasks {names}" if len(names) <= 60
             else f"{len(run.tasks)} tasks ({run.tasks[0]} ... {run.tasks[-1]})"]
    if run.episodic:
        parts.append(f"criterion episodes ({c.get('criterion', 0.95):.0%})")
    elif run.task_time and len(run.tasks) > 1:
        parts.append(f"task time {run.task_time}")
    if c.get("network"):
        network = " ".join(c["network"])
        parts.append(f"network {network}" if len(network) <= 30
                     else f"{len(c['network'])}-layer network")
    if c.get("optimizer"):
        parts.append(f"{c['optimizer']}" + (f" lr {c['learning_rate']}" if "learning_rate" in c
                                            else ""))
    return ", ".join(parts)


def _one_setting(runs: list[Run], chart: str) -> list[Run]:
    groups = group_by_settings(runs)
    if len(groups) > 1:
        raise UserError(f"the {chart} chart draws one setting (seeds allowed), but the runs "
                        f"differ in {', '.join(differing_settings(groups))}; use `compare`")
    return groups[0]


def tasks_chart(runs: list[Run]):
    """Each task's test accuracy and all tasks' mean against step, with the active task's train
    accuracy; each task period shaded and named."""
    group = _one_setting(runs, "tasks")
    first = group[0]
    colours = style.task_colours(first.tasks)
    fig, axes = style.figure(width=8.0, height=4.2)
    ax = axes[0, 0]
    style.shade_periods(ax, first, colours)
    if any(run.trains for run in group):
        style.band(ax, [([r["step"] for r in run.trains], [r["train_accuracy"] for r in run.trains])
                        for run in group if run.trains],
                   "train accuracy (active task)", color="grey", lw=0.6, alpha=0.7)
    for number, task in enumerate(first.tasks, 1):
        style.band(ax, [run.accuracy_curve(task) for run in group], f"test: {number} {task}",
                   color=colours[task], lw=1.6)
    if len(first.tasks) > 1:
        style.band(ax, [run.accuracy_curve() for run in group], "test: all tasks",
                   color="black", lw=1.2, ls="--")
    style.accuracy_axes(ax)
    ax.set_title(_title(first) + (f" ({len(group)} seeds)" if len(group) > 1 else ""), pad=14)
    style.legend_below(ax)
    return fig


def versus_single_chart(runs: list[Run]):
    """Each task of a switching run beside the same task trained alone."""
    groups = group_by_settings(runs)
    switching = [g for g in groups if len(g[0].tasks) > 1]
    alone = {g[0].tasks[0]: g for g in groups if len(g[0].tasks) == 1}
    if len(switching) != 1:
        raise UserError(f"versus-single needs runs of exactly one switching setting (several "
                        f"tasks) and single-task runs; got {len(switching)} switching settings")
    group = switching[0]
    first = group[0]
    colours = style.task_colours(first.tasks)
    fig, axes = style.figure(len(first.tasks), 1, width=8.0, height=2.8)
    for ax, task in zip(axes[:, 0], first.tasks):
        style.shade_periods(ax, first, colours)
        style.band(ax, [run.accuracy_curve(task) for run in group], f"{task}, switching",
                   color=colours[task], lw=1.6)
        if task in alone:
            style.band(ax, [run.accuracy_curve(task) for run in alone[task]],
                       f"{task}, trained alone", color="black", lw=1.2, ls="--")
        else:
            ax.text(0.01, 0.04, f"no single-task run of {task} given", transform=ax.transAxes,
                    fontsize=7, color="grey")
        style.accuracy_axes(ax)
        ax.set_title(f"{task}: switching ({_title(first)}) against alone", pad=14)
        style.legend_below(ax)
    return fig


def compare_chart(runs: list[Run], task: str | None = None):
    """Runs compared by whatever setting differs, the legend made from those values."""
    groups = group_by_settings(runs)
    keys = differing_settings(groups)
    fig, axes = style.figure(width=8.0, height=3.4 + 0.25 * len(groups))  # Room for the legend.
    ax = axes[0, 0]
    for i, (group, label) in enumerate(zip(groups, group_labels(groups))):
        style.band(ax, [run.accuracy_curve(task) for run in group], label,
                   color=style.PALETTE[i % 10], lw=1.4)
    style.accuracy_axes(ax)
    what = f"task {task}" if task else "all tasks (mean)"
    ax.set_title(f"test accuracy of {what}, by {', '.join(keys) or 'nothing: one setting'}")
    style.legend_below(ax)
    return fig


def _aligned(run: Run, which: str) -> tuple[list[int], list[float]]:
    """Accuracy of the task entering (or left) at each switch, by steps since the switch,
    averaged over the run's switches."""
    by_offset: dict[int, list[float]] = {}
    periods = run.periods()
    for k in range(1, len(periods)):
        start, end, entering = periods[k]
        task = entering if which == "entering" else periods[k - 1][2]
        for record in run.tests:
            if start <= record["step"] <= end:
                by_offset.setdefault(record["step"] - start, []).append(
                    record["test_accuracy"][task])
    if not by_offset:
        raise UserError(f"{run.path} has no task switch to align on")
    offsets = sorted(by_offset)
    return offsets, [float(np.mean(by_offset[d])) for d in offsets]


def task_time_chart(runs: list[Run]):
    """Curves aligned to each switchover, one line per task time: the task coming in
    (relearning) and the task just left (forgetting)."""
    groups = sorted(group_by_settings(runs), key=lambda g: g[0].task_time or 0)
    keys = differing_settings(groups) or ["task_time"]
    fig, axes = style.figure(1, 2, width=10.0, height=4.0)
    for ax, which, title in ((axes[0, 0], "entering", "task switched to (relearning)"),
                             (axes[0, 1], "left", "task switched away from (forgetting)")):
        for i, group in enumerate(groups):
            style.band(ax, [_aligned(run, which) for run in group],
                       describe(group[0].settings(), keys), color=style.PALETTE[i % 10], lw=1.4)
        style.accuracy_axes(ax, "steps since the task switch")
        ax.set_title(title)
        style.legend_below(ax)
    return fig


def _width(run: Run) -> int:
    network = run.config.get("network") or ["fc"]
    key = "fc_units" if network[0] == "fc" else "conv_filters"
    if key not in run.config:
        raise UserError(f"{run.path} records no {key}; the width chart needs this tool's runs")
    return int(run.config[key])


def width_chart(runs: list[Run]):
    """Forgetting and final average accuracy against the first layer's width, per network."""
    series: dict[str, dict[int, list[Run]]] = {}
    for run in runs:
        rest = {k: v for k, v in run.settings().items() if k not in ("fc_units", "conv_filters")}
        series.setdefault(json.dumps(rest, sort_keys=True, default=str), {}).setdefault(
            _width(run), []).append(run)
    if all(len(widths) < 2 for widths in series.values()):
        raise UserError("the width chart needs runs of at least two widths (--fc-units or "
                        "--conv-filters) of one setting")
    labels = differing_settings([[next(iter(w.values()))[0]] for w in series.values()])
    fig, axes = style.figure(1, 2, width=10.0, height=4.0)
    for i, widths in enumerate(series.values()):
        first = next(iter(widths.values()))[0]
        label = describe(first.settings(), [k for k in labels if k not in ("fc_units",
                                                                           "conv_filters")])
        xs = sorted(widths)
        for ax, metric in ((axes[0, 0], "forgetting"), (axes[0, 1], "average")):
            values = [[_run_metric(run, metric) for run in widths[x]] for x in xs]
            mean = [np.mean(v) for v in values]
            err = [np.std(v, ddof=1) / np.sqrt(len(v)) if len(v) > 1 else 0 for v in values]
            ax.errorbar(xs, mean, yerr=err, marker="o", capsize=3, color=style.PALETTE[i % 10],
                        label=label)
    axes[0, 0].set_ylabel("forgetting (best earlier minus final accuracy)")
    axes[0, 1].set_ylabel("final average test accuracy")
    for ax, title in ((axes[0, 0], "forgetting against width"),
                      (axes[0, 1], "accuracy against width")):
        ax.set_xscale("log", base=2)
        widths = sorted({x for w in series.values() for x in w})
        ax.set_xticks(widths, [str(x) for x in widths])
        ax.minorticks_off()
        ax.set_xlabel("first-layer width (units or filters), log scale")
        ax.set_title(title)
        style.legend_below(ax)
    return fig


def _run_metric(run: Run, metric: str) -> float:
    acc, trained, _ = accuracy_matrix(run)
    return forgetting(acc, trained) if metric == "forgetting" else average_accuracy(acc)


CHARTS = {
    "tasks": (tasks_chart, "one run's task curves with its task periods shaded"),
    "versus-single": (versus_single_chart, "each task of a switching run beside it trained alone"),
    "compare": (compare_chart, "runs compared by the settings that differ (--task to pick one)"),
    "task-time": (task_time_chart, "curves aligned to each task switch, one line per task time"),
    "width": (width_chart, "forgetting and accuracy against first-layer width"),
    "paper-figure2": (figure2_chart, "the ten-task paper's Figure 2, from episodic runs"),
}
