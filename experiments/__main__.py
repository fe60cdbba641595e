"""Runs a named experiment over seeds, locally or on a Ray cluster, and draws its chart;
converts run folders into the committed result tables; makes the results report from them.

    python -m experiments list
    python -m experiments report
    python -m experiments run optimizer --quick --seeds 2 --workers 2
    python -m experiments run switching --data-dog-dir DIR --ray-address local
    python -m experiments tabulate results/optimizer --from runs/optimizer-mnist
"""

import runtime

runtime.prepare_process()  # Before TensorFlow is first imported.

import argparse  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

from errors import OneLineErrors, UserError  # noqa: E402
from training.config import fields_of_kind  # noqa: E402

# Settings given to every run of a sweep as they are: where the data is (every place but
# the runs' folders, which the sweep names), where it comes from, and the device.
PASSED_SETTINGS = (*(name for name in fields_of_kind("place")
                     if name not in ("log_dir", "run_name")),
                   "fashion_source", "dog_source", "gpu")
# Settings given on the command line that replace the grid's own: how often and on how many
# test images every run is evaluated, to fit a sweep to a machine, and how often it
# checkpoints, to fit a cluster's preemptions (config.json keeps them).
REPLACED_SETTINGS = ("test_frequency", "test_examples", "checkpoint_every")


class _OneLineErrorParser(OneLineErrors, argparse.ArgumentParser):
    """argparse's parser, with one-line errors."""


def build_parser() -> argparse.ArgumentParser:
    from experiments.registry import all_forms
    from training.flags import add_setting_flags

    parser = _OneLineErrorParser(prog="python -m experiments", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True,
                                     parser_class=_OneLineErrorParser)
    commands.add_parser("list", help="the experiments, their forms and grid sizes")
    report = commands.add_parser(
        "report", help="make docs/results.md again from the run logs under results/, and "
                       "draw its charts")
    report.add_argument("--results", default="results",
                        help="the folder of run logs (default: results)")
    report.add_argument("--out", default=os.path.join("docs", "results.md"),
                        help="the report (default: docs/results.md)")
    report.add_argument("--no-charts", action="store_true",
                        help="write the text only; the charts stay as they are")
    report.add_argument("--check", action="store_true",
                        help="write nothing; exit 1 if --out is not what the logs give")
    tabulate = commands.add_parser(
        "tabulate", help="convert run folders into a results folder's table (runs.csv.gz), "
                         "keeping each run's config.json and summary.json")
    tabulate.add_argument("folders", nargs="*", metavar="FOLDER",
                          help="results folders (results/switching-fashion, or its name "
                               "switching-fashion); in place, their finished runs' raw logs "
                               "are removed once the table holds them (default: every "
                               "folder under --results that a study reads)")
    tabulate.add_argument("--results", default="results",
                          help="the folder of results (default: results)")
    tabulate.add_argument("--from", dest="source", metavar="DIR",
                          help="add the finished runs of this sweep folder (runs/NAME) to "
                               "the one FOLDER instead; DIR is left as it is")
    tabulate.add_argument("--keep-raw", action="store_true",
                          help="in place, leave the runs' raw logs where they are")
    run = commands.add_parser("run", help="run an experiment's grid over seeds, then chart it")
    run.add_argument("name", help="an experiment (see `list`)")
    run.add_argument("--seeds", type=int, default=1, help="seeds per setting (default: 1)")
    run.add_argument("--workers", type=int, default=1,
                     help="local runs in parallel; TensorFlow threads are split among them "
                          "(default: 1)")
    run.add_argument("--ray-address", help="run every run as a task on this Ray cluster "
                                           "(`auto`, host:port, or `local` to start one "
                                           "here; with --gpu, each run asks for a GPU)")
    run.add_argument("--cpus-per-run", type=int, default=1,
                     help="with --ray-address: the CPUs each run asks of the cluster, and its "
                          "TensorFlow threads (default: 1)")
    run.add_argument("--storage", metavar="PATH_OR_URI",
                     help="with --ray-address: where the runs' directories live while they "
                          "run, so that they outlive any node: a folder every node and this "
                          "machine reach (a shared file system) or an object store URI "
                          "(s3://, gs://, ...); runs push their directory there at every "
                          "checkpoint, a run whose node is lost resumes from it on another "
                          "node, and a rerun of the sweep resumes from it; completed runs "
                          "are copied into --log-dir (default with a plain path: the same "
                          "folder)")
    run.add_argument("--retries", type=int, default=3,
                     help="with --ray-address: times a run is started again when its worker "
                          "or node is lost (from its latest checkpoint with --storage, else "
                          "from step 0; default: 3)")
    run.add_argument("--log-dir", help="where the runs and the chart go "
                                       "(default: runs/NAME-FORM[-quick])")
    run.add_argument("--only", nargs="+", metavar="PATTERN",
                     help="run only the settings whose names match one of these shell "
                          "patterns (e.g. 'class-*' '*-ewc'); the table and metrics still "
                          "gather every complete run of the grid")
    run.add_argument("--runs-per-process", type=int,
                     help="runs a worker process makes before a fresh one starts (default: "
                          "the experiment's: 20 for split-mnist's short runs, else 1)")
    run.add_argument("--scale", type=float, default=1.0,
                     help="multiply every run's --max-steps and --task-time by this, to fit "
                          "an experiment to a machine proportionally (default: 1)")
    run.add_argument("--quick", action="store_true",
                     help="every run a hundredfold shorter, for a smoke test")
    run.add_argument("--form", choices=all_forms(),
                     help="the blog's experiments with dogs, Fashion-MNIST or MNIST alone "
                          "as the second domain (default: dog when dog data is given, else "
                          "mnist); cpu or paper sizes for paper-shapes (default: cpu)")
    add_setting_flags(run, PASSED_SETTINGS, "for every run")
    add_setting_flags(run, REPLACED_SETTINGS, "for every run, in place of the grid's own")
    return parser


