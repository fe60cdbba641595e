"""The studies the report answers, in its order: the original code side by side, the blog's
claims, the ten-task paper, Hsu et al.'s split MNIST and the DER paper's MNIST table. Each
study module holds its grids
(EXPERIMENTS, the registry's entries), the results folders it reads with what their tables
keep (TABLES) and its report section(s) (`sections(results, report_dir)`)."""

from errors import UserError
from experiments.studies import (der_mnist, fidelity, mitigation, paper, split_mnist,
                                 split_mnist_lr_drop)
from experiments.studies.base import Table
from experiments.studies.blog import (dogs_alone, mnist_alone, optimizer, switching,
                                      task_signal, task_time, width)

STUDIES = (fidelity, mnist_alone, dogs_alone, switching, task_signal, optimizer, task_time,
           width, mitigation, paper, split_mnist, split_mnist_lr_drop, der_mnist)


def tables() -> dict[str, Table]:
    """Every results folder a study reads, by its name under results/."""
    found = {}
    for study in STUDIES:
        for table in study.TABLES:
            if table.folder in found:
                raise ValueError(f"two studies declare results/{table.folder}")
            found[table.folder] = table
    return found


def table_of(name: str) -> Table:
    """The declared results folder `name` (as under results/); an error naming them if no
    study reads it."""
    known = tables()
    try:
        return known[name]
    except KeyError:
        raise UserError(f"no study reads results/{name}; the folders they read: "
                        f"{', '.join(known)} (a new study declares its own in its TABLES)"
                        ) from None
