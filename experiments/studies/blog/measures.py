"""What the blog's claims measure of a run (test accuracy at a step, training accuracy at a
period's end, the drop at a switch), and how their figures and settings are written."""

import statistics
from typing import Callable

from experiments.stats import Measure, greater
from experiments.tables import TRAIN_WINDOW


def test_at(run, step: int) -> dict:
    """The run's test record at `step` exactly."""
    for record in run.tests:
        if record["step"] == step:
            return record
    raise ValueError(f"{run.path} has no test at step {step}")


def train_near(run, step: int, window: int = TRAIN_WINDOW) -> float:
    """The run's training accuracy over the `window` steps up to `step`: the mean of its
    train records there (each the accuracy of the steps since the one before)."""
    records = [r for r in run.trains if step - window < r["step"] <= step]
    return statistics.fmean(r["train_accuracy"] for r in records)


def compare(measure: Callable, more: list, less: list) -> tuple[float, float, bool]:
    """stats.greater of `measure` (a function of a run) over the runs of `more` and of
    `less`."""
    return greater(Measure([measure(run) for run in more]),
                   Measure([measure(run) for run in less]))


def mean_drop(run, task: str | None = None) -> float:
    """The mean drop of a task left at a switch (its accuracy then less its lowest before it
    returns), over the run's switches (those of `task` only, if given)."""
    from plots.metrics import switch_events

    drops = [e["drop"] for e in switch_events(run) if task is None or e["left"] == task]
    return statistics.fmean(drops)


def period_train(run, task: str) -> float:
    """The task's training accuracy over the last 100 steps of each of its periods, averaged."""
    return statistics.fmean(train_near(run, end) for _, end, active in run.periods()
                            if active == task and end <= run.last_step)


def scale_note(run, blog_task_time: int, blog_steps: int) -> str:
    """How a claim's runs stand to the blog's: the scale of their task time and length, and
    what each evaluation tested."""
    scale = run.task_time / blog_task_time
    examples = run.config.get("test_examples")
    tested = f"the first {examples:,} test images of each task" if examples \
        else "every test image of each task"
    note = (f"task time {run.task_time:,} and {run.last_step:,} steps"
            + (f": the blog's {blog_task_time:,} and {blog_steps:,} scaled by {scale:g} to "
               "fit this machine" if scale != 1 else ", the blog's"))
    every = run.config.get("test_frequency") or run.tests[1]["step"] - run.tests[0]["step"]
    return f"{note}; {tested} tested every {every:,} steps"


def points(difference: float, se: float) -> str:
    return f"{100 * difference:+z.2f} ± {100 * se:z.2f} points"


def pair_note(runs) -> str:
    """The form's two tasks in words, as a setting's note opens."""
    first, second = runs[0].tasks[0], runs[0].tasks[-1]
    stands = {"inv": " (`inv` standing in for the dogs)",
              "fashion": " (Fashion-MNIST in place of the dogs)"}.get(second, "")
    return f"`{first}` and `{second}`{stands}"


def seeds(runs) -> str:
    """How many runs a measure is over: seeds of this project, runs of the unseeded original."""
    word = "run" if runs[0].config.get("source") else "seed"
    return f"{len(runs)} {word}{'s' if len(runs) != 1 else ''}"
