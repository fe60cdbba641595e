"""Plain switching against EWC, replay and per-task heads, and joint and alternate
training: a grid without a report section yet (its runs are not committed)."""

from experiments.grid import Experiment, pair

EWC_LAMBDA = 100.0
REPLAY_SIZE = 1000


def _mitigation(form, task_time=2000, rounds=2, **extra):
    """Plain switching beside each mitigation and each multi-task training mode."""
    tasks = ("id", "inv", "perm") if form == "mnist" else pair(form)
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


EXPERIMENTS = {
    "mitigation": Experiment("plain switching against EWC, replay and per-task heads, and "
                             "joint and alternate training, on id inv perm (fashion and dog "
                             "forms: id fashion, id dog); "
                             "two rounds of 2,000 steps a task", "compare", _mitigation,
                             quick_points=_mitigation_quick),
}
TABLES = ()


def sections(results: str, report_dir: str) -> list:
    del results, report_dir
    return []
