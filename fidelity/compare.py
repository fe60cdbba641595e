"""Runs the original task.py and this project on the same work, several runs each, and
compares every task's test accuracy at every test step.

    python -m fidelity.compare PATH/TO/original/task.py --runs 5 --out DIR -- \
        --tasks id inv --task-time 200 --max-steps 800

The flags after `--` are given to both; only flags that mean the same in both are
allowed (SHARED_FLAGS). The original runs through fidelity.run_original, unseeded as
it was, with --max-steps one higher than given, so that it tests at the last step
(it tests instead of training at every multiple of --test-frequency, so that extra
step trains nothing). The project runs `task.py` with --seed 0..runs-1, on the
original's 55,000 MNIST training images (its default). Runs already complete under
DIR are kept; an incomplete one is run again. For each test step and task the table
gives both sides' mean, standard deviation and range over their runs, the difference
of the means, that difference over its standard error (Welch's t) and its 90% bootstrap
interval, which says whether a difference is shown (the interval leaves out 0) and
whether the two are the same within ±2 points (the interval inside the margin); period
ends are marked. --json writes every run's accuracies too. Without the original's path
nothing is run: the table is made again from the runs under DIR, raw or converted
(`python -m experiments tabulate`).
"""

import argparse
import json
import os
import shutil
import subprocess
import sys

import numpy as np

import runtime
from errors import UserError
from experiments.stats import (MARGIN, describe, difference_interval, equivalent,
                               holds_zero, welch_t)
from training.config import RunConfig, flag_of
from training.flags import add_setting_flags

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Settings whose flags both the original and the project have, with the same meaning.
SHARED_SETTINGS = ("tasks", "task_time", "max_steps", "batch", "learning_rate", "dropout",
                   "optimizer", "network", "input_style", "test_frequency", "fc_units",
                   "data_fashion_dir")
SHARED_FLAGS = tuple(flag_of(name) for name in SHARED_SETTINGS)


def parse_shared(flags: list[str]) -> argparse.Namespace:
    """The shared flags, checked: anything else is an error naming SHARED_FLAGS."""
    parser = argparse.ArgumentParser(prog="the flags after --", add_help=False,
                                     allow_abbrev=False)
    add_setting_flags(parser, SHARED_SETTINGS, "shared")
    args, unknown = parser.parse_known_args(flags)
    if unknown or "tasks" not in args or "max_steps" not in args:
        raise UserError(f"give --tasks and --max-steps, and only flags both tools share "
                        f"({', '.join(SHARED_FLAGS)}); not {' '.join(unknown) or 'enough'}")
    return args


def original_command(task_py: str, flags: list[str], max_steps: int, log_dir: str) -> list[str]:
    """The original's command line: one step more, so that it tests at `max_steps`."""
    flags = _with(flags, "--max-steps", str(max_steps + 1))
    return [sys.executable, "-m", "fidelity.run_original", task_py, "--", *flags,
            "--log-dir", log_dir]


def project_command(flags: list[str], seed: int, log_dir: str, run_name: str) -> list[str]:
    # Checkpoints only on a signal: these runs are short, and their logs are kept small.
    return [sys.executable, "task.py", *flags, "--seed", str(seed), "--log-dir", log_dir,
            "--run-name", run_name, "--checkpoint-every", "0"]


def _with(flags: list[str], flag: str, value: str) -> list[str]:
    i = flags.index(flag)
    return flags[:i + 1] + [value] + flags[i + 2:]


def load(path: str):
    """The run in one side's folder `path` (DIR/original/3, DIR/project/seed3): from its raw
    log, or, once converted (python -m experiments tabulate), from DIR's table."""
    from experiments.tables import ResultsFolder

    path = os.path.abspath(path)
    root = os.path.dirname(os.path.dirname(path))
    key = "/".join(os.path.relpath(path, root).split(os.sep))
    runs = ResultsFolder(root)
    if key not in runs.found:
        raise UserError(f"{path} holds no run")
    return runs.run(key)


def _complete(path: str, max_steps: int) -> bool:
    try:
        return load(path).last_step == max_steps
    except UserError:
        return False


def run_side(name: str, commands: dict[str, list[str] | None], max_steps: int) -> list[str]:
    """Runs each {folder: command} whose folder has no complete run (a None command: none
    may be missing); returns the folders."""
    for i, (path, command) in enumerate(commands.items()):
        if _complete(path, max_steps):
            print(f"{name} {i + 1}/{len(commands)}: kept {path}", flush=True)
            continue
        if command is None:
            raise UserError(f"{path} holds no complete run; give the original task.py to run "
                            "what is missing")
        shutil.rmtree(path, ignore_errors=True)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        print(f"{name} {i + 1}/{len(commands)}: running", flush=True)
        with open(f"{path}.output.txt", "w") as output:
            code = subprocess.call(command, cwd=REPO, stdout=output, stderr=subprocess.STDOUT)
        if code != 0 or not _complete(path, max_steps):
            raise UserError(f"{name} run {i + 1} failed (exit {code}); its output is in "
                            f"{path}.output.txt")
    return list(commands)


