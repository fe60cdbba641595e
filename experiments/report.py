"""The results report, docs/results.md, made again from the run logs committed under results/.

`python -m experiments report` writes it and draws its charts beside the logs; a test
checks that the committed report is what the committed logs give. Every figure in it is
computed here from the logs (config.json, metrics.jsonl, summary.json). What is written
here by hand is the claims, the commands that ran them, the rule each verdict follows and
the reasons offered where a claim is not reproduced.
"""

import dataclasses
import glob
import io
import json
import math
import os
import re
import statistics
import warnings
from typing import Callable

import numpy as np

from errors import UserError
from rundir import is_complete, read_summary

REPRODUCED, PARTLY, NOT_REPRODUCED = "reproduced", "partly reproduced", "not reproduced"
NOT_TESTABLE, NOT_MEASURED = "not testable here", "not measured yet"
# A figure of the blog is one unseeded run's chart read to the whole percent: a measured
# mean agrees with it when within the rounding (half a point) and two of our seeds' sd
# (how far one run may stray from the mean).
ROUNDING = 0.5


@dataclasses.dataclass
class Section:
    """One part of the report; a claim's has its verdict, and a chart to draw."""

    title: str
    body: str
    claim: str | None = None
    verdict: str | None = None
    source: str = "the blog"  # Whose claim.
    charts: list[tuple[str, Callable]] = dataclasses.field(default_factory=list)
    not_holding: list[str] = dataclasses.field(default_factory=list)  # Parts, for the summary.


@dataclasses.dataclass
class Measure:
    """Values over seeds: their mean, standard error and number."""

    values: list[float]

    @property
    def n(self) -> int:
        return len(self.values)

    @property
    def mean(self) -> float:
        return statistics.fmean(self.values)

    @property
    def sd(self) -> float:
        return statistics.stdev(self.values) if self.n > 1 else 0.0

    @property
    def se(self) -> float:
        return self.sd / math.sqrt(self.n)

    def percent(self) -> str:
        """mean ± s.e. (n), in percent."""
        return f"{100 * self.mean:z.2f} ± {100 * self.se:z.2f} (n={self.n})"


def _runs(results: str, pattern: str) -> list[str]:
    """The complete run directories under results/ that match `pattern`, sorted."""
    return sorted(path for path in glob.glob(os.path.join(results, pattern))
                  if os.path.isdir(path) and is_complete(path))


def _load(paths: list[str]):
    from plots.runlog import load_runs

    return load_runs(paths)


def _test_at(run, step: int) -> dict:
    """The run's test record at `step` exactly."""
    for record in run.tests:
        if record["step"] == step:
            return record
    raise ValueError(f"{run.path} has no test at step {step}")


def _blog_agreement(measured: Measure, blog: float) -> tuple[bool, float, float]:
    """(agrees, difference in points, tolerance in points) of a measured accuracy and a blog
    figure in percent."""
    difference = 100 * measured.mean - blog
    tolerance = ROUNDING + 2 * 100 * measured.sd
    return abs(difference) <= tolerance, difference, tolerance


def _verdict(passed: list[bool]) -> str:
    return REPRODUCED if all(passed) else PARTLY if any(passed) else NOT_REPRODUCED


def _not_measured(title: str, claim: str, command: str) -> Section:
    return Section(title, "Not run at scale yet. The experiment that tests it:\n\n"
                          f"```sh\n{command}\n```", claim, NOT_MEASURED)


def _rel(path: str, report_dir: str) -> str:
    """A link from the report to `path`."""
    return os.path.relpath(os.path.abspath(path), report_dir)


# --- The original code, side by side --------------------------------------------------

FIDELITY = [
    ("id-inv-tt200", "--tasks id inv --task-time 200 --max-steps 800", 10),
    ("id-ref-inv-channelplex-tt200",
     "--tasks id ref inv --input-style channelplex --task-time 200 --max-steps 1200", 6),
]


def _fidelity_table(directory: str):
    from fidelity.compare import accuracies, compare, print_table
    from rundir import read_config

    original = sorted(glob.glob(os.path.join(directory, "original", "*")), key=_numbered)
    project = sorted(glob.glob(os.path.join(directory, "project", "seed*")), key=_numbered)
    original = [p for p in original if os.path.isdir(p)]
    project = [p for p in project if os.path.isdir(p)]
    tasks, a = accuracies(original)
    _, b = accuracies(project)
    rows = compare(tasks, a, b, read_config(project[0], "")["task_time"])
    text = io.StringIO()
    print_table(rows, text)
    return rows, text.getvalue()


def _numbered(path: str) -> int:
    return int("".join(c for c in os.path.basename(path) if c.isdigit()) or 0)


def fidelity(results: str, report_dir: str) -> list[Section]:
    from fidelity.compare import AGREE_T, MARGIN

    parts = ["The original TF1 `task.py` (Octavian-ai/multiple-tasks; not in this repository) "
             "run under TensorFlow 2's `tf.compat.v1` through `fidelity.run_original`, "
             "unseeded, against this project with seeds 0 to n-1, on the same work "
             "([fidelity](fidelity.md) says how and what was patched). Each "
             "table is made again from the runs of both sides under `results/fidelity/`."]
    for name, flags, runs in FIDELITY:
        directory = os.path.join(results, "fidelity", name)
        if not os.path.isdir(directory):
            continue
        rows, table = _fidelity_table(directory)
        agree = sum(abs(r["t"]) < AGREE_T for r in rows)
        same = [r for r in rows if r["equivalent"]]
        higher = sum(r["difference"] > 0 for r in rows)
        spread = sum(r["original"]["sd"] > r["project"]["sd"] for r in rows)
        parts.append(
            f"`{flags}`, {rows[0]['original']['n']} runs of the original against "
            f"{rows[0]['project']['n']} seeds (`results/fidelity/{name}/`):\n\n"
            f"```sh\n.venv/bin/python -m fidelity.compare ORIGINAL_TASK_PY --runs {runs} "
            f"--out results/fidelity/{name} \\\n    -- {flags}\n```\n\n```\n{table}```\n\n"
            f"The means agree within the runs' spread (|t| < {AGREE_T:g}) in {agree} of "
            f"{len(rows)} rows; the project's mean is the higher in {higher} of them, and "
            f"the original's runs spread the wider in {spread}. Not differing is not being "
            f"the same: the two are shown equivalent within ±{100 * MARGIN:g} points (the 90% "
            f"bootstrap interval of the difference inside the margin, two one-sided tests "
            f"at 5%) in {len(same)} of {len(rows)} rows"
            + (f"; where not, the runs' spread is too wide for {rows[0]['original']['n']} "
               "runs to tell (the widest interval "
               f"{100 * max(r['interval'][1] - r['interval'][0] for r in rows):z.1f} points)"
               if len(same) < len(rows) else "") + ".")
    parts.append(
        "Differences of the original that could play a part, not separated here: it "
        "trains 1% fewer steps (none on its test steps), and it draws its batches from "
        "one stream shared by all tasks.")
    return [Section("The original code, side by side", "\n\n".join(parts))]


# --- The blog's claims -------------------------------------------------------------------