def list_experiments() -> None:
    from experiments.registry import EXPERIMENTS

    width = max(map(len, EXPERIMENTS))
    forms = max(len("/".join(experiment.forms)) for experiment in EXPERIMENTS.values())
    print(f"{'experiment':{width}} {'forms':{forms}} {'runs':>7}  {'chart':14} description")
    for name, experiment in EXPERIMENTS.items():
        sizes = "/".join(str(len(experiment.points(form))) for form in experiment.forms)
        print(f"{name:{width}} {'/'.join(experiment.forms):{forms}} {sizes:>7}  "
              f"{experiment.chart or 'table':14} "
              f"{experiment.description}")
    print("\nruns: settings per form (times --seeds); --quick shrinks each run a hundredfold "
          "(paper-shapes: one 4-task Latin square of small scenes)")


def _report_line(done: list[int], total: int, start: float, progress):
    """Each ended run's line, [k/N] with its outcome, written above the progress block."""
    def report(spec, result):
        done[0] += 1
        outcome = (f"accuracy {result['accuracy']:.3f}" if result["status"] == "completed"
                   else f"FAILED: {result['error']}" + (f" (log: {result['log']})"
                                                        if "log" in result else ""))
        seconds = result.get("seconds")
        took = f" in {seconds:.0f} s" if seconds is not None else ""
        progress.ended(spec, result, f"[{done[0]}/{total}] {spec.name}: {outcome}{took} "
                                     f"(sweep {time.monotonic() - start:.0f} s)")
    return report