def accuracies(paths: list[str]) -> tuple[tuple[str, ...], dict[int, np.ndarray]]:
    """The runs' tasks and {test step: [run, task] accuracies} at the steps all runs tested."""
    return accuracy_table([load(path) for path in paths])


def accuracy_table(runs: list) -> tuple[tuple[str, ...], dict[int, np.ndarray]]:
    """`accuracies` of runs already loaded."""
    tasks = runs[0].tasks
    steps = sorted(set.intersection(*({r["step"] for r in run.tests} for run in runs)))
    table = {s: np.array([[next(r for r in run.tests if r["step"] == s)["test_accuracy"][t]
                           for t in tasks] for run in runs]) for s in steps}
    return tasks, table


def compare(tasks: tuple[str, ...], original: dict[int, np.ndarray],
            project: dict[int, np.ndarray], task_time: int | None) -> list[dict]:
    """One row per (test step both sides have, task): each side's statistics, the difference
    of the means (project - original) and Welch's t of that difference."""
    rows = []
    for step in sorted(set(original) & set(project)):
        for j, task in enumerate(tasks):
            a, b = describe(original[step][:, j]), describe(project[step][:, j])
            low, high = difference_interval(original[step][:, j], project[step][:, j],
                                            seed=step * len(tasks) + j)
            rows.append({"step": step, "task": task, "original": a, "project": b,
                         "difference": b["mean"] - a["mean"], "interval": [low, high],
                         "equivalent": equivalent((low, high), MARGIN), "t": welch_t(a, b),
                         "period_end": bool(task_time) and step > 0 and step % task_time == 0})
    return rows


def print_table(rows: list[dict], out=None) -> None:
    out = out or sys.stdout
    n_a, n_b = rows[0]["original"]["n"], rows[0]["project"]["n"]
    print(f"{'step':>6} {'task':>8}   {f'original ({n_a} runs)':>27}   "
          f"{f'project ({n_b} seeds)':>27} {'diff':>7} {'t':>6} {'90% interval':>17}",
          file=out)
    for r in rows:
        sides = "   ".join(f"{s['mean']:z.3f} ±{s['sd']:z.3f} [{s['min']:z.3f}-{s['max']:z.3f}]"
                           for s in (r["original"], r["project"]))
        mark = "*" if r["period_end"] else " "
        low, high = r["interval"]
        print(f"{r['step']:>5}{mark} {r['task']:>8}   {sides} {r['difference']:+z7.3f} "
              f"{r['t']:+z6.2f} [{low:+z.3f}, {high:+z.3f}]{'=' if r['equivalent'] else ' '}",
              file=out)
    unshown = sum(holds_zero(r["interval"]) for r in rows)
    same = sum(r["equivalent"] for r in rows)
    print(f"* period end. mean ±sd [range]; diff: project - original; t: Welch's t; 90% "
          f"interval of diff (bootstrap), = inside ±{MARGIN:g}. The interval holds 0 (no "
          f"difference shown) in {unshown} of {len(rows)} rows; equivalent within ±{MARGIN:g} "
          f"in {same} of {len(rows)}.", file=out)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(allow_abbrev=False, prog="python -m fidelity.compare",
                                     description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("original", nargs="?",
                        help="path of a copy of the original task.py; without it, nothing is "
                             "run and the table is made from the runs already under --out")
    parser.add_argument("--runs", type=int, default=5, help="runs of each (default: 5)")
    parser.add_argument("--out", required=True, help="folder for both sides' run logs")
    parser.add_argument("--json", help="also write the rows and every run's accuracies here")
    return parser


def main(argv: list[str]) -> int:
    ours, flags = (argv[:argv.index("--")], argv[argv.index("--") + 1:]) if "--" in argv \
        else (argv, [])
    args = build_parser().parse_args(ours)
    runtime.prepare_process()  # Quiets TensorFlow here and in the runs it starts.
    try:
        shared = parse_shared(flags)
        run = args.original is not None
        if run and not os.path.isfile(args.original):
            raise UserError(f"{args.original} is not a file; give a copy of the original task.py")
        max_steps = shared.max_steps
        out = os.path.abspath(args.out)
        original = run_side("original", {
            os.path.join(out, "original", str(i)): original_command(
                os.path.abspath(args.original), flags, max_steps,
                os.path.join(out, "original", str(i))) if run else None
            for i in range(args.runs)}, max_steps)
        project = run_side("project", {
            os.path.join(out, "project", f"seed{i}"): project_command(
                flags, i, os.path.join(out, "project"), f"seed{i}") if run else None
            for i in range(args.runs)}, max_steps)
        tasks, a = accuracies(original)
        _, b = accuracies(project)
    except UserError as e:
        print(f"fidelity.compare: error: {e}", file=sys.stderr)
        return 1
    rows = compare(tasks, a, b, getattr(shared, "task_time", RunConfig.task_time))
    print_table(rows)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"flags": flags, "tasks": tasks, "rows": rows,
                       "original": {s: v.tolist() for s, v in a.items()},
                       "project": {s: v.tolist() for s, v in b.items()}}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
