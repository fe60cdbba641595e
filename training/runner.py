"""Runs one experiment: builds tasks and model from a RunConfig, trains on the schedule, logs."""

import os
import platform
import subprocess
import sys
import time

import tensorflow as tf

from data import load_dogs, load_mnist, load_shapes
from errors import UserError
from models import build_model
from tasks import TASKS, Task, build_tasks, input_channels, sources_needed, task_classes
from training.config import RunConfig
from training.episodes import train_episodes
from training.progress import Progress
from training.run_log import RunLog, create_run_dir, mean, evaluation_record
from training.schedule import Schedule
from training.steps import evaluate, make_optimizer, train_step

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


def load_sources(config: RunConfig) -> dict:
    """Loads the data of the sources the run's tasks draw on, and no other."""
    needed = sources_needed(config.tasks)
    sources = {}
    if "mnist" in needed:
        sources["mnist"] = load_mnist(config.mnist_source, config.data_dir, config.tfds_dir)
    if "dog" in needed:
        sources["dog"] = load_dogs(config.dog_source, dog_dir=config.data_dog_dir,
                                   breeds=config.dog_breeds, size=IMAGE_SIZE,
                                   test_fraction=config.dog_test_fraction,
                                   cache_dir=config.cache_dir, tfds_dir=config.tfds_dir)
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


def run_experiment(config: RunConfig, progress_stream=sys.stderr) -> str:
    """Trains and evaluates one run as `config` says; returns the run directory."""
    configure_devices(config.gpu)
    tf.keras.utils.set_random_seed(config.seed)
    sources = load_sources(config)
    tasks = build_tasks(config.tasks, sources=sources, input_style=config.input_style,
                        seed=config.seed, task_signal=config.task_signal,
                        signal_scale=config.task_signal_scale)
    image_shape = tuple(tasks[0].train.images.shape[1:3])
    model = build_model(config.network,
                        input_shape=(*image_shape, input_channels(config.input_style)),
                        num_classes=task_classes(config.tasks),
                        conv_filters=config.conv_filters, fc_units=config.fc_units,
                        norm=config.norm, keep_prob=config.dropout, seed=config.seed,
                        init=config.init,
                        task_signal=len(config.tasks) if config.task_signal else 0)
    optimizer = make_optimizer(config.optimizer, config.learning_rate)
    optimizer.build(model.trainable_variables)
    log = RunLog(_make_run_dir(config), config.tasks, run_metadata(config, sources))
    episodic = config.schedule == "episodes"
    progress = (Progress(len(tasks), progress_stream, unit="episodes") if episodic
                else Progress(config.max_steps, progress_stream))
    try:
        train = train_episodes if episodic else _train
        summary = train(config, tasks, model, optimizer, log, progress)
        log.write_summary(summary)
    finally:
        progress.close()
        log.close()
    return log.run_dir


def _train(config: RunConfig, tasks: list[Task], model, optimizer, log: RunLog,
           progress: Progress) -> dict:
    """The training loop: every step trains; evaluation every test_frequency steps and at the end."""
    schedule = Schedule(config.tasks, config.task_time)
    batches = {task.name: iter(task.train_batches(config.batch)) for task in tasks}
    start = time.monotonic()
    train_time = eval_time = 0.0
    window = []
    results = {}
    for step in range(config.max_steps + 1):
        if step % config.test_frequency == 0 or step == config.max_steps:
            tick = time.monotonic()
            results = evaluate(model, tasks, config.test_examples)
            eval_time += time.monotonic() - tick
            log.write(evaluation_record(step, schedule.task_at(min(step, config.max_steps - 1)),
                                   results, time.monotonic() - start))
            progress.update(step, schedule.task_at(min(step, config.max_steps - 1)),
                            {name: r["accuracy"] for name, r in results.items()})
        if step == config.max_steps:
            break
        tick = time.monotonic()
        active = schedule.task_at(step)
        images, labels = next(batches[active])
        window.append(train_step(model, optimizer, images, labels))
        if _window_ends(step, config, schedule):
            losses, accuracies = zip(*window)
            window = []
            log.write({"step": step, "kind": "train", "active_task": active,
                       "train_accuracy": float(tf.reduce_mean(accuracies)),
                       "loss": float(tf.reduce_mean(losses)), "steps": len(losses),
                       "wall_time": time.monotonic() - start})
            progress.update(step + 1, active)
        train_time += time.monotonic() - tick
    wall_time = time.monotonic() - start
    return {
        "status": "completed",
        "steps": config.max_steps,
        "final_test_accuracy": {name: r["accuracy"] for name, r in results.items()},
        "final_test_accuracy_all": mean([r["accuracy"] for r in results.values()]),
        "wall_time_s": wall_time,
        "train_time_s": train_time,
        "eval_time_s": eval_time,
        "steps_per_second": config.max_steps / train_time if train_time else None,
    }


def _window_ends(step: int, config: RunConfig, schedule: Schedule) -> bool:
    """A train record closes every train_summary_frequency steps, at a task switch, and at the end."""
    following = step + 1
    return (following % config.train_summary_frequency == 0
            or following == config.max_steps
            or schedule.task_at(following) != schedule.task_at(step))
