"""Expands an experiment into runs and executes them: in local processes or as Ray tasks.

Each run's directory name is fixed by its settings and seed, so a sweep that is
run again skips the runs that completed (their summary.json says so), resumes
those that left a checkpoint (locally) and restarts the others; a completed or
resumable run made with other settings (its config.json) stops the sweep before it
touches anything. A run that fails is reported with its error and the rest go on.
"""

import dataclasses
import fnmatch
import json
import math
import multiprocessing
import os
import queue
import shutil
import sys
import time
import traceback
from concurrent.futures import ProcessPoolExecutor
from typing import Callable, Iterable

import runtime
from errors import RunInterrupted, UserError, first_line
from experiments.grid import Experiment, quick
from rundir import (CONFIG_FILE, has_checkpoint, is_complete, read_json_object, read_summary,
                    run_dir_owner)
from training.config import RunConfig, fields_of_kind

REPO_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@dataclasses.dataclass(frozen=True)
class RunSpec:
    """One run of a sweep: its directory name and its whole config."""

    name: str
    config: RunConfig
    resume: bool = False  # Continue its directory from the latest checkpoint.
    point: str = ""  # The setting's label, which its seeds share.

    @property
    def run_dir(self) -> str:
        return os.path.join(self.config.log_dir, self.name)


def _label(point: dict, keys: list[str]) -> str:
    def show(value):
        return "+".join(map(str, value)) if isinstance(value, (tuple, list)) else str(value)

    return "_".join(f"{key.replace('_', '-')}-{show(point[key])}"
                    for key in keys if key in point) or "run"


def expand(experiment: Experiment, form: str, *, seeds: int, log_dir: str, is_quick: bool,
           overrides: dict | None = None, replacements: dict | None = None,
           scale: float = 1.0) -> list[RunSpec]:
    """Every (setting, seed) of the experiment as a RunSpec, settings varying slowest;
    `overrides` set what a point leaves unset, `replacements` replace its own, and `scale`
    multiplies every run's steps and task time."""
    if form not in experiment.forms:
        raise UserError(f"this experiment has no {form} form; it has: {', '.join(experiment.forms)}")
    if seeds < 1:
        raise UserError(f"--seeds must be at least 1, got {seeds}")
    if is_quick and experiment.quick_points:
        points = experiment.quick_points(form)
    else:
        points = experiment.points(form)
        if is_quick:
            points = [quick(point) for point in points]
    if scale != 1.0:
        points = scaled(points, scale)
    keys = sorted({k for point in points for k in point
                   if len({json.dumps(p.get(k), default=str) for p in points}) > 1})
    width = max(2, len(str(len(points) - 1)))
    specs = []
    for i, point in enumerate(points):
        settings = {k: v for k, v in point.items() if k != "name"}
        # A named point's runs keep their names as the grid grows; others are numbered.
        label = point.get("name") or f"{i:0{width}d}-{_label(point, keys)}"
        for seed in range(seeds):
            name = f"{label}-s{seed}"
            config = RunConfig(**{**(overrides or {}), **settings, **(replacements or {}),
                                  "seed": settings.get("seed", 0) * seeds + seed,
                                  "log_dir": log_dir, "run_name": name})
            specs.append(RunSpec(name, config, point=label))
    return specs


def scaled(points: list[dict], scale: float) -> list[dict]:
    """The points with every run's --max-steps and --task-time multiplied by `scale` (rounded,
    at least 1): the same experiment proportionally shorter or longer."""
    if not (scale > 0 and math.isfinite(scale)):
        raise UserError(f"--scale must be positive, got {scale!r}")
    if not all("max_steps" in point for point in points):
        raise UserError("--scale multiplies --max-steps and --task-time; this experiment's runs "
                        "end otherwise (by epochs or by criterion)")
    return [{**point, **{key: max(1, round(point[key] * scale))
                         for key in ("max_steps", "task_time") if key in point}}
            for point in points]


def matching(specs: list[RunSpec], patterns: list[str]) -> list[RunSpec]:
    """The specs whose setting's name matches one of the shell `patterns`; an error naming
    the settings if none does."""
    chosen = [spec for spec in specs
              if any(fnmatch.fnmatchcase(spec.point, pattern) for pattern in patterns)]
    if not chosen:
        names = ", ".join(dict.fromkeys(spec.point for spec in specs))
        raise UserError(f"--only {' '.join(patterns)} matches no setting; the settings: {names}")
    return chosen


def set_aside_incomplete(spec: RunSpec) -> str | None:
    """Moves a started but unfinished run directory aside, so the run can start again."""
    if not os.path.exists(spec.run_dir):
        return None
    aside = f"{spec.run_dir}.incomplete-{time.strftime('%Y%m%d-%H%M%S')}"
    shutil.move(spec.run_dir, aside)
    return aside


