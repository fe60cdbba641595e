"""Trains one network on a sequence of tasks, switching task every --task-time steps.

    python task.py --tasks id inv --task-time 500 --max-steps 3000

Each run writes a directory under --log-dir (config.json, metrics.jsonl,
summary.json and TensorBoard events) and prints its path at the end. See
README.md for the tasks, the flags and where they follow the original code.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # Before TensorFlow is first imported.

import sys  # noqa: E402

from absl import app  # noqa: E402
from absl.flags import argparse_flags  # noqa: E402

from errors import UserError  # noqa: E402

DEFAULTS = None  # Filled from RunConfig on first parse, so --help shows the true defaults.


class _OneLineErrorParser(argparse_flags.ArgumentParser):
    """Reports a bad command line in one line that points at --help."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}; see --help\n")


def parse_flags(argv: list[str]):
    from tasks import INPUT_STYLES, TASKS
    from training import OPTIMIZERS, RunConfig

    d = RunConfig()
    parser = _OneLineErrorParser(
        description="Train one network on a sequence of tasks, switching task every "
                    "--task-time steps, and log every task's test accuracy.",
        epilog="Tasks: " + "; ".join(f"{name}: {spec.description}"
                                     for name, spec in TASKS.items()))
    add = parser.add_argument
    add("--tasks", nargs="+", default=list(d.tasks), metavar="TASK",
        help=f"tasks in schedule order (default: {' '.join(d.tasks)}); one of: {' '.join(TASKS)}")
    add("--task-time", type=int, default=d.task_time,
        help="steps on one task before switching to the next (default: %(default)s)")
    add("--max-steps", type=int, default=d.max_steps,
        help="training steps in all (default: %(default)s)")
    add("--batch", type=int, default=d.batch, help="batch size (default: %(default)s)")
    add("--learning-rate", type=float, default=d.learning_rate,
        help="learning rate (default: %(default)s, the original code's; its blog says 0.1)")
    add("--dropout", type=float, default=d.dropout,
        help="KEEP probability of dropout after each conv layer, as the original "
             "(default: %(default)s; 1 disables dropout)")
    add("--optimizer", default=d.optimizer,
        help=f"one of {', '.join(OPTIMIZERS)} (default: %(default)s)")
    add("--network", nargs="+", default=list(d.network), metavar="LAYER",
        help="layer kinds, convs first, ending in the fc output layer: e.g. conv fc, "
             "fc fc, conv conv fc (default: %(default)s)")
    add("--conv-filters", type=int, default=d.conv_filters,
        help="filters of the first conv layer; each later conv has twice as many "
             "(default: %(default)s)")
    add("--fc-units", type=int, default=d.fc_units,
        help="units of each hidden fc layer (default: %(default)s)")
    add("--norm", default=d.norm,
        help="normalisation after each conv block: lrn (the original code), batch (the "
             "blog's text) or none (default: %(default)s)")
    add("--input-style", default=d.input_style,
        help=f"one of {', '.join(INPUT_STYLES)}: greyscale in channel 0 of 3, or of 4 with "
             "colour in 1-3 (default: %(default)s)")
    add("--test-frequency", type=int, default=d.test_frequency,
        help="evaluate every task's test set every this many steps, and at the end "
             "(default: %(default)s)")
    add("--test-examples", type=int, default=d.test_examples,
        help="evaluate on each task's first N test examples, a fixed subset (default: all)")
    add("--train-summary-frequency", type=int, default=d.train_summary_frequency,
        help="log mean train accuracy and loss every this many steps (default: %(default)s)")
    add("--seed", type=int, default=d.seed, help="random seed (default: %(default)s)")
    add("--mnist-source", default=d.mnist_source,
        help="idx: IDX files from --data-dir; tfds: tensorflow-datasets 'mnist' "
             "(default: %(default)s)")
    add("--data-dir", default=d.data_dir,
        help="folder with the four MNIST IDX files, gzipped or not (default: the copy "
             "bundled in data/mnist)")
    add("--tfds-dir", default=d.tfds_dir,
        help="tensorflow-datasets data directory for --mnist-source tfds (default: tfds's own)")
    add("--data-dog-dir", default=d.data_dog_dir,
        help="dog images for the dog task: Kaggle dog-breed-identification (labels.csv, "
             "train/<id>.jpg) or one folder per breed (<dir>/<breed>/*.jpg)")
    add("--dog-source", default=d.dog_source,
        help="dir: --data-dog-dir; tfds: tensorflow-datasets stanford_dogs (default: %(default)s)")
    add("--dog-breeds", nargs="+", default=d.dog_breeds, metavar="BREED",
        help="2 to 10 breeds for the dog task (default: the first ten by name)")
    add("--dog-test-fraction", type=float, default=d.dog_test_fraction,
        help="share of each breed's images held out for testing (default: %(default)s)")
    add("--cache-dir", default=d.cache_dir,
        help="where decoded dog images are cached (default: $XDG_CACHE_HOME or "
             "~/.cache, then multiple-tasks)")
    add("--log-dir", default=d.log_dir,
        help="where run directories are made (default: %(default)s)")
    add("--run-name", default=d.run_name,
        help="name of this run's directory (default: date, tasks, network, task time, "
             "optimizer and seed)")
    add("--gpu", action="store_true",
        help="run on the GPU (an error if none is visible); without it, the CPU")
    return parser.parse_args(argv[1:])


def config_from_flags(args):
    from training import RunConfig

    return RunConfig(
        tasks=tuple(args.tasks), task_time=args.task_time, max_steps=args.max_steps,
        batch=args.batch, learning_rate=args.learning_rate, dropout=args.dropout,
        optimizer=args.optimizer, network=tuple(args.network),
        conv_filters=args.conv_filters, fc_units=args.fc_units, norm=args.norm,
        input_style=args.input_style, test_frequency=args.test_frequency,
        test_examples=args.test_examples,
        train_summary_frequency=args.train_summary_frequency, seed=args.seed,
        mnist_source=args.mnist_source, data_dir=args.data_dir, tfds_dir=args.tfds_dir,
        data_dog_dir=args.data_dog_dir, dog_source=args.dog_source,
        dog_breeds=tuple(args.dog_breeds) if args.dog_breeds else None,
        dog_test_fraction=args.dog_test_fraction, cache_dir=args.cache_dir, log_dir=args.log_dir, run_name=args.run_name,
        gpu=args.gpu)


def main(args):
    from training import run_experiment

    try:
        run_dir = run_experiment(config_from_flags(args))
    except UserError as e:
        sys.exit(f"task.py: error: {e}")
    print(run_dir)


if __name__ == "__main__":
    app.run(main, flags_parser=parse_flags)
