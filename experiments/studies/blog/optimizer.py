"""The blog's claim 5: Adam reaches higher test accuracy sooner than SGD but overfits the
current task; SGD forgets less and ends higher on all tasks."""

import statistics

from experiments.grid import Experiment, pair
from experiments.studies.blog import forms
from experiments.studies.blog.measures import (compare, mean_drop, pair_note, points,
                                               scale_note, seeds, test_at, train_near)


def _optimizer(form):
    return [dict(tasks=pair(form), task_time=2000, max_steps=30000, optimizer=name)
            for name in ("sgd", "adam")]


EXPERIMENTS = {
    "optimizer": Experiment("sgd against adam, task time 2,000", "compare", _optimizer),
}
TABLES = forms.tables("optimizer", "period-ends")


def _parts(groups: dict[str, list]):
    sgd = next((runs for label, runs in groups.items() if label.endswith("sgd")), None)
    adam = next((runs for label, runs in groups.items() if label.endswith("adam")), None)
    if not sgd or not adam:
        return None
    first = sgd[0].task_time
    sooner = compare(lambda r: test_at(r, first)["test_accuracy_all"], adam, sgd)

    def gap(run):  # The active task's training less test accuracy at its periods' ends.
        return statistics.fmean(train_near(run, end) - test_at(run, end)["test_accuracy"][t]
                                for _, end, t in run.periods() if end <= run.last_step)

    overfits = compare(gap, adam, sgd)
    forgets = compare(mean_drop, adam, sgd)
    parts = [(f"Adam higher sooner (mean over tasks at step {first:,}, Adam less SGD)",
              points(*sooner[:2]), sooner[2]),
             ("Adam overfits the current task (training less test accuracy of the active "
              "task at its periods' ends, Adam less SGD)", points(*overfits[:2]), overfits[2]),
             ("SGD forgets less (mean drop at a switch, Adam less SGD)",
              points(*forgets[:2]), forgets[2])]
    last_trained = [p for p in sgd[0].periods() if p[0] < sgd[0].last_step][-1][2]
    behind = []
    for k, task in enumerate(sgd[0].tasks):
        ends = compare(lambda r, task=task: r.tests[-1]["test_accuracy"][task], sgd, adam)
        which = ("first", "second", "third")[k]
        parts.append((f"SGD ends higher on the {which} task (`{task}`; SGD less Adam, step "
                      f"{sgd[0].last_step:,})", points(*ends[:2]), ends[2]))
        if not ends[2]:
            behind.append(task)
    why = ""
    if behind == [last_trained]:
        why = (f"Why not on `{last_trained}`: it is the task the last period trained, and at "
               "the end of its own period Adam's lead on the current task (the first part) "
               "is in the figure; SGD ends higher on the task left behind.")
    elif behind:
        why = (f"Why not on {', '.join(f'`{t}`' for t in behind)}: not established here "
               f"(`{last_trained}` was trained last).")
    rate = sgd[0].config.get("learning_rate")
    setting = (f"{pair_note(sgd)}, {scale_note(sgd[0], 2000, 30000)}; {seeds(sgd)} and "
               f"{len(adam)}" + (f", both at the default learning rate {rate}." if rate
                                 else "."))
    return parts, setting, why


CLAIM = forms.Claim(
    title="5. Adam against SGD", experiment="optimizer", chart="compare", parts=_parts,
    text="Adam reaches higher test accuracy sooner than SGD but overfits the current task; "
         "SGD forgets less and ends higher on all tasks.",
    blog=("yes",) * 5,
    mnist_command=".venv/bin/python -m experiments run optimizer --scale 0.2 --seeds 3 "
                  "--test-frequency 200 --log-dir results/optimizer")
sections = CLAIM.sections