def claim_mnist_alone(results: str, report_dir: str) -> list[Section]:
    claim = "MNIST alone: 96% test accuracy after 2,000 steps, 97% after 25,000."
    paths = _runs(results, "baseline-mnist/*-s*")
    command = ".venv/bin/python -m experiments run baseline-mnist --seeds 3 " \
              "--log-dir results/baseline-mnist"
    original_command = (".venv/bin/python -m fidelity.original_sweep PATH/TO/task.py "
                        "baseline-mnist --runs 3 --log-dir results/original/baseline-mnist")
    if not paths:
        return [_not_measured("1. MNIST alone", claim, command)]
    sides = {"this project": _load(paths)}
    original = [runs for runs in _form_runs(results, "original/baseline-mnist").values()]
    if original:
        sides["the original"] = original[0]
    rows, passed, not_holding = [], [], []
    for step, blog in ((2000, 96.0), (25000, 97.0)):
        for side, runs in sides.items():
            measured = Measure([_test_at(run, step)["test_accuracy"]["id"] for run in runs])
            agrees, difference, tolerance = _blog_agreement(measured, blog)
            if side == "this project":
                passed.append(agrees)
                if not agrees:
                    not_holding.append(f"{blog:z.0f}% after {step:,} steps "
                                       f"({100 * measured.mean:z.1f}% measured)")
            rows.append(f"| {step:,} | {blog:z.0f}% | {side} | {measured.percent()} | "
                        f"{difference:+z.2f} | ±{tolerance:z.2f} | {'yes' if agrees else 'no'} |")
    verdict = _verdict(passed)
    chart = os.path.join(results, "baseline-mnist", "baseline-mnist.png")
    body = (f"The default network and settings (`conv fc`, SGD 0.01, batch 100, the last "
            f"55,000 training images, every test image every 100 steps):\n\n"
            f"```sh\n{command}\n```\n\n"
            + (f"The original's runs (unseeded, {len(original[0])} runs):\n\n```sh\n"
               + original_command.replace("--runs 3", f"--runs {len(original[0])}")
               + "\n```\n\n" if original else "")
            + "| step | blog | who | measured | difference | agreement band | within |\n"
            "|---|---|---|---|---|---|---|\n" + "\n".join(rows) + "\n\n"
            f"![MNIST alone]({_rel(chart, report_dir)})")
    if verdict != REPRODUCED:
        body += ("\n\nWhere a figure is outside its band, it is above the blog's: the "
                 "blog's figures are one unseeded run's chart read to the whole percent, "
                 "and its code skipped training on every hundredth step (its test steps).")
    return [Section("1. MNIST alone", body, claim, verdict,
                    charts=[(chart, lambda: _draw("tasks", paths))], not_holding=not_holding)]


def claim_dogs_alone(results: str, report_dir: str) -> list[Section]:
    claim = ("Dogs alone: training accuracy near 100% (overfitting), test accuracy 33% after "
             "24,000 steps.")
    paths = _runs(results, "baseline-inv/*-s*")
    command = (".venv/bin/python -m experiments run baseline-dog --seeds 3 "
               "--test-frequency 500 --log-dir results/baseline-inv")
    body = ("Not testable here: the dog images cannot be had on this machine (no internet). "
            "The dog form is `python -m experiments run baseline-dog --data-dog-dir DIR` "
            "on a machine with the data. Its MNIST form, `inv` alone, is the single-task "
            "reference of the switching claim (3) below")
    if paths:
        runs = _load(paths)
        test = Measure([_test_at(run, 24000)["test_accuracy"]["inv"] for run in runs])
        train = Measure([_train_near(run, 24000) for run in runs])
        body += (f":\n\n```sh\n{command}\n```\n\n`inv` alone at 24,000 steps: test "
                 f"accuracy {test.percent()}, training accuracy (its last 100 steps) "
                 f"{train.percent()}.")
    else:
        body += f"; not run yet:\n\n```sh\n{command}\n```"
    fashion = _runs(results, "switching-fashion/02-*-s*")
    if fashion:
        runs = _load(fashion)
        test = Measure([_test_at(run, 24000)["test_accuracy"]["fashion"] for run in runs])
        train = Measure([_train_near(run, 24000) for run in runs])
        body += ("\n\nThe fashion form's second task alone (the switching claim's single-task "
                 f"run of `fashion`, {_seeds(runs)}) at 24,000 steps: test accuracy "
                 f"{test.percent()}, training accuracy (its last 100 steps, dropout on) "
                 f"{train.percent()}: {100 * (train.mean - test.mean):z.1f} points apart, "
                 "against the dogs' about 67. Fashion-MNIST is learnable where ten dog breeds "
                 "at 28x28 were not, so it stands for the dogs as a second domain, not for "
                 "their overfitting.")
    return [Section("2. Dogs alone", body, claim, NOT_TESTABLE)]


def _train_near(run, step: int, window: int = 100) -> float:
    """The run's training accuracy over the `window` steps up to `step`: the mean of its
    train records there (each the accuracy of the steps since the one before)."""
    records = [r for r in run.trains if step - window < r["step"] <= step]
    return statistics.fmean(r["train_accuracy"] for r in records)


# The forms a blog claim is measured in: a column heading, and the folder under results/ that
# holds an experiment's runs in that form. This project's MNIST form (`inv` standing in for the
# dogs) and its fashion form (Fashion-MNIST, a second domain), and the original code's runs at
# the fashion form's settings (fidelity.original_sweep: LOG_DIR/<setting>/<i>/).
BLOG_FORMS = (("this project, MNIST form", "{experiment}"),
              ("this project, fashion form", "{experiment}-fashion"),
              ("the original, fashion form", "original/{experiment}-fashion"))


def _form_groups(results: str, folder: str) -> dict[str, list[str]]:
    """The complete runs of one form of an experiment, by setting: this project's run
    directories (NAME-sSEED), or the original's log trees (SETTING/<i>/)."""
    if folder.startswith("original/"):
        from plots.runlog import find_runs

        root = os.path.join(results, folder)
        if not os.path.isdir(root):
            return {}
        return {point: find_runs(os.path.join(root, point))
                for point in sorted(os.listdir(root))
                if os.path.isdir(os.path.join(root, point))}
    return _paths_by_setting(results, f"{folder}/*-s*")


def _cell(figures: str, ok: bool) -> str:
    return f"{figures}: {'yes' if ok else 'no'}"


def _forms_table(columns: dict[str, list[tuple[str, str, bool]]], blog: list[str]) -> str:
    """The parts of a claim (rows): what the blog says of each (`blog`, in the parts' order),
    and how each form measures it (columns): figures and whether the part holds; "—" where
    a form has no such part."""
    parts = list(dict.fromkeys(_short(what) for rows in columns.values() for what, _, _ in rows))
    cells = {form: {_short(what): _cell(figures, ok) for what, figures, ok in rows}
             for form, rows in columns.items()}
    return ("| part | the blog | " + " | ".join(columns) + " |\n|---|---|"
            + "---|" * len(columns) + "\n"
            + "\n".join(f"| {part} | {said} | " + " | ".join(cells[form].get(part, "—")
                                                             for form in columns) + " |"
                         for part, said in zip(parts, blog)))


def _where_they_part(columns: dict[str, list[tuple[str, str, bool]]]) -> str:
    """For each part that does not hold in this project's fashion form, whether it holds in
    the original at the same settings: where the blog, the original and this project part."""
    project, original = columns.get(BLOG_FORMS[1][0]), columns.get(BLOG_FORMS[2][0])
    if project is None:
        return ""
    failing = [_short(what) for what, _, ok in project if not ok]
    if not failing:
        return ("Every part measured in this project's fashion form holds, as the blog says"
                + (" and as the original's runs show" if original and all(
                    ok for _, _, ok in original) else "") + ".")
    if original is None:
        return (f"Not holding in the fashion form: {'; '.join(failing)}. The original has not "
                "been run at these settings yet, so whether the blog, the original code or "
                "this project is at odds is open.")
    held = {_short(what): ok for what, _, ok in original}
    lines = []
    for part in failing:
        if part not in held:
            lines.append(f"- {part}: not measured in the original")
        elif held[part]:
            lines.append(f"- {part}: holds in the original but not here, a fidelity defect "
                         "to find")
        else:
            lines.append(f"- {part}: does not hold in the original either: the original code "
                         "and this project agree, and the blog's reading is at odds with both")
    return "Where they part (the fashion form):\n\n" + "\n".join(lines)


def _short_periods_why(periods, period_train: list) -> str:
    """Why a form's training accuracy stays under 95%: whose periods, and how high they end."""
    short = {}
    for (_, _, task), measure in zip(periods, period_train):
        if measure.mean < 0.95:
            short.setdefault(task, []).append(measure.mean)
    return (": " + "; ".join(
        f"`{task}`'s {len(ends)} period{'s end' if len(ends) > 1 else ' ends'} at "
        + (f"{100 * min(ends):z.1f}% to {100 * max(ends):z.1f}%" if len(ends) > 1
           else f"{100 * ends[0]:z.1f}%")
        for task, ends in short.items())
        + ". A network that learns a task, not one that memorises it, ends its periods "
        "below 100%: the blog's near-100% was the dogs' overfitting (claim 2), ten breeds of "
        "Kaggle's set, about 85 images a breed.")


