"""The named experiments: each study's grids of run settings, gathered from the studies.

`--quick` shrinks every run a hundredfold (and evaluates it on fewer test images), for a
smoke test that still draws the chart. The ten-task paper's grid, `paper-shapes`, has a
CPU-sized and a paper-sized form and a quick grid of its own.
"""

from errors import UserError
from experiments.grid import Experiment
from experiments.studies import STUDIES


def _gather() -> dict[str, Experiment]:
    experiments = {}
    for study in STUDIES:
        for name, experiment in study.EXPERIMENTS.items():
            if name in experiments:
                raise ValueError(f"two studies declare the experiment {name!r}")
            experiments[name] = experiment
    return experiments


EXPERIMENTS: dict[str, Experiment] = _gather()


def all_forms() -> list[str]:
    return sorted({form for experiment in EXPERIMENTS.values() for form in experiment.forms})


def get_experiment(name: str) -> Experiment:
    try:
        return EXPERIMENTS[name]
    except KeyError:
        raise UserError(f"unknown experiment {name!r}; known: {', '.join(EXPERIMENTS)} "
                        "(python -m experiments list)") from None
