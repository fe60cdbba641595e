"""Runs one experiment: builds tasks and model from a RunConfig, trains on the schedule, logs."""

import contextlib
import dataclasses
import os
import platform
import shutil
import signal
import subprocess
import sys
import time
from typing import Callable

import tensorflow as tf

from data import load_dogs, load_fashion, load_mnist, load_shapes
from data.shapes import scenes_memory_floor
from errors import RunInterrupted, UserError, first_line
from models import build_model
from models.memory import memory_floor
from tasks import TASKS, Task, build_tasks, input_channels, sources_needed, task_classes
from rundir import (CONFIG_FILE, RunDirLock, clear_run_dir, create_run_dir, is_complete,
                    latest_state, read_config)
from training.checkpoint import StopRequests
from training.config import RunConfig, mistyped
from training.episodes import EpisodeSchedule, mix_memory_floor
from training.loop import Run
from training.methods import build_methods
from training.methods.base import Methods
from training.run_log import RunLog
from training.steps import make_optimizer
from training.switching import SwitchSchedule
from training.task_free import TaskFreeSchedule, is_task_free

REPO_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
IMAGE_SIZE = 28  # MNIST and dog images alike, as the original.


def configure_devices(use_gpu: bool) -> None:
    """Runs on the GPU with --gpu (an error if none is visible), else on the CPU only."""
    gpus = tf.config.list_physical_devices("GPU")
    if use_gpu and not gpus:
        raise UserError("--gpu was given but TensorFlow sees no GPU; install the GPU build "
                        "(pip install 'tensorflow[and-cuda]') on a machine with one, "
                        "or drop --gpu to run on the CPU")
    if not use_gpu and gpus:
        tf.config.set_visible_devices([], "GPU")