def _switching_parts(groups: dict[str, list]):
    """Claim 3's parts as one form's runs measure them: the switching setting (named 00-)
    against each of its tasks alone (the other settings)."""
    from plots.metrics import switch_events

    switching = [runs for label, runs in groups.items() if label.startswith("00-")]
    alone = {runs[0].tasks[0]: runs for label, runs in groups.items()
             if not label.startswith("00-")}
    if not switching:
        return None
    runs = switching[0]

    first = runs[0]
    tasks = first.tasks
    periods = [p for p in first.periods() if p[1] <= first.last_step]
    # (a) Training accuracy of the active task over the last 100 steps of each period.
    period_train = [Measure([_train_near(run, end) for run in runs]) for _, end, _ in periods]
    lowest_train = min(m.mean for m in period_train)
    near_full = lowest_train >= 0.95
    # (b), (c) The drop of the task left at each switch, before it returns.
    events = [switch_events(run) for run in runs]
    drops = {task: [Measure([run_events[k]["drop"] for run_events in events])
                    for k, event in enumerate(events[0]) if event["left"] == task
                    and event["returns_at"] is not None] for task in tasks}
    lows = [event["lowest"] for run_events in events for event in run_events]
    costless = sum(event["drop"] <= 0 for run_events in events for event in run_events)
    partly = not costless and min(lows) > 0.1
    shrinks = all(d[-1].mean < d[0].mean for d in drops.values() if len(d) > 1)
    first_last = "; ".join(f"{task} {100 * d[0].mean:z.1f} to {100 * d[-1].mean:z.1f}"
                           for task, d in drops.items() if d)
    # (d) Against each task alone, both at 24,000 steps.
    step = 24000
    beside, near, gaps = [], [], []
    for task in tasks if all(alone.get(task) for task in tasks) else ():
        switched = Measure([_test_at(run, step)["test_accuracy"][task] for run in runs])
        single = Measure([_test_at(run, step)["test_accuracy"][task] for run in alone[task]])
        difference = switched.mean - single.mean
        margin = max(0.01, 2 * math.sqrt(switched.se ** 2 + single.se ** 2))
        near.append(difference >= -margin)
        gaps.append(f"{task} {100 * difference:+z.2f}")
        beside.append(f"| {task} | {switched.percent()} | {single.percent()} | "
                      f"{100 * difference:+z.2f} | {'yes' if near[-1] else 'no'} |")
    parts = [("training accuracy near 100% in every period (at least 95%)",
              f"lowest {100 * lowest_train:z.1f}%", near_full),
             ("each task partly forgotten (every switch a drop, never to chance)",
              f"{costless} switches cost nothing; lowest {100 * min(lows):z.1f}%", partly),
             ("forgetting shrinks (each task's last drop below its first)",
              f"{first_last} points", shrinks)]
    if beside:  # A part of its own only once every task's single-task runs are there.
        parts.append((f"at {step:,} steps each task near or above alone (within 1 point or "
                      "2 s.e.)", f"{', '.join(gaps)} points", all(near)))
    why = []
    if not near_full:
        short = [str(k + 1) for k, m in enumerate(period_train) if m.mean < 0.95]
        why.append(f"Training accuracy is under 95% in period(s) {', '.join(short)}"
                   + (" only: a task's first 2,000 steps of SGD at 0.01 bring MNIST to about "
                      "95% (claim 1), and `inv`, as learnable as `id`, does not overfit as the "
                      "blog's dogs did, whose near-100% training accuracy was their overfitting "
                      "(claim 2)." if tasks[1] == "inv" else _short_periods_why(
                          periods, period_train)))
    if costless:
        # Every switch after each task's first (the first two of a two-task run).
        later = [event["drop"] for run_events in events for event in run_events[len(tasks):]]
        why.append(f"{costless} of the {sum(map(len, events))} switches cost the task left "
                   f"nothing: after the first switchover `{tasks[0]}` and `{tasks[1]}`"
                   + (" (the same digits, inverted)" if tasks[1] == "inv" else "")
                   + " share nearly all the network needs, and a switch "
                   f"costs the other task at most {100 * max(later):z.1f} points "
                   f"(mean {100 * statistics.fmean(later):z.2f}), near the test set's noise"
                   + ("; the blog's dogs share little with MNIST." if tasks[1] == "inv"
                      else "."))
    most = max(len(d) for d in drops.values())
    drop_lines = "\n".join(
        f"| {task} | " + " | ".join([f"{100 * d.mean:z.1f}" for d in task_drops]
                                    + ["—"] * (most - len(task_drops))) + " |"
        for task, task_drops in drops.items())
    details = (f"Training accuracy of the active task over each period's last 100 steps: "
               f"lowest {100 * lowest_train:z.1f}% (periods' means over runs: "
               f"{', '.join(f'{100 * m.mean:z.1f}' for m in period_train)}).\n\n"
               f"Drop of the task left at each switch (its test accuracy at the switch less "
               f"its lowest before it returns), points, mean over {_seeds(runs)}, in order "
               f"of the switchovers; lowest accuracy of any task while the other trains "
               f"{100 * min(lows):z.1f}%:\n\n"
               "| task | " + " | ".join(str(k + 1) for k in range(most)) + " |\n"
               "|---|" + "---|" * most + "\n" + drop_lines + "\n\n"
               + (f"Test accuracy at {step:,} steps, switching against alone:\n\n"
                  "| task | switching | alone | difference | near or above |\n"
                  "|---|---|---|---|---|\n" + "\n".join(beside) if beside else
                  "The single-task runs are not all measured yet: the part that sets the "
                  "switching runs beside them is left out of this form's column and verdict."))
    singles = ("claim 1's (`id`) and claim 2's MNIST form (`inv`)" if any(
        label.startswith("baseline-") for label in groups) else "the grid's own")
    setting = (f"{_pair_note(runs)}, {_scale_note(runs[0], 2000, 30000)}; {_seeds(runs)}; "
               f"the single-task runs are {singles}, the same network and settings.")
    return parts, setting, "\n\n".join(why), details


def claim_switching(results: str, report_dir: str) -> list[Section]:
    claim = ("Two tasks switching every 2,000 steps: training accuracy near 100% in each "
             "period; each task partly forgotten while the other trains; the forgetting "
             "shrinks with each switchover; after 24,000 steps each task's test accuracy "
             "near or above its single-task run's.")
    commands = _blog_commands("switching", ".venv/bin/python -m experiments run switching "
                              "--only '00-*' --seeds 3 --test-frequency 500 "
                              "--log-dir results/switching")
    # The MNIST form's single-task runs are claims 1 and 2's (its grid ran --only '00-*').
    singles = {f"baseline-{task}": _load(paths) for task, pattern in (
        ("id", "baseline-mnist/*-s*"), ("inv", "baseline-inv/*-s*"))
        if (paths := _runs(results, pattern))}
    blog = ["yes (its charts)", "yes", "yes", "dogs 31.4% against 33.2% alone, MNIST 97.5% "
            "against 97.1% (one unseeded run each)"]
    return _blog_claim("3. Two tasks switching", claim, "switching", commands, blog,
                       "versus-single", _switching_parts, results, report_dir,
                       extra={BLOG_FORMS[0][0]: singles})


def _paths_by_setting(results: str, pattern: str) -> dict[str, list[str]]:
    """The complete run directories under results/ matching `pattern`, grouped by setting
    (the run name without its seed), in name order."""
    groups: dict[str, list[str]] = {}
    for path in _runs(results, pattern):
        groups.setdefault(os.path.basename(path).rsplit("-s", 1)[0], []).append(path)
    return groups


def _summaries(results: str, pattern: str) -> dict[str, list[dict]]:
    """The summary.json of each complete run matching `pattern`, grouped by setting."""
    return {label: [read_summary(path) for path in paths]
            for label, paths in _paths_by_setting(results, pattern).items()}


def _greater(a: Measure, b: Measure) -> tuple[float, float, bool]:
    """(a - b, its standard error, whether a exceeds b by more than two standard errors)."""
    difference = a.mean - b.mean
    se = math.sqrt(a.se ** 2 + b.se ** 2)
    return difference, se, difference > 2 * se


