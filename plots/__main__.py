"""Draws the study's charts and prints forgetting metrics from run logs.

    python -m plots tasks RUN_DIR --out tasks.png
    python -m plots compare RUN_DIR... --out compare.pdf
    python -m plots metrics RUN_DIR... --json metrics.json

A RUN_DIR may be a log directory: every run below it is read. Runs of the
original task.py (TensorBoard folders test_task_<i>_<name>/) read as runs too.
"""

import argparse
import json
import math
import os
import sys

from errors import OneLineErrors, UserError

FORMATS = (".png", ".svg", ".pdf")


class _OneLineErrorParser(OneLineErrors, argparse.ArgumentParser):
    """argparse's parser, with one-line errors."""


def build_parser() -> argparse.ArgumentParser:
    from plots.charts import CHARTS

    parser = _OneLineErrorParser(prog="python -m plots", description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog="charts:\n" + "\n".join(
                                     f"  {name:14} {text}" for name, (_, text) in CHARTS.items()))
    commands = parser.add_subparsers(dest="command", required=True, metavar="CHART|metrics",
                                     parser_class=_OneLineErrorParser)
    for name, (_, text) in CHARTS.items():
        chart = commands.add_parser(name, help=text, description=text)
        chart.add_argument("runs", nargs="+", metavar="RUN_DIR")
        chart.add_argument("--out", required=True, help="the chart file: .png, .svg or .pdf")
        if name == "compare":
            chart.add_argument("--task", help="compare this task's accuracy (default: all tasks)")
    metrics = commands.add_parser(
        "metrics", help="accuracy matrix, forgetting, transfer and switch drops per run",
        description="Prints each run's continual-learning metrics as a table.")
    metrics.add_argument("runs", nargs="+", metavar="RUN_DIR")
    metrics.add_argument("--json", help="also write the metrics to this JSON file")
    metrics.add_argument("--by-setting", action="store_true",
                         help="one row per setting, each metric's mean and sd over its seeds")
    metrics.add_argument("--alone", nargs="+", metavar="RUN_DIR",
                         help="runs of each task trained alone: the reference of forward "
                              "transfer (alone)")
    metrics.add_argument("--tolerance", type=_tolerance, default=0.0,
                         help="a task has recovered when within this much of its accuracy "
                              "at the switch (default: %(default)s)")
    return parser


def _tolerance(text: str) -> float:
    """--tolerance: an accuracy difference, zero or more (nan, which no accuracy is within,
    or a negative one is refused)."""
    value = float(text)
    if not (math.isfinite(value) and value >= 0):
        raise argparse.ArgumentTypeError(f"{text!r} is not an accuracy difference of 0 or more "
                                         "(e.g. 0.01)")
    return value


def _number(value) -> str:
    return "-" if value is None or (isinstance(value, float) and math.isnan(value)) \
        else f"{value:+z.3f}" if isinstance(value, float) and value < 0 else f"{value:z.3f}"


def print_metrics(results: list[dict], out=None) -> None:
    from plots.metrics import FWT_LEGEND, SUMMARISED, TITLES

    out = out or sys.stdout
    print(f"{'run':40} " + " ".join(f"{TITLES[name]:>9}" for name in SUMMARISED), file=out)
    for r in results:
        print(f"{os.path.basename(os.path.normpath(r['run']))[:40]:40} "
              + " ".join(f"{_number(r[name]):>9}" for name in SUMMARISED), file=out)
    print(FWT_LEGEND, file=out)
    for r in results:
        print(f"\n{r['run']}\naccuracy at the end of each period (rows) for each task:", file=out)
        print(f"  {'period':>6} {'trained':>8} " + " ".join(f"{t:>8}" for t in r["tasks"]),
              file=out)
        for i, (task, row) in enumerate(zip(r["period_tasks"], r["accuracy_matrix"])):
            print(f"  {i:>6} {task:>8} " + " ".join(f"{v:z8.3f}" for v in row), file=out)
        if "episodes" in r:
            _print_episodes(r["episodes"], out)
        if r["switches"]:
            print(f"  {'switch':>8} {'left':>8} {'at switch':>9} {'lowest':>8} {'drop':>8} "
                  f"{'recovery':>9}", file=out)
            for e in r["switches"]:
                recovery = "-" if e["recovery_steps"] is None else str(e["recovery_steps"])
                print(f"  {e['step']:>8} {e['left']:>8} {e['accuracy_at_switch']:z9.3f} "
                      f"{e['lowest']:z8.3f} {e['drop']:z8.3f} {recovery:>9}", file=out)


