"""The blog's claim 6: faster switching gives higher test accuracy for the same number of
steps; aligned on the switchovers each task time reaches similar accuracy, and longer
periods forget no more."""

import statistics

from experiments.grid import Experiment, pair
from experiments.studies.blog import forms
from experiments.studies.blog.measures import (compare, mean_drop, pair_note, points,
                                               scale_note, seeds, test_at)


def _task_time(form):
    return [dict(tasks=pair(form), task_time=time, max_steps=4 * time)
            for time in (2000, 5000, 10000, 20000, 40000)]


EXPERIMENTS = {
    "task-time": Experiment("task times 2,000 to 40,000 steps, four periods each", "task-time",
                            _task_time),
}
TABLES = forms.tables("task-time", "none")


def _parts(groups: dict[str, list]):
    if len(groups) < 2:
        return None
    ordered = sorted(groups.values(), key=lambda runs: runs[0].task_time)
    fast, slow = ordered[0], ordered[-1]
    common = fast[0].last_step
    same_steps = compare(lambda r: test_at(r, common)["test_accuracy_all"], fast, slow)
    # Aligned: the mean over tasks at the end of each period, every task time.
    periods = min(len(runs[0].periods()) for runs in ordered)
    aligned = [[statistics.fmean(test_at(r, (k + 1) * r.task_time)["test_accuracy_all"]
                                 for r in runs) for runs in ordered] for k in range(periods)]
    spread = max(max(row) - min(row) for row in aligned)
    forgets = compare(mean_drop, slow, fast)
    times = ", ".join(f"{runs[0].task_time:,}" for runs in ordered)
    parts = [(f"faster switching higher at the same step ({common:,}: task time "
              f"{fast[0].task_time:,} less {slow[0].task_time:,})",
              points(*same_steps[:2]), same_steps[2]),
             (f"aligned on switchovers, similar accuracy (the widest spread of the period-end "
              f"means over task times, periods 1-{periods}; similar: within 5 points)",
              f"{100 * spread:z.2f} points", spread <= 0.05),
             (f"longer periods forget no more (mean drop, task time {slow[0].task_time:,} "
              f"less {fast[0].task_time:,})", points(*forgets[:2]), not forgets[2])]
    setting = (f"{pair_note(fast)}, task times {times}, four periods each, {seeds(fast)} "
               f"each; the longest: {scale_note(slow[0], 40000, 160000)}.")
    widest = max(range(periods), key=lambda k: max(aligned[k]) - min(aligned[k]))
    row = aligned[widest]
    low, high = row.index(min(row)), row.index(max(row))
    why = (f"Why not: the spread is one of period length: at the end of period {widest + 1} "
           f"the mean over tasks is {100 * row[low]:z.1f}% with task time "
           f"{ordered[low][0].task_time:,} and {100 * row[high]:z.1f}% with "
           f"{ordered[high][0].task_time:,}"
           + (f", because at {scale:g} of the blog's scale the shortest periods are too short "
              f"to learn a task (the blog's shortest, 2,000 steps, bring MNIST to about 95%, "
              "claim 1)" if (scale := slow[0].task_time / 40000) < 1 else "") + ".")
    return parts, setting, why


CLAIM = forms.Claim(
    title="6. Task time", experiment="task-time", chart="task-time", parts=_parts,
    text="Faster switching gives higher test accuracy for the same number of steps; aligned "
         "on the switchovers, each task time reaches similar accuracy, and longer periods do "
         "not forget more.",
    blog=("yes",) * 3,
    mnist_command=".venv/bin/python -m experiments run task-time --scale 0.05 --seeds 3 "
                  "--test-frequency 50 --test-examples 2000 --log-dir results/task-time")
sections = CLAIM.sections
