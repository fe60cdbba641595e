"""The blog's claim 2: dogs alone overfit (training accuracy near 100%) and reach 33% test
accuracy after 24,000 steps. Not testable here (no dog images); its MNIST form, `inv` alone,
is claim 3's single-task reference, and the fashion form's second task alone is set beside
the dogs' overfitting."""

from experiments.grid import Experiment, pair
from experiments.stats import Measure
from experiments.studies.base import NOT_TESTABLE, Section, Table, folder
from experiments.studies.blog.measures import seeds, test_at, train_near

EXPERIMENTS = {
    "baseline-dog": Experiment("dogs alone for 24,000 steps (blog: 33%); the other forms: "
                               "fashion, or inv, alone",
                               "tasks", lambda form: [dict(tasks=(pair(form)[1],),
                                                           max_steps=24000)]),
}
TABLES = (Table("baseline-inv", "period-ends", "baseline-dog", "mnist"),)


def sections(results: str, report_dir: str) -> list[Section]:
    del report_dir
    claim = ("Dogs alone: training accuracy near 100% (overfitting), test accuracy 33% after "
             "24,000 steps.")
    runs = folder(results, "baseline-inv").runs("*-s*")
    command = (".venv/bin/python -m experiments run baseline-dog --seeds 3 "
               "--test-frequency 500 --log-dir results/baseline-inv")
    body = ("Not testable here: the dog images cannot be had on this machine (no internet). "
            "The dog form is `python -m experiments run baseline-dog --data-dog-dir DIR` "
            "on a machine with the data. Its MNIST form, `inv` alone, is the single-task "
            "reference of the switching claim (3) below")
    if runs:
        test = Measure([test_at(run, 24000)["test_accuracy"]["inv"] for run in runs])
        train = Measure([train_near(run, 24000) for run in runs])
        body += (f":\n\n```sh\n{command}\n```\n\n`inv` alone at 24,000 steps: test "
                 f"accuracy {test.percent()}, training accuracy (its last 100 steps) "
                 f"{train.percent()}.")
    else:
        body += f"; not run yet:\n\n```sh\n{command}\n```"
    fashion = folder(results, "switching-fashion").runs("02-*-s*")
    if fashion:
        test = Measure([test_at(run, 24000)["test_accuracy"]["fashion"] for run in fashion])
        train = Measure([train_near(run, 24000) for run in fashion])
        body += ("\n\nThe fashion form's second task alone (the switching claim's single-task "
                 f"run of `fashion`, {seeds(fashion)}) at 24,000 steps: test accuracy "
                 f"{test.percent()}, training accuracy (its last 100 steps, dropout on) "
                 f"{train.percent()}: {100 * (train.mean - test.mean):z.1f} points apart, "
                 "against the dogs' about 67. Fashion-MNIST is learnable where ten dog breeds "
                 "at 28x28 were not, so it stands for the dogs as a second domain, not for "
                 "their overfitting.")
    return [Section("2. Dogs alone", body, claim, NOT_TESTABLE)]