def print_setting_table(rows: list[dict], out=None) -> None:
    """metrics --by-setting: a row per setting, mean (sd) over its seeds."""
    from plots.metrics import FWT_LEGEND, SUMMARISED, TITLES

    out = out or sys.stdout
    width = max([len("setting")] + [len(r["setting"]) for r in rows])
    print(f"{'setting':{width}} {'seeds':>5} " + " ".join(
        f"{TITLES[name]:>15}" for name in SUMMARISED), file=out)
    for r in rows:
        cells = []
        for name in SUMMARISED:
            mean, sd = r[name], r[f"{name}_sd"]
            spread = "" if sd is None or math.isnan(sd) else f" ({sd:z.3f})"
            cells.append(f"{_number(mean) + spread:>15}")
        print(f"{r['setting']:{width}} {r['seeds']:>5} " + " ".join(cells), file=out)
    print(FWT_LEGEND, file=out)


def _print_episodes(episodes: dict, out) -> None:
    """The episodic measures: a row per task position, a column per episode."""
    tables = (("trials to criterion", "trials_to_criterion", "{:z8.0f}"),
              ("accuracy at the episode's start", "accuracy_at_episode_start", "{:z8.3f}"),
              (f"accuracy after {episodes['budget_trials']} trials in the episode",
               "accuracy_after_budget", "{:z8.3f}"))
    print(f"  epochs per episode: {' '.join(map(str, episodes['epochs_per_episode']))}", file=out)
    for title, key, number in tables:
        matrix = episodes[key]
        print(f"  {title} (row: task position, column: episode):", file=out)
        print("  " + " " * 6 + "".join(f"{i:>8}" for i in range(1, len(matrix) + 1)), file=out)
        for j, row in enumerate(matrix, 1):
            cells = "".join("       -" if v is None else number.format(v) for v in row)
            print(f"  {j:>6}{cells}", file=out)


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    from output import check_writable, write_text
    from plots.runlog import load_runs

    try:
        if args.command == "metrics" and args.json:
            check_writable(args.json, "--json")  # Before the work.
        runs = load_runs(args.runs)
        if args.command == "metrics":
            from plots.metrics import alone_accuracies, json_ready, run_metrics, setting_table

            alone = alone_accuracies(load_runs(args.alone)) if args.alone else None
            if args.by_setting:
                results = json_ready(setting_table(runs, alone))
                print_setting_table(results)
            else:
                results = [json_ready(run_metrics(run, args.tolerance, alone)) for run in runs]
                print_metrics(results)
            if args.json:
                write_text(args.json, json.dumps(results, indent=2), "--json")
            return 0
        from plots.charts import CHARTS

        if os.path.splitext(args.out)[1].lower() not in FORMATS:
            raise UserError(f"--out {args.out}: name a .png, .svg or .pdf file")
        options = {"task": args.task} if args.command == "compare" else {}
        figure = CHARTS[args.command][0](runs, **options)
        from plots.style import save

        try:
            save(figure, args.out)
        except OSError as e:
            raise UserError(f"cannot write --out {args.out} ({e.strerror}); "
                            "choose a writable path") from None
        print(args.out)
        return 0
    except UserError as e:
        sys.exit(f"python -m plots: error: {e}")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