def _compare(measure: Callable, more: list, less: list) -> tuple[float, float, bool]:
    """_greater of `measure` (a function of a run) over the runs of `more` and of `less`."""
    return _greater(Measure([measure(run) for run in more]),
                    Measure([measure(run) for run in less]))


def _mean_drop(run, task: str | None = None) -> float:
    """The mean drop of a task left at a switch (its accuracy then less its lowest before it
    returns), over the run's switches (those of `task` only, if given)."""
    from plots.metrics import switch_events

    drops = [e["drop"] for e in switch_events(run) if task is None or e["left"] == task]
    return statistics.fmean(drops)


def _period_train(run, task: str) -> float:
    """The task's training accuracy over the last 100 steps of each of its periods, averaged."""
    return statistics.fmean(_train_near(run, end) for _, end, active in run.periods()
                            if active == task and end <= run.last_step)


def _scale_note(run, blog_task_time: int, blog_steps: int) -> str:
    """How a claim's runs stand to the blog's: the scale of their task time and length, and
    what each evaluation tested."""
    scale = run.task_time / blog_task_time
    examples = run.config.get("test_examples")
    tested = f"the first {examples:,} test images of each task" if examples \
        else "every test image of each task"
    note = (f"task time {run.task_time:,} and {run.last_step:,} steps"
            + (f": the blog's {blog_task_time:,} and {blog_steps:,} scaled by {scale:g} to "
               "fit this machine" if scale != 1 else ", the blog's"))
    every = run.config.get("test_frequency") or run.tests[1]["step"] - run.tests[0]["step"]
    return f"{note}; {tested} tested every {every:,} steps"


def _short(part: str) -> str:
    """A part's name without a closing parenthesis that says how it is measured (one of
    several words: "(2000)" stays)."""
    return re.sub(r" \([^()]* [^()]*\)$", "", part)


def _trend(points: list[tuple[float, float]]) -> tuple[float, float]:
    """The least-squares slope of y on x over `points` (x, y), with its standard error."""
    x, y = np.array(points, dtype=float).T
    dx = x - x.mean()
    slope = float(dx @ (y - y.mean()) / (dx @ dx))
    residuals = y - y.mean() - slope * dx
    return slope, float(math.sqrt(residuals @ residuals / (len(x) - 2) / (dx @ dx)))


def _points(difference: float, se: float) -> str:
    return f"{100 * difference:+z.2f} ± {100 * se:z.2f} points"


COMPARISON_RULE = ("A part holds when the difference it names is in the claimed direction "
                   "by more than two standard errors (over seeds); \"no more\" or \"no "
                   "better\" holds when it is not above by more than two.")


def _form_runs(results: str, folder: str) -> dict[str, list]:
    """One form's complete runs of an experiment, loaded, by setting. The original's runs get
    the setting's config that fidelity.original_sweep wrote beside them (setting.json), since
    its logs name only their tasks, style, optimizer, network and task time."""
    groups = {}
    for label, paths in _form_groups(results, folder).items():
        if not paths:
            continue
        runs = _load(paths)
        setting = os.path.join(results, folder, label, "setting.json")
        if folder.startswith("original/") and os.path.isfile(setting):
            with open(setting) as f:
                written = json.load(f)
            runs = [dataclasses.replace(run, config={**written, **run.config}) for run in runs]
        groups[label] = runs
    return groups


def _blog_claim(title: str, claim: str, experiment: str, commands: dict[str, str],
                blog: list[str], chart_name: str, measure: Callable, results: str,
                report_dir: str, extra: dict[str, dict] | None = None) -> list[Section]:
    """A blog claim in each form measured: `measure(groups)` gives one form's (parts, the
    setting in words, what was found where a part fails[, tables of its figures]) from its
    runs by setting, or None when they are too few. The parts table sets `blog` (what the
    blog says of each part) beside every form; the verdict is the fashion form's where
    measured, else the MNIST form's; each form's setting, command and chart follow.
    `extra`: groups of runs a form takes from elsewhere (the MNIST form's single-task runs,
    claims 1 and 2's)."""
    columns, blocks, charts, holding = {}, [], [], {}
    for form, folder in BLOG_FORMS:
        folder = folder.format(experiment=experiment)
        groups = _form_runs(results, folder)
        if groups and extra and form in extra:
            groups = {**groups, **extra[form]}
        measured = measure(groups) if groups else None
        if measured is None or form not in commands:
            continue
        parts, setting, why, *details = measured
        columns[form] = parts
        holding[form] = [ok for _, _, ok in parts]
        paths = _all_paths(groups)
        chart = os.path.join(results, folder, f"{experiment}.png")
        charts.append((chart, lambda paths=paths: _draw(chart_name, paths)))
        original = form == BLOG_FORMS[2][0]
        counts = Measure([len(runs) for runs in groups.values()])
        command = re.sub(r"--runs \d+" if original else r"--seeds \d+",
                         f"--{'runs' if original else 'seeds'} {max(counts.values)}",
                         commands[form])
        failing = not all(holding[form])
        blocks.append(f"### {form[0].upper()}{form[1:]}\n\n{setting}\n\n```sh\n{command}\n```"
                      + "".join(f"\n\n{text}" for text in details)
                      + "\n\n" + "\n".join(f"- {what}: {figures}: "
                                             f"{'yes' if ok else 'no'}"
                                             for what, figures, ok in parts)
                      + (f"\n\n{why}" if why and failing else "")
                      + f"\n\n![{title}, {form}]({_rel(chart, report_dir)})")
    if not columns:
        return [_not_measured(title, claim, "\n".join(commands.values()))]
    # A form measured in part (runs still missing) shows its column but gives no verdict.
    whole = [form for form in columns if len(columns[form]) == len(blog)] or list(columns)
    primary = next(form for form in (BLOG_FORMS[1][0], BLOG_FORMS[0][0], BLOG_FORMS[2][0])
                   if form in whole)
    body = (_forms_table(columns, blog) + "\n\n" + COMPARISON_RULE + " The verdict is the "
            + ("fashion form's" if primary == BLOG_FORMS[1][0] else
               "MNIST form's" if primary == BLOG_FORMS[0][0] else "original's")
            + " (a form without a column, or with a part left out, is not measured "
            "whole yet).\n\n"
            + ((_where_they_part(columns) + "\n\n") if BLOG_FORMS[1][0] in columns else "")
            + "\n\n".join(blocks))
    return [Section(title, body, claim, _verdict(holding[primary]), charts=charts,
                    not_holding=[_short(what) for what, _, ok in columns[primary] if not ok])]


def _blog_commands(experiment: str, mnist: str) -> dict[str, str]:
    """The commands that make a blog experiment's runs in each form: the MNIST form's as it
    was run (`mnist`), the fashion form's and the original's at the blog's scale."""
    fashion = "--data-fashion-dir ../shared/datasets/fashion-mnist --test-frequency 500"
    return {BLOG_FORMS[0][0]: mnist,
            BLOG_FORMS[1][0]: f".venv/bin/python -m experiments run {experiment} --form fashion "
                              f"--seeds 3 {fashion} --log-dir results/{experiment}-fashion",
            BLOG_FORMS[2][0]: f".venv/bin/python -m fidelity.original_sweep PATH/TO/task.py "
                              f"{experiment} --form fashion --runs 3 {fashion} "
                              f"--log-dir results/original/{experiment}-fashion"}


def _pair_note(runs) -> str:
    """The form's two tasks in words, as a setting's note opens."""
    first, second = runs[0].tasks[0], runs[0].tasks[-1]
    stands = {"inv": " (`inv` standing in for the dogs)",
              "fashion": " (Fashion-MNIST in place of the dogs)"}.get(second, "")
    return f"`{first}` and `{second}`{stands}"


def _seeds(runs) -> str:
    """How many runs a measure is over: seeds of this project, runs of the unseeded original."""
    word = "run" if runs[0].config.get("source") else "seed"
    return f"{len(runs)} {word}{'s' if len(runs) != 1 else ''}"


def _all_paths(groups: dict[str, list]) -> list[str]:
    return [run.path for runs in groups.values() for run in runs]


