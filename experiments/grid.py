"""A grid of runs: the type every study declares its experiments with, and the --quick
shrinking of a run.

Every blog experiment has an MNIST-only form, which needs no dog data (`inv` stands in
for `dog`), a fashion form (Fashion-MNIST in place of the dogs: a second domain that
shares nothing with the digits) and, where the blog used dogs, a dog form.
"""

import dataclasses
from typing import Callable

FORMS = ("mnist", "fashion", "dog")
# The task that stands for the blog's dogs in each form.
SECOND_TASK = {"mnist": "inv", "fashion": "fashion", "dog": "dog"}


def pair(form: str) -> tuple[str, str]:
    """The blog's two tasks: MNIST and dogs, MNIST and Fashion-MNIST, or MNIST and inverted
    MNIST."""
    return "id", SECOND_TASK[form]


@dataclasses.dataclass(frozen=True)
class Experiment:
    """A set of runs: `points(form)` gives each run's settings, seeds aside."""

    description: str
    chart: str | None  # The plots chart that draws it; None: a table says it better.
    points: Callable[[str], list[dict]]
    forms: tuple[str, ...] = FORMS
    # The --quick grid, if not every point shrunk by quick(). A point may name its run
    # with "name" and set its "seed" (the base of its seeds).
    quick_points: Callable[[str], list[dict]] | None = None
    # A table of the results: (point name -> its seeds' summaries) -> JSON-ready table,
    # and the table as text; written as NAME-table.json beside the runs.
    table: Callable[[dict], dict] | None = None
    format_table: Callable[[dict], str] | None = None
    # Runs one worker process makes before a fresh one starts: more than one for many
    # short runs, so that TensorFlow's start is paid once for several.
    runs_per_process: int = 1


def quick(point: dict) -> dict:
    """The same run a hundredfold shorter, evaluated twice a period on 500 test images a task,
    and checkpointed at every evaluation, so that a stopped quick sweep resumes as a full one
    would (not from the start)."""
    max_steps = max(point["max_steps"] // 100, 20)
    shrunk = {**point, "max_steps": max_steps, "test_examples": 500}
    if "task_time" in point:
        shrunk["task_time"] = max(point["task_time"] // 100, 5)
    shrunk["test_frequency"] = max(min(shrunk.get("task_time", max_steps), max_steps) // 2, 1)
    shrunk["checkpoint_every"] = shrunk["test_frequency"]
    return shrunk
