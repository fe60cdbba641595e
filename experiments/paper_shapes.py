"""The ten-task paper's replication grid: task orders from Latin squares, per dimension.

In a block of ten replications every task stands in every ordinal position once
(a Latin square: rows are replications, columns positions); six blocks for each
of the three dimensions give the paper's 180 replications. Each block's square
is the cyclic one with its rows, columns and symbols shuffled by a seed of its
own, so blocks differ and the grid is the same on every machine.
"""

import numpy as np

from data.shapes import DIMENSIONS, FEATURES, SIZES
from seeds import derive_seed

BLOCKS = 6

# Settings every replication shares. The task signal's hot value is 10 at the CPU
# size: with a plain one-hot, 576 conv features drown it and two similar colour
# tasks stall at "either colour" (0.80 held-out each) for over 1,500 steps; at 10
# both pass 0.99 within 300 (docs/ten-task-study.md). The paper form keeps
# the paper's plain one-hot.
COMMON = dict(schedule="episodes", network=("shapes-paper",), init="he", task_signal=True,
              optimizer="adam", learning_rate=0.001, batch=64, criterion=0.95,
              test_frequency=100)
FORM_SETTINGS = {
    "cpu": dict(task_signal_scale=10.0, max_epochs=20),
    "paper": dict(task_signal_scale=1.0, max_epochs=100),
}


def latin_square(n: int, rng: np.random.Generator) -> np.ndarray:
    """A random n x n Latin square: every symbol once in each row and each column."""
    cyclic = (np.arange(n)[:, None] + np.arange(n)[None, :]) % n
    square = cyclic[rng.permutation(n)][:, rng.permutation(n)]
    return rng.permutation(n)[square]


def replications(dimensions=DIMENSIONS, blocks: int = BLOCKS,
                 features: int = 10) -> list[tuple[str, int, int, tuple[str, ...]]]:
    """(dimension, block, row, task order) of every replication of the grid."""
    grid = []
    for dimension in dimensions:
        names = [f"shapes-{dimension}-{f}" for f in FEATURES[dimension][:features]]
        for block in range(blocks):
            rng = np.random.default_rng(derive_seed(0, "latin", dimension, str(block)))
            for row, order in enumerate(latin_square(len(names), rng)):
                grid.append((dimension, block, row, tuple(names[k] for k in order)))
    return grid


def _sizes(form: str) -> dict:
    size = SIZES[form]
    return dict(shapes_height=size["height"], shapes_width=size["width"],
                shapes_train=size["train"], shapes_test=size["test"])


def points(form: str) -> list[dict]:
    """The 180 replications at the form's sizes (cpu or paper)."""
    return [dict(COMMON, **FORM_SETTINGS[form], **_sizes(form), tasks=order,
                 seed=number, name=f"{dimension}-b{block}-r{row}")
            for number, (dimension, block, row, order) in enumerate(replications())]


def quick_points(form: str) -> list[dict]:
    """One 4 x 4 Latin square of colour tasks on small scenes: minutes, and still Figure 2."""
    del form
    small = dict(shapes_height=32, shapes_width=32, shapes_train=1500, shapes_test=300,
                 max_epochs=4, criterion=0.9, test_frequency=10)
    return [{**COMMON, **FORM_SETTINGS["cpu"], **small, "tasks": order, "seed": number,
             "name": f"{dimension}-b{block}-r{row}"}
            for number, (dimension, block, row, order)
            in enumerate(replications(("colour",), blocks=1, features=4))]