def code_version() -> str:
    """The git commit of this code (with -dirty for local changes), or 'unknown'."""
    try:
        result = subprocess.run(["git", "describe", "--always", "--dirty", "--abbrev=12"],
                                cwd=REPO_DIR, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return result.stdout.strip() if result.returncode == 0 else "unknown"


def default_run_name(config: RunConfig) -> str:
    tasks = "-".join(config.tasks)
    if len(tasks) > 40:
        tasks = f"{config.tasks[0]}-and-{len(config.tasks) - 1}-more"
    network = "-".join(config.network).replace(":", "")
    if len(network) > 40:
        network = f"{len(config.network)}layers"
    schedule = f"tt{config.task_time}" if config.schedule == "switch" else "episodes"
    return (f"{time.strftime('%Y%m%d-%H%M%S')}_{tasks}_{network}_{schedule}_{config.optimizer}"
            f"_s{config.seed}")


def _make_run_dir(config: RunConfig) -> str:
    if config.run_name:
        return create_run_dir(config.log_dir, config.run_name)
    name = default_run_name(config)
    for suffix in ["", *(f"-{i}" for i in range(1, 100))]:
        if not os.path.exists(os.path.join(config.log_dir, name + suffix)):
            return create_run_dir(config.log_dir, name + suffix)
    return create_run_dir(config.log_dir, name)  # Refused with a clear message.


def _start_run(config: RunConfig, metadata: dict, held: contextlib.ExitStack) -> RunLog:
    """Makes a new run's directory, takes hold of it and starts its log; if any of that fails
    (a full disk), the directory is removed again, so that the same command can be run
    again: a folder holding only a lock could be neither resumed nor restarted."""
    run_dir = _make_run_dir(config)
    lock = None
    try:
        lock = RunDirLock(run_dir)
        log = _start_log(run_dir, config, metadata, "run the same command again (nothing "
                                                    "was kept)")
    except UserError:
        if lock is not None:
            lock.release()
        shutil.rmtree(run_dir, ignore_errors=True)
        raise
    held.callback(lock.release)
    return log


def _start_log(run_dir: str, config: RunConfig, metadata: dict | None, again: str) -> RunLog:
    """The run's log, started (config.json written) unless `metadata` is None (a resume); a
    write that fails is one line ending with `again`."""
    try:
        return RunLog(run_dir, config.tasks, metadata)
    except (OSError, tf.errors.OpError) as e:
        reason = getattr(e, "strerror", None) or first_line(e)
        raise UserError(f"cannot start the run's log in {run_dir} ({reason}); free space or "
                        f"fix permissions, then {again}") from None


def check_memory(config: RunConfig) -> None:
    """Refuses a run whose network and batch, shapes scenes or epoch cannot fit in this
    machine's memory, with the figure it needs, before any of it is asked for (a floor:
    what fits may still run short, then TensorFlow's out-of-memory error is caught as one
    line)."""
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    for needed, what, fix in _memory_needs(config):
        if needed > total:
            raise UserError(f"{what} at least {needed / 2**30:,.1f} GiB, more than this "
                            f"machine's {total / 2**30:,.1f} GiB; {fix}")


def _memory_needs(config: RunConfig) -> list[tuple[int, str, str]]:
    """(bytes at the least, what needs them, the fix) for each part of a run that grows
    with a setting."""
    shapes = "shapes" in sources_needed(config.tasks)
    size = (config.shapes_height, config.shapes_width) if shapes else (IMAGE_SIZE, IMAGE_SIZE)
    size = tuple(side + 2 * config.image_pad for side in size)
    step = memory_floor(config.network, input_shape=(*size, input_channels(config.input_style)),
                        batch=config.batch, conv_filters=config.conv_filters,
                        fc_units=config.fc_units,
                        num_classes=task_classes(config.tasks, config.labels),
                        heads=len(config.tasks) if config.head == "per-task" else 1,
                        task_signal=len(config.tasks) if config.task_signal else 0)
    needs = [(step, f"--batch {config.batch} with --network {' '.join(config.network)} "
                    f"(--conv-filters {config.conv_filters}, --fc-units {config.fc_units}) "
                    "needs", "lower --batch or the widths")]
    if shapes:
        needs.append((
            scenes_memory_floor(config.shapes_train + config.shapes_test,
                                config.shapes_height, config.shapes_width),
            f"--shapes-train {config.shapes_train} and --shapes-test {config.shapes_test} "
            f"scenes of {config.shapes_height}x{config.shapes_width} need",
            "lower --shapes-train, --shapes-test or --shapes-size"))
    if config.schedule == "episodes" and config.epoch_size is not None:
        needs.append((mix_memory_floor(config.epoch_size),
                      f"--epoch-size {config.epoch_size} needs", "lower --epoch-size"))
    return needs


def load_sources(config: RunConfig) -> dict:
    """Loads the data of the sources the run's tasks draw on, and no other."""
    needed = sources_needed(config.tasks)
    sources = {}
    if "mnist" in needed:
        sources["mnist"] = load_mnist(config.mnist_source, config.data_dir, config.tfds_dir,
                                      train=config.mnist_train)
    if "fashion" in needed:
        sources["fashion"] = load_fashion(config.fashion_source, config.data_fashion_dir,
                                          config.tfds_dir)
    if "dog" in needed:
        sources["dog"] = load_dogs(config.dog_source, dog_dir=config.data_dog_dir,
                                   breeds=config.dog_breeds, size=IMAGE_SIZE,
                                   test_fraction=config.dog_test_fraction,
                                   cache_dir=config.cache_dir, tfds_dir=config.tfds_dir,
                                   decoding=config.dog_decode)
    if "shapes" in needed:
        sources["shapes"] = load_shapes(height=config.shapes_height, width=config.shapes_width,
                                        train=config.shapes_train, test=config.shapes_test,
                                        seed=config.shapes_seed, cache_dir=config.cache_dir)
    return sources


def run_metadata(config: RunConfig, sources: dict) -> dict:
    """config.json: every setting, plus what is needed to reproduce and to read the run."""
    return {
        **config.to_json(),
        "code_version": code_version(),
        "tensorflow_version": tf.__version__,
        "python_version": platform.python_version(),
        "argv": sys.argv,
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "task_descriptions": {name: TASKS[name].description for name in config.tasks},
        "data": {name: arrays.describe() for name, arrays in sources.items()},
    }


def run_experiment(config: RunConfig, progress_stream=None, resume: bool = False,
                   restart: bool = False, on_checkpoint: Callable[[], None] | None = None
                   ) -> str:
    """Trains and evaluates one run as `config` says; returns the run directory. With
    `resume`, continues the run in log_dir/run_name from its latest checkpoint; with
    `restart`, starts that unfinished run afresh in its directory (what it had written is
    removed once the new start is ready). A run directory is written by one process at a
    time (RunDirLock). `on_checkpoint` is called after each checkpoint is written (a Ray
    run copies its directory to the sweep's storage)."""
    with contextlib.ExitStack() as held:
        existing = os.path.join(config.log_dir, config.run_name or "")
        if resume or restart:
            held.callback(RunDirLock(existing).release)
            _check_unfinished(existing, resume)
        check_memory(config)
        tf.get_logger().setLevel("WARNING")  # TensorFlow's per-checkpoint INFO lines.
        configure_devices(config.gpu)
        tf.keras.utils.set_random_seed(config.seed)
        if config.deterministic:
            tf.config.experimental.enable_op_determinism()
        sources = load_sources(config)
        metadata = None if resume else run_metadata(config, sources)
        tasks = build_tasks(config.tasks, sources=sources, input_style=config.input_style,
                            seed=config.seed,
                            task_signal=config.task_signal or config.head == "per-task",
                            signal_scale=config.task_signal_scale,
                            all_channels=config.kernels == "plain", labels=config.labels,
                            pad=config.image_pad, normalize=config.normalize,
                            batch=config.batch)
        del sources  # The tasks hold their own copy, as tensors.
        model, optimizer, methods = _model_and_optimizer(config, tasks)
        schedule = _schedule(config, tasks, methods)
        if metadata is not None:
            metadata.update(schedule.describe())
        if resume or restart:
            if restart:
                clear_run_dir(existing)
            # Resuming, the log is cut back only once the checkpoint is restored (Run.__init__).
            log = held.enter_context(_start_log(existing, config, metadata,
                                                f"--restart {existing} again"))
        else:
            log = held.enter_context(_start_run(config, metadata, held))
        return _train(config, tasks, model, optimizer, methods, schedule, log, progress_stream,
                      resume, on_checkpoint)


def _train(config: RunConfig, tasks: list[Task], model, optimizer, methods: Methods,
           schedule, log: RunLog, progress_stream, resume: bool, on_checkpoint) -> str:
    try:
        run = Run(config, tasks, model, optimizer, log, schedule, methods, resume=resume,
                  progress_stream=progress_stream, on_checkpoint=on_checkpoint)
        with StopRequests() as stop:
            summary = run.run(stop)
        log.write_summary(summary)
    except (tf.errors.ResourceExhaustedError, MemoryError) as e:
        log.write_summary({"status": "failed", "error": f"out of memory: {first_line(e)}"})
        raise UserError(f"TensorFlow ran out of memory ({first_line(e, 120)}); lower --batch "
                        "or the network's widths and start a new run (summary.json says "
                        "failed)") from None
    except RunInterrupted:
        log.write_summary({"status": "interrupted", "resume_with": f"--resume {log.run_dir}"})
        raise
    except KeyboardInterrupt:  # Ctrl-C before the stop signals were taken over.
        again = f"--resume {log.run_dir}" if resume else f"--restart {log.run_dir}"
        log.write_summary({"status": "interrupted", "resume_with": again})
        raise RunInterrupted(f"interrupted while starting, before the run's first step; "
                             f"start it again with {again}", signal.SIGINT) from None
    return log.run_dir


def _schedule(config: RunConfig, tasks: list[Task], methods: Methods):
    """The run's schedule: a task-free stream's one pass, criterion episodes, or switching."""
    if is_task_free(tasks, methods):
        return TaskFreeSchedule(config, tasks, methods)
    return (EpisodeSchedule if config.schedule == "episodes" else SwitchSchedule)(
        config, tasks, methods)


def _model_and_optimizer(config: RunConfig, tasks: list[Task]):
    model = build_model(config.network,
                        input_shape=(*tasks[0].image_shape, input_channels(config.input_style)),
                        num_classes=task_classes(config.tasks, config.labels),
                        conv_filters=config.conv_filters, fc_units=config.fc_units,
                        norm=config.norm, keep_prob=config.dropout, seed=config.seed,
                        init=config.init,
                        task_signal=len(config.tasks) if config.task_signal else 0,
                        heads=len(config.tasks) if config.head == "per-task" else 1,
                        carried=tasks[0].carried, kernels=config.kernels)
    methods = build_methods(config, model, tasks)
    optimizer = make_optimizer(config.optimizer, config.learning_rate,
                               fused=config.kernels == "fast", drops=config.learning_rate_drops,
                               drop=config.learning_rate_drop)
    optimizer.build(model.trainable_variables + methods.trained_variables)
    return model, optimizer, methods


def _check_unfinished(run_dir: str, resume: bool) -> None:
    """Refuses to resume or restart a completed run, and to resume one without a checkpoint."""
    if is_complete(run_dir):
        raise UserError(f"{run_dir} has completed; there is nothing to "
                        f"{'resume' if resume else 'restart'} (a new run needs a new --run-name)")
    if resume and latest_state(run_dir) is None:
        raise UserError(f"{run_dir} has no checkpoint to resume from (it stopped before its "
                        f"first); start it afresh in place with --restart {run_dir}")


def config_from_run_dir(run_dir: str) -> RunConfig:
    """The RunConfig of an existing run, from its config.json, placed where it now lies."""
    saved = read_config(run_dir, "point --resume or --restart at a run directory")
    _check_task_meanings(run_dir, saved)
    fields = {f.name for f in dataclasses.fields(RunConfig)}
    settings = {k: v for k, v in saved.items() if k in fields}
    wrong = mistyped(settings)
    if wrong:
        raise UserError(f"{run_dir}: its {CONFIG_FILE} holds a value of the wrong type "
                        f"({', '.join(wrong)}); mend it by hand as its flag would take it "
                        "(see --help), or start a new run")
    run_dir = os.path.normpath(run_dir)
    settings.update(log_dir=os.path.dirname(run_dir) or ".", run_name=os.path.basename(run_dir))
    return RunConfig(**settings)


def _check_task_meanings(run_dir: str, saved: dict) -> None:
    """Refuses to resume a run whose tasks meant something else when it was made (`inv` and
    `ref` became the original code's readings in 2026-12), so that no run changes task
    midway."""
    for name, then in saved.get("task_descriptions", {}).items():
        now = TASKS[name].description if name in TASKS else None
        if now != then:
            raise UserError(
                f"{run_dir}: its task {name!r} meant {then!r} when the run was made "
                f"and {'is unknown' if now is None else f'now means {now!r}'} here; resume it "
                f"with the code that made it ({saved.get('code_version', 'see config.json')}) "
                "or start it afresh")