def claim_task_signal(results: str, report_dir: str) -> list[Section]:
    claim = ("A task signal (`channelplex` against `combined`, task time 5,000) reduces the "
             "forgetting of MNIST (about 10 points at step 15,000) and helps dog training, "
             "but the dog task's test accuracy is forgotten faster; the mean over tasks is "
             "higher early and no better later.")
    commands = _blog_commands("task-signal", ".venv/bin/python -m experiments run task-signal "
                              "--scale 0.2 --seeds 3 --test-frequency 200 "
                              "--log-dir results/task-signal")
    blog = ["about 10 points at step 15,000 (one run)", "yes", "yes", "yes", "yes"]
    return _blog_claim("4. A task signal", claim, "task-signal", commands, blog, "compare",
                       _task_signal_parts, results, report_dir)


def _task_signal_parts(groups: dict[str, list]):
    plain = next((runs for label, runs in groups.items() if label.endswith("combined")), None)
    signal = next((runs for label, runs in groups.items() if label.endswith("channelplex")),
                  None)
    if not plain or not signal:
        return None
    mnist, other = plain[0].tasks
    forget_mnist = _compare(lambda r: _mean_drop(r, mnist), plain, signal)
    train_other = _compare(lambda r: _period_train(r, other), signal, plain)
    forget_other = _compare(lambda r: _mean_drop(r, other), signal, plain)
    early = 2 * plain[0].task_time
    mean_early = _compare(lambda r: _test_at(r, early)["test_accuracy_all"], signal, plain)
    mean_late = _compare(lambda r: r.tests[-1]["test_accuracy_all"], signal, plain)
    parts = [
        (f"the signal reduces the forgetting of `{mnist}` (its mean drop at a switch, "
         "combined less channelplex)", _points(*forget_mnist[:2]), forget_mnist[2]),
        (f"it helps the second task train (`{other}`'s training accuracy at its periods' "
         "ends)", _points(*train_other[:2]), train_other[2]),
        (f"the second task is forgotten faster with it (`{other}`'s mean drop, channelplex "
         "less combined)", _points(*forget_other[:2]), forget_other[2]),
        (f"the mean over tasks is higher early (step {early:,})", _points(*mean_early[:2]),
         mean_early[2]),
        (f"and no better at the end (step {plain[0].last_step:,})", _points(*mean_late[:2]),
         not mean_late[2]),
    ]
    setting = (f"{_pair_note(plain)}, {_scale_note(plain[0], 5000, 30000)}; {_seeds(plain)} "
               f"and {len(signal)}; differences are channelplex less combined unless a part "
               "says otherwise. The blog's \"about 10 points at step 15,000\" is one run's "
               "chart; here the drop is measured at every switch.")
    plain_drop = Measure([_mean_drop(r, mnist) for r in plain])
    why = (f"Why not: without the signal `{mnist}` loses {100 * plain_drop.mean:z.1f} ± "
           f"{100 * plain_drop.se:z.1f} points at a switch on average, against the blog's about "
           "10" + (f", and `{other}` (the same digits, inverted) shares nearly all it needs "
                   "with it: in this form there is little forgetting for a signal to reduce; "
                   "the dogs, which share little with MNIST, are where the blog saw the signal "
                   "help." if other == "inv" else "."))
    return parts, setting, why


def claim_optimizer(results: str, report_dir: str) -> list[Section]:
    claim = ("Adam reaches higher test accuracy sooner than SGD but overfits the current "
             "task; SGD forgets less and ends higher on all tasks.")
    commands = _blog_commands("optimizer", ".venv/bin/python -m experiments run optimizer "
                              "--scale 0.2 --seeds 3 --test-frequency 200 "
                              "--log-dir results/optimizer")
    blog = ["yes", "yes", "yes", "yes", "yes"]
    return _blog_claim("5. Adam against SGD", claim, "optimizer", commands, blog, "compare",
                       _optimizer_parts, results, report_dir)


def _optimizer_parts(groups: dict[str, list]):
    sgd = next((runs for label, runs in groups.items() if label.endswith("sgd")), None)
    adam = next((runs for label, runs in groups.items() if label.endswith("adam")), None)
    if not sgd or not adam:
        return None
    first = sgd[0].task_time
    sooner = _compare(lambda r: _test_at(r, first)["test_accuracy_all"], adam, sgd)

    def gap(run):  # The active task's training less test accuracy at its periods' ends.
        return statistics.fmean(_train_near(run, end) - _test_at(run, end)["test_accuracy"][t]
                                for _, end, t in run.periods() if end <= run.last_step)

    overfits = _compare(gap, adam, sgd)
    forgets = _compare(_mean_drop, adam, sgd)
    parts = [(f"Adam higher sooner (mean over tasks at step {first:,}, Adam less SGD)",
              _points(*sooner[:2]), sooner[2]),
             ("Adam overfits the current task (training less test accuracy of the active "
              "task at its periods' ends, Adam less SGD)", _points(*overfits[:2]), overfits[2]),
             ("SGD forgets less (mean drop at a switch, Adam less SGD)",
              _points(*forgets[:2]), forgets[2])]
    last_trained = [p for p in sgd[0].periods() if p[0] < sgd[0].last_step][-1][2]
    behind = []
    for k, task in enumerate(sgd[0].tasks):
        ends = _compare(lambda r, task=task: r.tests[-1]["test_accuracy"][task], sgd, adam)
        which = ("first", "second", "third")[k]
        parts.append((f"SGD ends higher on the {which} task (`{task}`; SGD less Adam, step "
                      f"{sgd[0].last_step:,})", _points(*ends[:2]), ends[2]))
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
    setting = (f"{_pair_note(sgd)}, {_scale_note(sgd[0], 2000, 30000)}; {_seeds(sgd)} and "
               f"{len(adam)}" + (f", both at the default learning rate {rate}." if rate
                                 else "."))
    return parts, setting, why


def claim_task_time(results: str, report_dir: str) -> list[Section]:
    claim = ("Faster switching gives higher test accuracy for the same number of steps; "
             "aligned on the switchovers, each task time reaches similar accuracy, and longer "
             "periods do not forget more.")
    commands = _blog_commands("task-time", ".venv/bin/python -m experiments run task-time "
                              "--scale 0.05 --seeds 3 --test-frequency 50 --test-examples "
                              "2000 --log-dir results/task-time")
    return _blog_claim("6. Task time", claim, "task-time", commands, ["yes", "yes", "yes"],
                       "task-time", _task_time_parts, results, report_dir)


def _task_time_parts(groups: dict[str, list]):
    if len(groups) < 2:
        return None
    ordered = sorted(groups.values(), key=lambda runs: runs[0].task_time)
    fast, slow = ordered[0], ordered[-1]
    common = fast[0].last_step
    same_steps = _compare(lambda r: _test_at(r, common)["test_accuracy_all"], fast, slow)
    # Aligned: the mean over tasks at the end of each period, every task time.
    periods = min(len(runs[0].periods()) for runs in ordered)
    aligned = [[statistics.fmean(_test_at(r, (k + 1) * r.task_time)["test_accuracy_all"]
                                 for r in runs) for runs in ordered] for k in range(periods)]
    spread = max(max(row) - min(row) for row in aligned)
    forgets = _compare(_mean_drop, slow, fast)
    times = ", ".join(f"{runs[0].task_time:,}" for runs in ordered)
    parts = [(f"faster switching higher at the same step ({common:,}: task time "
              f"{fast[0].task_time:,} less {slow[0].task_time:,})",
              _points(*same_steps[:2]), same_steps[2]),
             (f"aligned on switchovers, similar accuracy (the widest spread of the period-end "
              f"means over task times, periods 1-{periods}; similar: within 5 points)",
              f"{100 * spread:z.2f} points", spread <= 0.05),
             (f"longer periods forget no more (mean drop, task time {slow[0].task_time:,} "
              f"less {fast[0].task_time:,})", _points(*forgets[:2]), not forgets[2])]
    setting = (f"{_pair_note(fast)}, task times {times}, four periods each, {_seeds(fast)} "
               f"each; the longest: {_scale_note(slow[0], 40000, 160000)}.")
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


def claim_width(results: str, report_dir: str) -> list[Section]:
    claim = "Narrower networks (`fc fc`, first-layer width) forget more."
    commands = _blog_commands("width", ".venv/bin/python -m experiments run width --scale 0.2 "
                              "--seeds 3 --test-frequency 200 --log-dir results/width")
    return _blog_claim("7. Width", claim, "width", commands, ["yes", "yes"], "width",
                       _width_parts, results, report_dir)


