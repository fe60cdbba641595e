"""The named experiments: each blog figure as a declared grid of run settings.

Every blog experiment has an MNIST-only form, which needs no dog data (`inv`
stands in for `dog`), a fashion form (Fashion-MNIST in place of the dogs: a second
domain that shares nothing with the digits) and, where the blog used dogs, a dog
form. `--quick`
shrinks every run a hundredfold (and evaluates it on fewer test images), for a
smoke test that still draws the chart. The ten-task paper's grid, `paper-shapes`,
has a CPU-sized and a paper-sized form and a quick grid of its own.
"""

import dataclasses
from typing import Callable

from errors import UserError
from experiments import der_mnist, paper_shapes, split_mnist

FORMS = ("mnist", "fashion", "dog")
# The task that stands for the blog's dogs in each form.
SECOND_TASK = {"mnist": "inv", "fashion": "fashion", "dog": "dog"}


def _pair(form: str) -> tuple[str, str]:
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


def _switching(form):
    a, b = _pair(form)
    return [dict(tasks=(a, b), task_time=2000, max_steps=30000),
            dict(tasks=(a,), max_steps=30000), dict(tasks=(b,), max_steps=30000)]


def _task_signal(form):
    return [dict(tasks=_pair(form), task_time=5000, max_steps=30000, input_style=style)
            for style in ("combined", "channelplex")]


def _optimizer(form):
    return [dict(tasks=_pair(form), task_time=2000, max_steps=30000, optimizer=name)
            for name in ("sgd", "adam")]


def _task_time(form):
    return [dict(tasks=_pair(form), task_time=time, max_steps=4 * time)
            for time in (2000, 5000, 10000, 20000, 40000)]


def _width(form):
    return [dict(tasks=_pair(form), task_time=2000, max_steps=30000, network=("fc", "fc"),
                 fc_units=units) for units in (50, 100, 200, 500, 1000, 2000)]


EWC_LAMBDA = 100.0
REPLAY_SIZE = 1000


def _mitigation(form, task_time=2000, rounds=2, **extra):
    """Plain switching beside each mitigation and each multi-task training mode."""
    tasks = ("id", "inv", "perm") if form == "mnist" else _pair(form)
    base = dict(tasks=tasks, task_time=task_time, max_steps=rounds * len(tasks) * task_time,
                **extra)
    return [dict(base, name="switch"),
            dict(base, name="ewc", ewc_lambda=EWC_LAMBDA),
            dict(base, name="replay", replay_size=REPLAY_SIZE),
            dict(base, name="per-task-heads", head="per-task"),
            dict(base, name="joint", mode="joint"),
            dict(base, name="joint-uncertainty", mode="joint", loss_weighting="uncertainty"),
            dict(base, name="joint-pcgrad", mode="joint", pcgrad=True),
            dict(base, name="alternate", mode="alternate")]


def _mitigation_quick(form):
    """One pass over the tasks, 200 steps each, evaluated on 500 test images a task."""
    return _mitigation(form, task_time=200, rounds=1, test_examples=500, test_frequency=100)


EXPERIMENTS: dict[str, Experiment] = {
    "baseline-mnist": Experiment("MNIST alone for 25,000 steps (blog: 96% at 2,000, 97% at "
                                 "25,000)", "tasks",
                                 lambda form: [dict(tasks=("id",), max_steps=25000)],
                                 forms=("mnist",)),
    "baseline-dog": Experiment("dogs alone for 24,000 steps (blog: 33%); the other forms: "
                               "fashion, or inv, alone",
                               "tasks", lambda form: [dict(tasks=(_pair(form)[1],),
                                                           max_steps=24000)]),
    "switching": Experiment("two tasks switching every 2,000 steps for 30,000, beside each "
                            "alone", "versus-single", _switching),
    "task-signal": Experiment("combined against channelplex input, task time 5,000",
                              "compare", _task_signal),
    "optimizer": Experiment("sgd against adam, task time 2,000", "compare", _optimizer),
    "task-time": Experiment("task times 2,000 to 40,000 steps, four periods each", "task-time",
                            _task_time),
    "width": Experiment("fc fc with first-layer widths 50 to 2,000", "width", _width),
    "mitigation": Experiment("plain switching against EWC, replay and per-task heads, and "
                             "joint and alternate training, on id inv perm (fashion and dog "
                             "forms: id fashion, id dog); "
                             "two rounds of 2,000 steps a task", "compare", _mitigation,
                             quick_points=_mitigation_quick),
    "paper-shapes": Experiment("the ten-task paper: criterion episodes over Latin-square task "
                               "orders, 3 dimensions x 6 blocks x 10", "paper-figure2",
                               paper_shapes.points, forms=("cpu", "paper"),
                               quick_points=paper_shapes.quick_points),
    "split-mnist": Experiment("Hsu et al. 2018's Table 2: split MNIST in the task-, domain- "
                              "and class-incremental scenarios, every method as the authors' "
                              "scripts set it", None, split_mnist.points, forms=("mnist",),
                              quick_points=split_mnist.quick_points, table=split_mnist.table,
                              format_table=split_mnist.format_table, runs_per_process=20),
    "split-mnist-lr-drop": Experiment(
        "split-mnist's cells that the authors' logs ran with the learning rate dropped to a "
        "tenth after the first epoch, run with that drop", None,
        split_mnist.logs_rate_points, forms=("mnist",),
        quick_points=split_mnist.logs_rate_quick_points, table=split_mnist.logs_rate_table,
        format_table=split_mnist.format_table, runs_per_process=20),
    "der-mnist": Experiment(
        "the DER paper's MNIST table (Buzzega et al. 2020): Sequential (class- and task-IL), "
        "Permuted and Rotated MNIST and MNIST-360 under Mammoth's protocol, every method this "
        "runner has at Mammoth's best args for each buffer", None, der_mnist.points,
        forms=("mnist",), quick_points=der_mnist.quick_points, table=der_mnist.table,
        format_table=der_mnist.format_table, runs_per_process=20),
}


def all_forms() -> list[str]:
    return sorted({form for experiment in EXPERIMENTS.values() for form in experiment.forms})


def get_experiment(name: str) -> Experiment:
    try:
        return EXPERIMENTS[name]
    except KeyError:
        raise UserError(f"unknown experiment {name!r}; known: {', '.join(EXPERIMENTS)} "
                        "(python -m experiments list)") from None


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