def execute(config_json: dict, threads: int, resume: bool = False,
            on_checkpoint: Callable[[], None] | None = None) -> dict:
    """Runs one config in this process (or resumes it), with `threads` TensorFlow threads,
    calling `on_checkpoint` after each checkpoint; never raises."""
    runtime.prepare_process()
    tf = runtime.import_tensorflow()  # Without its start-up lines in the worker's log.

    from training import run_experiment

    start = time.monotonic()
    try:
        _set_threads(tf, threads)
        tf.keras.backend.clear_session()  # What an earlier run of this process left.
        with open(os.devnull, "w") as quiet:
            run_dir = run_experiment(RunConfig(**config_json), progress_stream=quiet,
                                     resume=resume, on_checkpoint=on_checkpoint)
        return {"status": "completed", "seconds": time.monotonic() - start,
                "accuracy": read_summary(run_dir)["final_test_accuracy_all"],
                "worker": os.getpid()}
    except UserError as e:
        return {"status": "failed", "seconds": time.monotonic() - start, "error": str(e)}
    except RunInterrupted as e:
        return {"status": "interrupted", "seconds": time.monotonic() - start, "error": str(e)}
    except Exception as e:  # A bug or a TensorFlow failure: keep the trace for the report.
        return {"status": "failed", "seconds": time.monotonic() - start,
                "error": f"{type(e).__name__}: {e}", "traceback": traceback.format_exc()}


def _set_threads(tf, threads: int) -> None:
    """TensorFlow's thread pools, which are fixed once it has run an op: an error then,
    unless they already have this size (a worker's later runs)."""
    if tf.config.threading.get_intra_op_parallelism_threads() == threads:
        return
    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(min(threads, 2))


def execute_logged(config_json: dict, threads: int, log_path: str, resume: bool = False) -> dict:
    """`execute` in a worker process of its own, its output (TensorFlow's included) to a file."""
    runtime.die_with_parent()
    os.makedirs(os.path.dirname(log_path), exist_ok=True)
    with open(log_path, "ab") as log:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
    result = execute(config_json, threads, resume)
    if result["status"] != "completed":
        result["log"] = log_path
        print(result.get("traceback") or result["error"], file=sys.stderr, flush=True)
    return result