def _width_parts(groups: dict[str, list]):
    if len(groups) < 2:
        return None
    from plots.metrics import accuracy_matrix, forgetting

    def forgot(run):
        acc, trained, _ = accuracy_matrix(run)
        return forgetting(acc, trained)

    ordered = sorted(groups.values(), key=lambda runs: runs[0].config["fc_units"])
    by_width = [(runs[0].config["fc_units"], Measure([forgot(r) for r in runs]))
                for runs in ordered]
    narrow_wide = _greater(by_width[0][1], by_width[-1][1])
    slope, slope_se = _trend([(math.log2(w), value) for w, m in by_width
                              for value in m.values])
    parts = [(f"the narrowest ({by_width[0][0]}) forgets more than the widest "
              f"({by_width[-1][0]})", _points(*narrow_wide[:2]), narrow_wide[2]),
             ("forgetting falls as the width grows (least-squares slope over every run, "
              "per doubling of the width)", _points(slope, slope_se) + " per doubling",
              slope < -2 * slope_se)]
    setting = (f"{_pair_note(ordered[0])}, `--network fc fc`, first-layer widths " + ", ".join(
        f"{w:,} ({100 * m.mean:z.1f} ± {100 * m.se:z.1f})" for w, m in by_width)
        + f" (forgetting: each task's best earlier accuracy less its final, averaged; "
        f"{_seeds(ordered[0])} each); {_scale_note(ordered[0][0], 2000, 30000)}.")
    largest = max(by_width, key=lambda item: item[1].mean)
    why = (f"Why not: by this measure every width forgets little (at most "
           f"{100 * largest[1].mean:z.1f} points, at {largest[0]:,}), within the runs' spread"
           + (f": `{ordered[0][0].tasks[0]}` and `{ordered[0][0].tasks[-1]}` share the digits, "
              "and after many alternations each ends near its best; a pair that shares less "
              "(the dog or fashion form) is where width could matter."
              if ordered[0][0].tasks[-1] == "inv" else "."))
    return parts, setting, why


# --- The ten-task paper ------------------------------------------------------------------

BOOTSTRAP = 2000  # Resamples of the replications for each confidence interval.


def _log_slope(x: np.ndarray, y: np.ndarray, log_y: bool) -> float:
    """The least-squares slope of y (or log y) against log x, over the finite points."""
    keep = np.isfinite(y) & (y > 0 if log_y else True)
    if keep.sum() < 2:
        return float("nan")
    return float(np.polyfit(np.log(x[keep]), np.log(y[keep]) if log_y else y[keep], 1)[0])


def _curve(matrices: np.ndarray, log_y: bool) -> np.ndarray:
    """Each column's mean over every replication and row (the geometric mean for log_y),
    ignoring NaN: the points of a Figure 2 panel."""
    values = np.log(matrices) if log_y else matrices
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # A column of NaN only: its mean NaN.
        mean = np.nanmean(values.transpose(2, 0, 1).reshape(matrices.shape[2], -1), axis=1)
    return np.exp(mean) if log_y else mean


def _slope_with_interval(matrices: np.ndarray, log_y: bool,
                         first: int = 1) -> tuple[float, float, float]:
    """The slope of a panel's curve against log x (x = first, first + 1, ... by column: the
    exponent of a power law when log_y), and its 95% interval by resampling the
    replications (a fixed seed)."""
    x = np.arange(first, first + matrices.shape[2], dtype=float)
    slope = _log_slope(x, _curve(matrices, log_y), log_y)
    rng = np.random.default_rng(0)
    draws = [_log_slope(x, _curve(matrices[rng.integers(0, len(matrices), len(matrices))],
                                  log_y), log_y) for _ in range(BOOTSTRAP)]
    low, high = np.nanpercentile(draws, [2.5, 97.5])
    return slope, float(low), float(high)


def paper(results: str, report_dir: str) -> list[Section]:
    from plots.episodes import (accuracy_after, by_times_trained, default_budget,
                                trials_to_criterion)

    title = "8. The ten-task paper (its Figure 2)"
    claim = ("Trials to criterion for a new task fall as episodes go on; retraining an old "
             "task needs fewer trials each time it is trained; both roughly power laws; "
             "accuracy after a fixed number of trials rises with times trained and with "
             "episode.")
    # "With episode" is measured on new tasks (panel f's first point of each line): pooled
    # over all tasks, an episode's mean would rise only because more of them are old.
    paths = _runs(results, "paper-shapes/*-b*-r*-s*")
    command = (".venv/bin/python -m experiments run paper-shapes --only 'colour-b0-*' "
               "--log-dir results/paper-shapes")
    if not paths:
        return [Section(title, "Not run at scale yet. The experiment that tests it, one "
                               f"Latin square of the colour tasks:\n\n```sh\n{command}\n```",
                        claim, NOT_MEASURED, "the paper")]
    runs = _load(paths)
    n = len(runs[0].tasks)
    blocks = {}
    for path in paths:
        dimension, block, _ = os.path.basename(path).split("-", 2)
        blocks.setdefault((dimension, block), []).append(path)
    command = (".venv/bin/python -m experiments run paper-shapes --only "
               + " ".join(f"'{d}-{b}-*'" for d, b in sorted(blocks))
               + " --log-dir results/paper-shapes")
    trials = np.array([trials_to_criterion(run)[:n, :n] for run in runs])
    # New tasks: task j in episode j, by episode. Old tasks: trained for the k-th time, k >= 2.
    new = np.array([np.diag(m) for m in trials])[:, None, :]
    old = np.array([by_times_trained(m)[:, 1:] for m in trials])
    budget = min(default_budget(run) for run in runs)
    after = np.array([accuracy_after(run, budget)[:n, :n] for run in runs])
    fits = {
        "new task's trials to criterion, by episode (power-law exponent)":
            (_slope_with_interval(new, True), -1),
        "old task's trials to criterion, by times trained from 2 (power-law exponent)":
            (_slope_with_interval(old, True, first=2), -1),
        f"accuracy after {budget:,} trials, by times trained (slope per log unit)":
            (_slope_with_interval(np.array([by_times_trained(m) for m in after]), False), 1),
        f"new task's accuracy after {budget:,} trials, by episode (slope per log unit)":
            (_slope_with_interval(np.array([np.diag(m) for m in after])[:, None, :], False), 1),
    }
    # A part holds when its 95% interval lies wholly on the side the paper reports.
    holds = [(high < 0) if sign < 0 else (low > 0) for (_, low, high), sign in fits.values()]
    unreached = int(sum(np.isnan(m[np.triu_indices(n)]).sum() for m in trials))
    rows = "\n".join(f"| {what} | {slope:+z.3f} | [{low:+z.3f}, {high:+z.3f}] | "
                      f"{'yes' if ok else 'no'} |"
                      for (what, ((slope, low, high), _)), ok in zip(fits.items(), holds))
    old_rise, new_rise = (fit[0][0] for fit in list(fits.values())[2:])
    new_curve = _curve(new, True)
    old_curve = _curve(old, True)
    chart = os.path.join(results, "paper-shapes", "paper-figure2.png")
    squares = ", ".join(f"{dimension} block {block[1:]} ({len(members)} of {n} rows)"
                        for (dimension, block), members in sorted(blocks.items()))
    body = (f"The `cpu` form of the grid ([the ten-task study](ten-task-study.md): 2-D scenes, "
            f"criterion {runs[0].config.get('criterion', 0.95):z.0%} judged each epoch, "
            f"`--task-signal-scale 10`), Latin squares of task orders: {squares}; "
            f"{len(runs)} replications in all:\n\n```sh\n{command}\n```\n\n"
            f"Trials to criterion (geometric mean over replications and tasks), new task by "
            f"episode 1-{n}: {', '.join(f'{v:z,.0f}' for v in new_curve)}; old tasks by "
            f"times trained 2-{n}: {', '.join(f'{v:z,.0f}' for v in old_curve)}. "
            f"{unreached} of the {len(runs) * n * (n + 1) // 2} (task, episode) cells never "
            f"reached the criterion and are left out.\n\n"
            "| measure | fit | 95% interval (replications resampled) | as the paper |\n"
            "|---|---|---|---|\n" + rows + "\n\n"
            "A part holds when its interval lies wholly on the paper's side of zero. Trials "
            "to criterion count a task's trials up to the first evaluation at the criterion, "
            "every 100 steps: an old task already at the criterion when its episode starts "
            "still counts the trials before that first evaluation, a floor that falls as "
            "more old tasks share the half of each epoch that is not the new task's. "
            f"The fitted slopes amount to a rise of {100 * old_rise * math.log(n):z.1f} "
            f"points in a task's accuracy after {budget:,} trials from its first training to "
            f"its {_ordinal(n)}, and of {100 * new_rise * math.log(n):z.1f} in a new task's "
            f"from episode 1 to {n}. The logs were made by the code of "
            f"{', '.join(sorted({_code_version(path) for path in paths}))} (config.json's "
            "`code_version`).\n\n"
            + ("" if all(holds) else
               "Why the parts marked no do not hold is not established here: the `cpu` form "
               "is not the paper's setting (2-D scenes of 48x48 pixels and a task signal of "
               "10, against its rendered CLEVR scenes and a plain one-hot), and the intervals "
               "are those of "
               f"{len(runs)} replications in {len(blocks)} Latin square(s); the other "
               "dimensions' squares would tell a property of this data from one of its "
               "scale.\n\n")
            + f"![Figure 2]({_rel(chart, report_dir)})")
    return [Section(title, body, claim, _verdict(holds), "the paper",
                    charts=[(chart, lambda: _draw("paper-figure2", paths))],
                    not_holding=[_short(what) for what, ok in zip(fits, holds) if not ok])]