def run(args) -> int:
    runtime.import_tensorflow()  # The sweep's modules load it: without its start-up lines.
    from experiments import sweep
    from experiments.progress import SweepProgress
    from rundir import is_complete
    from experiments.registry import get_experiment

    experiment = get_experiment(args.name)
    overrides = {key: getattr(args, key) for key in PASSED_SETTINGS if key in args}
    replacements = {key: getattr(args, key) for key in REPLACED_SETTINGS if key in args}
    has_dogs = bool(overrides.get("data_dog_dir")) or overrides.get("dog_source") == "tfds"
    form = args.form or ("dog" if has_dogs and "dog" in experiment.forms else "mnist")
    if form not in experiment.forms:
        form = experiment.forms[0]
    if form == "fashion" and overrides.get("fashion_source", "idx") == "idx":
        from data.fashion import fashion_dir

        fashion_dir(overrides.get("data_fashion_dir"))  # No data: one line, before any run.
    if args.workers < 1:
        raise UserError(f"--workers must be at least 1, got {args.workers}")
    if args.cpus_per_run < 1:
        raise UserError(f"--cpus-per-run must be at least 1, got {args.cpus_per_run}")
    if args.runs_per_process is not None and args.runs_per_process < 1:
        raise UserError(f"--runs-per-process must be at least 1, got {args.runs_per_process}")
    if args.storage and not args.ray_address:
        raise UserError("--storage is where a Ray sweep's runs live; give --ray-address too "
                        "(a local sweep's runs live in --log-dir)")
    if args.retries < 0:
        raise UserError(f"--retries must be 0 or more, got {args.retries}")
    if args.ray_address and args.ray_address != "local":  # Before any run is touched.
        from experiments.ray_runner import check_answers

        check_answers(args.ray_address)
    log_dir = args.log_dir or (args.storage if args.storage and "://" not in args.storage
                               else os.path.join("runs", f"{args.name}-{form}"
                                                 + ("-quick" if args.quick else "")))
    specs = sweep.expand(experiment, form, seeds=args.seeds, log_dir=log_dir,
                         is_quick=args.quick, overrides=overrides, replacements=replacements,
                         scale=args.scale)
    chosen = sweep.matching(specs, args.only) if args.only else specs
    sweep.check_settings(specs, resumable=False)  # The grid's completed runs are charted.
    storage = runs = None
    if args.storage:
        from experiments.ray_runner import live_nodes, pending_in_storage
        from experiments.storage import Storage, StoredRuns

        storage = Storage(args.storage)
        done, todo = pending_in_storage(chosen, storage)
        runs = StoredRuns(storage, alive=live_nodes)
    else:  # A Ray node cannot resume a run from this machine's folder: it starts again.
        done, todo = sweep.pending(chosen, can_resume=not args.ray_address)
    where = (f"Ray at {args.ray_address}" + (f", storage {args.storage}" if storage else "")
             if args.ray_address else f"{args.workers} local workers")
    resumed = sum(spec.resume for spec in todo)
    print(f"{args.name} ({form} form{', quick' if args.quick else ''}): {len(chosen)} runs in "
          f"{log_dir}, {len(done)} already complete, {len(todo)} to run on {where}"
          + (f" ({resumed} resumed from checkpoints)" if resumed else ""), flush=True)
    start = time.monotonic()
    progress = SweepProgress(todo, runs=runs)
    report = _report_line([0], len(todo), start, progress)
    results = {}
    try:
        if todo and args.ray_address:
            from experiments.ray_runner import run_ray

            results = run_ray(todo, args.ray_address, args.cpus_per_run, report,
                              progress.tick, storage=storage, retries=args.retries)
        elif todo:
            results = sweep.run_local(todo, args.workers, report,
                                      args.runs_per_process or experiment.runs_per_process,
                                      progress.tick)
    finally:
        progress.close()
    failed = [name for name, result in results.items() if result["status"] != "completed"]
    print(f"sweep took {time.monotonic() - start:.0f} s; {len(chosen) - len(failed)} of "
          f"{len(chosen)} runs complete" + (f"; failed: {', '.join(failed)}" if failed else ""))
    complete = [spec.run_dir for spec in specs if is_complete(spec.run_dir)]
    if complete and experiment.chart:
        chart = os.path.join(log_dir, f"{args.name}.png")
        _draw(experiment.chart, complete, chart)
        print(f"chart: {chart}")
    if complete:
        table = os.path.join(log_dir, f"{args.name}-metrics.json")
        _table(complete, table)
        print(f"metrics by setting: {table}")
    if complete and experiment.table:
        _result_table(experiment, [spec for spec in specs if is_complete(spec.run_dir)],
                      os.path.join(log_dir, f"{args.name}-table.json"))
    if complete:
        _tabulate_hint(args.name, form, log_dir)
    return 1 if failed else 0