def threads_per_run(workers: int) -> int:
    return max(1, runtime.usable_cpus() // workers)


_ENDED = None  # In a worker process: the queue its runs' results go to (_hold_queue).


def _hold_queue(ended) -> None:
    """A worker process's initializer: keeps the sweep's queue of ended runs."""
    global _ENDED
    _ENDED = ended


def execute_runs(runs: list[tuple[str, dict, str, bool]], threads: int) -> None:
    """`execute_logged` for several runs, (name, config, log path, resume) each, one after
    another in this worker process; each (name, result) is put on the sweep's queue as it
    ends."""
    for name, config_json, log_path, resume in runs:
        _ENDED.put((name, execute_logged(config_json, threads, log_path, resume)))


def run_local(specs: list[RunSpec], workers: int,
              report: Callable[[RunSpec, dict], None],
              runs_per_process: int = 1, tick: Callable[[], None] = lambda: None
              ) -> dict[str, dict]:
    """Runs the specs in `workers` processes, threads split among them, each process making
    up to `runs_per_process` runs in turn (fewer when there are too few runs to give
    every worker that many) before a fresh one takes the next (TensorFlow's start paid
    once for them; each run still seeded and logged alone); each run's console output
    goes to <run dir>.log beside it, and each is reported as it ends; `tick` is called
    about every second while they run (the sweep's progress display).

    (A pool whose workers exit after several tasks, max_tasks_per_child > 1, hung here
    once its first workers had exited, on Python 3.11: so each pool task is a chunk of
    runs, in a fresh process, its results sent back one by one through a queue that
    the workers get as they start; no server process, so none outlives a killed sweep.)"""
    threads = threads_per_run(workers)
    by_name = {spec.name: spec for spec in specs}
    # Chunks of runs_per_process, or smaller so that every worker has one.
    size = max(1, min(runs_per_process, -(-len(specs) // workers)))
    chunks = [specs[i:i + size] for i in range(0, len(specs), size)]
    results = {}

    def take(name, result):
        results[name] = result
        report(by_name[name], result)

    def drain():
        while True:
            try:
                take(*ended.get_nowait())
            except queue.Empty:
                return

    context = multiprocessing.get_context("spawn")
    ended = context.Queue()
    with ProcessPoolExecutor(workers, mp_context=context, max_tasks_per_child=1,
                             initializer=_hold_queue, initargs=(ended,)) as pool:
        futures = {pool.submit(execute_runs, [(spec.name, dataclasses.asdict(spec.config),
                                               f"{spec.run_dir}.log", spec.resume)
                                              for spec in chunk], threads): chunk
                   for chunk in chunks}
        while futures:
            tick()
            try:
                take(*ended.get(timeout=1.0))
                continue
            except queue.Empty:
                pass
            done = [future for future in futures if future.done()]
            drain()  # What the done chunks put before they ended.
            for future in done:
                chunk = futures.pop(future)
                try:
                    future.result()
                except Exception as e:  # The worker process itself died (killed, memory).
                    for spec in chunk:
                        if spec.name not in results:
                            take(spec.name, {"status": "failed",
                                             "error": f"worker died: {type(e).__name__}: {e}"})
    drain()
    return results


def pending(specs: Iterable[RunSpec], can_resume: bool = True
            ) -> tuple[list[RunSpec], list[RunSpec]]:
    """(completed, to run) of the specs. An unfinished run with a checkpoint is resumed
    from it if `can_resume`; other unfinished directories are set aside. A run that a live
    process still writes (an earlier sweep's worker), or a completed or resumable one made
    with other settings (check_settings), is an error: nothing is touched."""
    specs = list(specs)
    busy = [(spec.run_dir, owner) for spec in specs
            if (owner := run_dir_owner(spec.run_dir)) is not None]
    if busy:
        raise UserError(f"{len(busy)} run(s) of this sweep are still being written, "
                        f"{busy[0][0]} by pid {busy[0][1]}: an earlier sweep is running; "
                        "wait for it or stop it, then run this again (nothing was changed)")
    check_settings(specs, resumable=can_resume)
    done, todo = [], []
    for spec in specs:
        if is_complete(spec.run_dir):
            done.append(spec)
        elif can_resume and has_checkpoint(spec.run_dir):
            todo.append(dataclasses.replace(spec, resume=True))
        else:
            set_aside_incomplete(spec)
            todo.append(spec)
    return done, todo


# Where a run's files and data lie, and how often it checkpoints: a sweep run again may give
# them otherwise, for they leave the run's records as they are.
UNCOMPARED = fields_of_kind("place", "upkeep")


def other_settings(saved: dict | None, config: RunConfig) -> list[str]:
    """How a run's config.json (`saved`, None if it cannot be read) differs from `config`:
    'NAME THERE (asked: HERE)' for each setting but UNCOMPARED's; [] if in none."""
    if saved is None:
        return [f"no readable {CONFIG_FILE}"]
    fields = {field.name for field in dataclasses.fields(RunConfig)}
    try:  # Its settings as this code reads them: defaults filled in, values normalised.
        made = RunConfig(**{k: v for k, v in saved.items() if k in fields}).to_json()
    except (UserError, TypeError, ValueError) as e:
        return [f"invalid settings in its {CONFIG_FILE} ({first_line(e, 80)})"]
    asked = config.to_json()
    return [f"{name} {json.dumps(made[name])} (asked: {json.dumps(asked[name])})"
            for name in asked
            if name not in UNCOMPARED and _plain(made[name]) != _plain(asked[name])]


def _plain(value):
    """A setting's value as JSON gives it back (tuples as lists)."""
    return json.loads(json.dumps(value))


def refuse_other_settings(runs: Iterable[tuple[RunSpec, dict | None]], where: str) -> None:
    """An error naming how the first of `runs` (a spec and its run's saved config.json) that
    was made with other settings than its spec asks differs: a sweep must not count such a
    run as one of its own (a 150-step run in a 300-step sweep)."""
    differing = [(spec, how) for spec, saved in runs
                 if (how := other_settings(saved, spec.config))]
    if not differing:
        return
    spec, how = differing[0]
    more = f" and {len(how) - 3} more" if len(how) > 3 else ""
    raise UserError(f"{len(differing)} run(s) in {where} were made with other settings than "
                    f"this sweep asks, {spec.name} with {', '.join(how[:3])}{more}; give the "
                    "settings they were made with (the same --quick, --scale, ...) or another "
                    "--log-dir (nothing was changed)")


def _saved_config(run_dir: str) -> dict | None:
    return read_json_object(os.path.join(run_dir, CONFIG_FILE))


def check_settings(specs: Iterable[RunSpec], resumable: bool = True) -> None:
    """An error (refuse_other_settings) if a completed run of the specs, or one that would be
    resumed (`resumable` and it has a checkpoint), was made with other settings."""
    kept = [spec for spec in specs if is_complete(spec.run_dir)
            or (resumable and has_checkpoint(spec.run_dir))]
    if kept:
        refuse_other_settings(((spec, _saved_config(spec.run_dir)) for spec in kept),
                              os.path.dirname(kept[0].run_dir))