# --- Hsu et al.'s split MNIST ----------------------------------------------------------------

def split_mnist(results: str, report_dir: str) -> list[Section]:
    from experiments import split_mnist as grid

    summaries = _summaries(results, "split-mnist/*-s*")
    if not summaries:
        return []
    table = grid.table(summaries)

    def cell(scenario, method):
        return table[scenario].get(method)

    def diff(scenario, method):
        return cell(scenario, method)["mean"] - grid.AUTHORS_LOGS[scenario][method][0]

    def agnostic(method):
        values = [100 * s["final_test_accuracy_task_agnostic_all"]
                  for s in summaries.get(f"task-{grid._slug(method)}", [])
                  if "final_test_accuracy_task_agnostic_all" in s]
        return f"{statistics.fmean(values):z.2f} (n={len(values)})" if values else "—"

    logged = [(s, m) for s in grid.SCENARIOS for m in grid.AUTHORS_LOGS[s] if cell(s, m)]
    close = [(s, m) for s, m in logged if abs(diff(s, m)) < 1.0]
    below = [(s, m) for s, m in logged if diff(s, m) <= -1.0]
    above = [(s, m) for s, m in logged if diff(s, m) >= 1.0]

    def listed(cells):
        return ", ".join(f"{m} ({s}, {diff(s, m):+z.2f})" for s, m in cells) or "none"

    no_memory = [m for m in ("Adam", "EWC", "Online EWC", "SI") if cell("class", m)]
    regularisers = [m for m in ("L2", "EWC", "Online EWC", "SI", "MAS")
                    if cell("domain", m) and cell("class", m)]
    rehearsal = {s: cell(s, "Naive rehearsal 1100") for s in ("domain", "class")}
    best = {s: max(regularisers, key=lambda m: cell(s, m)["mean"]) for s in rehearsal}
    rehearsal_wins = all(rehearsal[s] and rehearsal[s]["mean"] > cell(s, best[s])["mean"]
                         for s in rehearsal)
    times = [s["wall_time_s"] for runs in summaries.values() for s in runs]
    versions = sorted({_code_version(path) for path in _runs(results, "split-mnist/*-s*")})
    setting = (
        'Hsu, Liu, Ramasamy and Kira 2018 ("Re-evaluating Continual Learning Scenarios: A '
        'Categorization and Case for Strong Baselines"), Table 2: split MNIST, five tasks of '
        "two digits, the average test accuracy over the five tasks after the last, in the "
        "task-, domain- and class-incremental scenarios. Their setting, from the authors' "
        "public scripts (`scripts/split_MNIST_incremental_{task,domain,class}.sh` of "
        "GT-RIPL/Continual-Learning-Benchmark; `experiments/split_mnist.py` gives each "
        "choice): an MLP of two hidden layers of 400 ReLU units on MNIST padded to 32x32 and "
        "standardised, PyTorch's initial weights, batch 128, 4 epochs a task over all 60,000 "
        "training images, Adam at 0.001 (SGD and Adagrad at 0.01; GEM with SGD at 0.01), "
        "each regulariser's coefficient per scenario as the scripts give it, rehearsal "
        "memories of 1,100 and 4,400; LwF (not in the scripts) with Li and Hoiem's lambda 1 "
        "and T 2, A-GEM (not in their code) with GEM's optimizer and memories and its "
        "paper's reference batch of 256. One row ran another protocol (the table's last "
        "column says which each row ran): the paper's LwF cells in the domain and class "
        "scenarios are van de Ven and Tolias's (2018; GMvandeVen/continual-learning), "
        "reprinted, and the row `" + grid.LWF_VAN_DE_VEN + "` runs their form of LwF "
        "(`--lwf-form van-de-ven`: at the t-th task (1/t) cross-entropy + (1 - 1/t) T^2 "
        "times the distillation averaged over the batch and every class trained so far, "
        "the present task's at zero target) in their protocol: 2,000 steps a task, MNIST "
        "at 28x28 in [0, 1] unpadded, the same network, Adam at 0.001, batch 128, T 2. "
        "Their digits are paired at random per seed; this project's split tasks are the "
        "fixed pairs 0/1 to 8/9 (their seed 0's), so every seed here runs those.")
    unread = (
        "**The published table could not be read here.** This machine has no internet; the "
        "paper's text was not among the stored pages, and the repository shows the table "
        "only as an image. What the repository does hold are the authors' own logs of these "
        "runs (`outputs/split_MNIST_incremental_*/<method>.log`), and each cell is set "
        "beside them. They are not the scripts' setting: every log but SI's prints the "
        "learning rate dropped to a tenth after the first epoch of the first task, for the "
        "rest of the run (their `MultiStepLR` stepped with an epoch argument; the scripts' "
        "milestone, epoch 4, is never reached, so the rate should stay). Their sd is "
        "numpy's population sd; ours (in this table only) the sample sd.")
    findings = [
        f"**Within a point of their logs in {len(close)} of the {len(logged)} cells they "
        f"have**: {listed(close)}. SI is the one method whose logs kept the scripts' rate, "
        "offline training converges whatever the rate, and class-incremental training "
        "without memory ends near 20% (" + ", ".join(
            f"{m} {cell('class', m)['mean']:z.2f}" for m in no_memory)
        + "), the network answering only the last task's two digits.",
        f"**Lower than their logs by a point or more**: {listed(below)}; **higher**: "
        f"{listed(above)}. Ours ran the scripts' rate for all 20 epochs, theirs a tenth of "
        "it after the first: a larger rate forgets more. The next section runs these cells "
        "with the logs' drop, to test whether it explains the differences.",
        ("**The paper's reading holds: the simple baselines are strong.** " if rehearsal_wins
         else "**Naive rehearsal is not above every regulariser here.** ")
        + "Naive rehearsal with 1,100 examples: " + ", ".join(
            f"{rehearsal[s]['mean']:z.2f} ({s}) against the best regulariser's "
            f"{cell(s, best[s])['mean']:z.2f} ({best[s]})" for s in rehearsal if rehearsal[s])
        + ".",
        "Task-aware against task-agnostic accuracy (a head per task, evaluated also without "
        "the task given), the share of digits answered without the task: " + ", ".join(
            f"{m} {agnostic(m)}" for m in ("Offline", "LwF", "MAS", "A-GEM 1100", "EWC")
            if agnostic(m) != "—") + "."]
    body = "\n\n".join([
        setting,
        "```sh\n.venv/bin/python -m experiments run split-mnist --seeds 10 --workers 2 "
        "--log-dir results/split-mnist\n```",
        unread, grid.markdown_table(table),
        "Mean ± sample sd over seeds (the number of seeds in brackets), in percent; \"their "
        "logs\": the authors' logs, mean ± population sd over their 10 repeats; \"diff\": "
        "ours minus theirs; \"protocol\": whose setting the row ran (above); \"not run "
        "yet\": a cell of the grid without committed runs.",
        "\n".join(f"- {line}" for line in findings),
        "GEM takes the gradient on every past task's whole memory at every step, so a GEM "
        "run takes several times an Adam run's time: it has fewer seeds. Runs took "
        f"{min(times):z.0f}-{max(times):z.0f} s each (wall time, each on one of the 2 cores, "
        "beside other runs). "
        "The logs are in `results/split-mnist/`, made by the code of "
        f"{', '.join(versions)} (config.json's `code_version`)."])
    return [Section("Hsu et al.'s split MNIST (their Table 2)", body)]