def _tabulate_hint(name: str, form: str, log_dir: str) -> None:
    """The command that commits the sweep's runs as the table of the results folder a study
    reads them from, if one does."""
    from experiments.studies import tables

    for folder, table in tables().items():
        if (table.experiment, table.form) == (name, form) and not folder.startswith("original/"):
            target = os.path.join("results", folder)
            source = ("" if os.path.abspath(log_dir) == os.path.abspath(target)
                      else f" --from {log_dir}")
            print(f"to commit its results as a table: python -m experiments tabulate "
                  f"{target}{source}")


def report(args) -> int:
    runtime.import_tensorflow()  # The original's logs are read with it: without its lines.
    from experiments import report as results_report

    if not os.path.isdir(args.results):
        raise UserError(f"{args.results} is not a folder of run logs")
    if args.check:
        text, _ = results_report.build(args.results, os.path.dirname(os.path.abspath(args.out)))
        try:
            with open(args.out) as f:
                same = f.read() == text
        except OSError:
            same = False
        print(f"{args.out} is {'' if same else 'not '}what the logs in {args.results} give")
        return 0 if same else 1
    charts = results_report.write(args.results, args.out, draw=not args.no_charts)
    print(f"report: {args.out}" + ("" if args.no_charts else
                                    f"; charts: {', '.join(charts) or 'none'}"))
    return 0


def _results_name(folder: str, results: str) -> str:
    """A results folder's name under `results` (a path to it, or the name itself)."""
    relative = os.path.relpath(os.path.abspath(folder), os.path.abspath(results))
    return (folder if relative.startswith("..") else relative).replace(os.sep, "/").strip("/")


def tabulate(args) -> int:
    runtime.import_tensorflow()  # The original's logs are read with it: without its lines.
    from experiments.studies import table_of, tables
    from experiments.tabulate import describe, tabulate as convert

    if args.source and len(args.folders) != 1:
        raise UserError("--from adds a sweep's runs to one results folder; give that FOLDER "
                        "(e.g. results/switching-fashion)")
    names = ([_results_name(folder, args.results) for folder in args.folders]
             or [name for name in tables() if os.path.isdir(os.path.join(args.results, name))])
    for name in names:
        train = table_of(name).train
        target = os.path.join(args.results, name)
        done = convert(target, train, args.source, args.keep_raw)
        print(describe(target, done, removed=not args.source and not args.keep_raw))
    return 0


def _result_table(experiment, specs: list, out: str) -> None:
    """The experiment's own table of its complete runs: printed, and written as JSON."""
    import json

    from rundir import read_summary

    summaries = {}
    for spec in specs:
        summaries.setdefault(spec.point, []).append(read_summary(spec.run_dir))
    table = experiment.table(summaries)
    print(experiment.format_table(table))
    with open(out, "w") as f:
        json.dump(table, f, indent=2)
    print(f"table: {out}")


def _table(run_dirs: list[str], out: str) -> None:
    """Prints the metrics of each setting (mean and sd over seeds) and writes them as JSON."""
    import json

    from plots.__main__ import print_setting_table
    from plots.metrics import json_ready, setting_table
    from plots.runlog import load_runs

    rows = json_ready(setting_table(load_runs(run_dirs)))
    print_setting_table(rows)
    with open(out, "w") as f:
        json.dump(rows, f, indent=2)


def _draw(chart: str, run_dirs: list[str], out: str) -> None:
    from plots.charts import CHARTS
    from plots.runlog import load_runs
    from plots.style import save

    save(CHARTS[chart][0](load_runs(run_dirs)), out)


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "list":
            list_experiments()
            return 0
        if args.command == "report":
            return report(args)
        if args.command == "tabulate":
            return tabulate(args)
        return run(args)
    except UserError as e:
        sys.exit(f"python -m experiments: error: {e}")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
