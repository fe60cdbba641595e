"""The blog's claim 1: MNIST alone, 96% test accuracy after 2,000 steps and 97% after 25,000;
beside this project's runs, the original's where they have been made."""

import os

from experiments.grid import Experiment
from experiments.stats import Measure, within_band
from experiments.studies.base import (REPRODUCED, Section, Table, draw, folder, not_measured,
                                      rel, verdict)
from experiments.studies.blog.forms import form_runs
from experiments.studies.blog.measures import test_at

EXPERIMENTS = {
    "baseline-mnist": Experiment("MNIST alone for 25,000 steps (blog: 96% at 2,000, 97% at "
                                 "25,000)", "tasks",
                                 lambda form: [dict(tasks=("id",), max_steps=25000)],
                                 forms=("mnist",)),
}
# Its chart draws the training curve: every train line.
TABLES = (Table("baseline-mnist", "all", "baseline-mnist", "mnist"),
          Table("original/baseline-mnist", "none", "baseline-mnist", "mnist"))
# A figure of the blog is one unseeded run's chart read to the whole percent: a measured
# mean agrees with it when within the rounding (half a point) and two of our seeds' sd
# (how far one run may stray from the mean).
ROUNDING = 0.5


def sections(results: str, report_dir: str) -> list[Section]:
    claim = "MNIST alone: 96% test accuracy after 2,000 steps, 97% after 25,000."
    runs = folder(results, "baseline-mnist").runs("*-s*")
    command = ".venv/bin/python -m experiments run baseline-mnist --seeds 3 " \
              "--log-dir results/baseline-mnist"
    original_command = (".venv/bin/python -m fidelity.original_sweep PATH/TO/task.py "
                        "baseline-mnist --runs 3 --log-dir results/original/baseline-mnist")
    if not runs:
        return [not_measured("1. MNIST alone", claim, command)]
    sides = {"this project": runs}
    original = list(form_runs(results, "original/baseline-mnist")[0].values())
    if original:
        sides["the original"] = original[0]
    rows, passed, not_holding = [], [], []
    for step, blog in ((2000, 96.0), (25000, 97.0)):
        for side, side_runs in sides.items():
            measured = Measure([test_at(run, step)["test_accuracy"]["id"] for run in side_runs])
            agrees, difference, tolerance = within_band(measured, blog, ROUNDING)
            if side == "this project":
                passed.append(agrees)
                if not agrees:
                    not_holding.append(f"{blog:z.0f}% after {step:,} steps "
                                       f"({100 * measured.mean:z.1f}% measured)")
            rows.append(f"| {step:,} | {blog:z.0f}% | {side} | {measured.percent()} | "
                        f"{difference:+z.2f} | ±{tolerance:z.2f} | {'yes' if agrees else 'no'} |")
    chart = os.path.join(results, "baseline-mnist", "baseline-mnist.png")
    body = (f"The default network and settings (`conv fc`, SGD 0.01, batch 100, the last "
            f"55,000 training images, every test image every 100 steps):\n\n"
            f"```sh\n{command}\n```\n\n"
            + (f"The original's runs (unseeded, {len(original[0])} runs):\n\n```sh\n"
               + original_command.replace("--runs 3", f"--runs {len(original[0])}")
               + "\n```\n\n" if original else "")
            + "| step | blog | who | measured | difference | agreement band | within |\n"
            "|---|---|---|---|---|---|---|\n" + "\n".join(rows) + "\n\n"
            f"![MNIST alone]({rel(chart, report_dir)})")
    if verdict(passed) != REPRODUCED:
        body += ("\n\nWhere a figure is outside its band, it is above the blog's: the "
                 "blog's figures are one unseeded run's chart read to the whole percent, "
                 "and its code skipped training on every hundredth step (its test steps).")
    return [Section("1. MNIST alone", body, claim, verdict(passed),
                    charts=[(chart, draw("tasks", runs))], not_holding=not_holding)]