def split_mnist_logs_rate(results: str, report_dir: str) -> list[Section]:
    """The cells the authors' logs ran with the rate dropped after the first epoch, run with
    that drop: does it close the gap to their logs?"""
    from experiments import split_mnist as grid

    dropped = grid.logs_rate_table(_summaries(results, "split-mnist-lr-drop/*-s*"))
    scripts = grid.table(_summaries(results, "split-mnist/*-s*"))
    cells = [(s, m) for s in grid.SCENARIOS for m in grid.DROPPED_IN_LOGS[s]
             if dropped[s].get(m) and scripts[s].get(m)]
    if not cells:
        return []
    logs = grid.AUTHORS_LOGS
    rows, gaps = [], {"scripts": [], "dropped": []}
    for scenario, method in cells:
        ours, drop, theirs = (scripts[scenario][method], dropped[scenario][method],
                              logs[scenario][method])
        gaps["scripts"].append(ours["mean"] - theirs[0])
        gaps["dropped"].append(drop["mean"] - theirs[0])
        sd = "—" if drop["sd"] is None else f"{drop['sd']:z.2f}"
        rows.append(f"| {method} | {scenario} | {ours['mean']:z.2f} | {drop['mean']:z.2f} ± {sd} "
                    f"({drop['seeds']}) | {theirs[0]:z.2f} ± {theirs[1]:z.2f} | "
                    f"{gaps['scripts'][-1]:+z.2f} | {gaps['dropped'][-1]:+z.2f} |")
    within = {k: sum(abs(g) < 1.0 for g in v) for k, v in gaps.items()}
    mean_gap = {k: statistics.fmean(abs(g) for g in v) for k, v in gaps.items()}
    closer = sum(abs(b) < abs(a) for a, b in zip(gaps["scripts"], gaps["dropped"]))
    body = "\n\n".join([
        "The authors' logs ran with the learning rate dropped to a tenth from the second "
        f"epoch of the first task on (step {grid.LOGS_DROP_STEP}: the first task's "
        f"{grid.FIRST_TASK_EXAMPLES:,} images in batches of 128). The cells whose logs show "
        "the drop, run again with it (`--learning-rate-drops "
        f"{grid.LOGS_DROP_STEP}`), the rest of the setting as the table above:",
        "```sh\n.venv/bin/python -m experiments run split-mnist-lr-drop --seeds 10 "
        "--log-dir results/split-mnist-lr-drop\n```",
        "| method | scenario | scripts' rate | logs' rate (drop) | their logs | diff, scripts' "
        "rate | diff, logs' rate |\n|---|---|---|---|---|---|---|\n" + "\n".join(rows),
        "Mean ± sample sd over seeds (seeds in brackets), in percent; diff: ours minus their "
        "logs.",
        f"With the logs' rate, {within['dropped']} of these {len(cells)} cells are within a "
        f"point of the logs (with the scripts' rate, {within['scripts']}); the mean distance "
        f"is {mean_gap['dropped']:z.2f} points (against {mean_gap['scripts']:z.2f}), and "
        f"{closer} of the {len(cells)} cells come closer. "
        + ("The dropped rate accounts for most of the differences between our table and "
           "their logs." if mean_gap["dropped"] < mean_gap["scripts"] / 2 else
           "The dropped rate does not account for most of the differences between our "
           "table and their logs.")])
    return [Section("Split MNIST with the learning rate of the authors' logs", body)]


def _ordinal(n: int) -> str:
    """1st, 2nd, 3rd, 4th, ..., 11th, 12th, 13th, 21st."""
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _code_version(path: str) -> str:
    from rundir import read_config

    return str(read_config(path, "").get("code_version", "unknown"))


# --- The report ----------------------------------------------------------------------------

SECTIONS = [fidelity, claim_mnist_alone, claim_dogs_alone, claim_switching, claim_task_signal,
            claim_optimizer, claim_task_time, claim_width, paper, split_mnist,
            split_mnist_logs_rate]


def _draw(chart: str, paths: list[str]):
    from plots.charts import CHARTS

    return CHARTS[chart][0](_load(paths))


def summary(claims: list[Section]) -> str:
    """The table of every claim's verdict and the parts of it that do not hold."""
    return "\n".join(["| claim | verdict | what does not hold |", "|---|---|---|"]
                     + [f"| {s.title} | {s.verdict} | {'; '.join(s.not_holding) or '—'} |"
                        for s in claims])


def build(results: str, report_dir: str) -> tuple[str, list[tuple[str, Callable]]]:
    """The report's markdown and the charts it shows (path, a function drawing it)."""
    sections = [section for make in SECTIONS for section in make(results, report_dir)]
    claims = [s for s in sections if s.claim]
    lines = ["# Results", "",
             "Made by `python -m experiments report` from the run logs under `results/`; "
             "do not edit by hand. Accuracies are test accuracies in percent, mean ± "
             "standard error over seeds with their number n, unless a table says "
             "otherwise. A claim's verdict follows the rule its section states: "
             f"*{REPRODUCED}* (every part holds), *{PARTLY}* (some do), "
             f"*{NOT_REPRODUCED}* (none), *{NOT_TESTABLE}* (its data cannot be had on "
             f"this machine) or *{NOT_MEASURED}*.", "", summary(claims)]
    for section in sections:
        lines += ["", f"## {section.title}", ""]
        if section.claim:
            lines += [f"**Claim** ({section.source}): {section.claim}", "",
                      f"**Verdict: {section.verdict}.**", ""]
        lines.append(section.body)
    charts = [chart for section in sections for chart in section.charts]
    return "\n".join(lines) + "\n", charts


def measured(text: str) -> list[str]:
    """The claims whose verdict a report's summary table gives from measurements."""
    rows = re.findall(r"^\| (.+?) \| (.+?) \| .* \|$", text, re.MULTILINE)
    return [title for title, verdict in rows
            if verdict in (REPRODUCED, PARTLY, NOT_REPRODUCED)]


def write(results: str, out: str, draw: bool = True) -> list[str]:
    """Writes the report to `out` and, with `draw`, its charts; returns the charts' paths.
    An error before the work if `out` cannot be written; an error, `out` left as it was,
    if the logs measure no claim (a mistyped --results) or not every claim that the report
    already there shows measured."""
    from output import check_writable, write_text
    from plots.style import save

    check_writable(out, "--out")  # Before the work of reading every log.
    text, charts = build(results, os.path.dirname(os.path.abspath(out)))
    if not measured(text):
        raise UserError(f"{results} holds no run logs that the report reads (one folder an "
                        "experiment, as results/ has); point --results at the folder of run "
                        f"logs ({out} was not changed)")
    try:
        with open(out) as f:
            lost = [claim for claim in measured(f.read()) if claim not in measured(text)]
    except (OSError, UnicodeDecodeError):
        lost = []
    if lost:
        raise UserError(f"the logs in {results} do not measure {'; '.join(lost)}, which {out} "
                        "shows measured; point --results at the folder that holds their logs, "
                        f"or remove {out} first to write it without them ({out} was not "
                        "changed)")
    write_text(out, text, "--out")
    if draw:
        for path, make in charts:
            try:
                save(make(), path)
            except OSError as e:
                raise UserError(f"cannot write the chart {path} ({e.strerror or e}); {out} is "
                                "written: make its folder writable, or give --no-charts") \
                    from None
    return [path for path, _ in charts]

