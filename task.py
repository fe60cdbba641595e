"""Trains one network on a sequence of tasks, switching task every --task-time steps.

    python task.py --tasks id inv --task-time 500 --max-steps 3000

or, as the ten-task paper, one criterion episode per task with replay:

    python task.py --schedule episodes --network shapes-paper --task-signal \
        --tasks shapes-colour-red shapes-colour-blue shapes-colour-green

Each run writes a directory under --log-dir (config.json, metrics.jsonl,
summary.json and TensorBoard events) and prints its path at the end. See
README.md for the tasks, the flags and where they follow the original code.
"""

import sys

import runtime

runtime.prepare_process()  # Before TensorFlow is first imported.
try:
    runtime.import_tensorflow()  # Its start-up lines kept out (TF_CPP_MIN_LOG_LEVEL=0 shows them).
except KeyboardInterrupt:
    print("task.py: interrupted while starting; nothing was written", file=sys.stderr)
    sys.exit(130)

from absl import app  # noqa: E402
from absl.flags import argparse_flags  # noqa: E402

from errors import RunInterrupted, UserError  # noqa: E402

DEFAULTS = None  # Filled from RunConfig on first parse, so --help shows the true defaults.


class _OneLineErrorParser(argparse_flags.ArgumentParser):
    """Reports a bad command line in one line that points at --help."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}; see --help\n")


def parse_flags(argv: list[str]):
    from data.shapes import SIZES
    from models import INITS, NETWORKS
    from tasks import INPUT_STYLES, TASKS, known_tasks
    from training import OPTIMIZERS, SCHEDULES, RunConfig

    d = RunConfig()
    parser = _OneLineErrorParser(
        description="Train one network on a sequence of tasks, switching task every "
                    "--task-time steps (or in criterion episodes), and log every task's "
                    "test accuracy.",
        epilog="Tasks: " + "; ".join(f"{name}: {spec.description}"
                                     for name, spec in TASKS.items()
                                     if spec.source != "shapes")
               + "; shapes-DIMENSION-FEATURE: shapes scenes, is there an object with the "
                 "feature? (yes/no)")
    add = parser.add_argument
    add("--tasks", nargs="+", default=list(d.tasks), metavar="TASK",
        help=f"tasks in schedule order (default: {' '.join(d.tasks)}); {known_tasks()}")
    add("--schedule", default=d.schedule,
        help=f"one of {', '.join(SCHEDULES)}: switch task every --task-time steps (the "
             "blog), or the ten-task paper's episodes, episode i training tasks 1..i until "
             "all reach --criterion (default: %(default)s)")
    add("--mode", default=d.mode,
        help="switch: the active task trains, a new one every --task-time steps (the "
             "original); joint: every step sums the losses of one batch of each task; "
             "alternate: a different task every step (default: %(default)s)")
    add("--loss-weighting", default=d.loss_weighting,
        help="--mode joint: equal (a plain sum), fixed (--loss-weights) or uncertainty "
             "(learned per-task weights, Kendall et al. 2018) (default: %(default)s)")
    add("--loss-weights", type=float, nargs="+", metavar="W",
        help="--loss-weighting fixed: one weight per task, in --tasks order")
    add("--pcgrad", action="store_true",
        help="--mode joint: PCGrad (Yu et al. 2020): project each task's gradient off the "
             "ones it conflicts with before summing")
    add("--ewc-lambda", type=float, default=d.ewc_lambda,
        help="--mode switch: elastic weight consolidation's strength (Kirkpatrick et al. "
             "2017); each task is consolidated as its period ends; 0: off "
             "(default: %(default)s)")
    add("--replay-size", type=int, default=d.replay_size,
        help="--mode switch: keep this many training examples of past tasks (shared equally) "
             "and replay them as half of every batch; 0: off (default: %(default)s)")
    add("--task-time", type=int, default=d.task_time,
        help="switch: steps on one task before switching to the next (default: %(default)s)")
    add("--max-steps", type=int, default=d.max_steps,
        help="switch: training steps in all (default: %(default)s)")
    add("--criterion", type=float, default=d.criterion,
        help="episodes: held-out accuracy every trained task must reach, judged at the end "
             "of each epoch (default: %(default)s)")
    add("--epoch-size", type=int, default=d.epoch_size,
        help="episodes: training examples an epoch, half of them the newest task's "
             "(default: the training set's size)")
    add("--max-epochs", type=int, default=d.max_epochs,
        help="episodes: an episode that has not met the criterion ends after this many "
             "epochs (default: %(default)s)")
    add("--batch", type=int, default=d.batch, help="batch size (default: %(default)s)")
    add("--learning-rate", type=float, default=d.learning_rate,
        help="learning rate (default: %(default)s, the original code's; its blog says 0.1)")
    add("--dropout", type=float, default=d.dropout,
        help="KEEP probability of dropout after each conv layer, as the original "
             "(default: %(default)s; 1 disables dropout)")
    add("--optimizer", default=d.optimizer,
        help=f"one of {', '.join(OPTIMIZERS)} (default: %(default)s)")
    add("--network", nargs="+", default=list(d.network), metavar="LAYER",
        help="layer kinds (conv, conv3, fc; optionally KIND:WIDTH), convs first, ending in "
             "the fc output layer: e.g. conv fc, fc fc, conv conv fc; or a named network: "
             f"{', '.join(NETWORKS)} (default: %(default)s)")
    add("--conv-filters", type=int, default=d.conv_filters,
        help="filters of the first conv layer; each later conv has twice as many "
             "(default: %(default)s)")
    add("--fc-units", type=int, default=d.fc_units,
        help="units of each hidden fc layer (default: %(default)s)")
    add("--norm", default=d.norm,
        help="normalisation after each conv block: lrn (the original code), batch (the "
             "blog's text) or none (default: %(default)s)")
    add("--init", default=d.init,
        help=f"initial weights, one of {', '.join(INITS)}: the original's, or He-normal "
             "(for deep fc stacks such as shapes-paper) (default: %(default)s)")
    add("--task-signal", action="store_true",
        help="give the network each example's task as a one-hot vector, concatenated to "
             "the input of the first fc layer (the ten-task paper's task input)")
    add("--task-signal-scale", type=float, default=d.task_signal_scale,
        help="the task signal's hot value: 1 is a plain one-hot; larger values let the "
             "signal gate the fc layers within a CPU-sized budget (default: %(default)s)")
    add("--head", default=d.head,
        help="shared: one output layer for every task (the original); per-task: one head "
             "per task on the shared layers, each example answered by its task's "
             "(default: %(default)s)")
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
    add("--mnist-train", default=d.mnist_train,
        help="original: train on the last 55,000 of MNIST's 60,000 training images, as the "
             "original (TF1's reader held the first 5,000 out as validation, never used); "
             "all: on all 60,000 (default: %(default)s)")
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
    add("--dog-decode", default=d.dog_decode,
        help="opencv: as the original's OpenCV, channels in BGR order and a bilinear resize "
             "without antialiasing; antialiased: RGB order, an antialiased resize "
             "(default: %(default)s)")
    add("--shapes-preset", choices=sorted(SIZES), default=None,
        help="sizes of the shapes scenes: " + "; ".join(
            f"{name}: {v['height']}x{v['width']}, {v['train']} + {v['test']} images"
            for name, v in SIZES.items()) + " (default: cpu); the flags below override it")
    add("--shapes-size", type=int, nargs=2, default=None, metavar=("HEIGHT", "WIDTH"),
        help=f"shapes scene size in pixels (default: {d.shapes_height} {d.shapes_width})")
    add("--shapes-train", type=int, default=None,
        help=f"shapes training scenes (default: {d.shapes_train})")
    add("--shapes-test", type=int, default=None,
        help=f"shapes held-out scenes (default: {d.shapes_test})")
    add("--shapes-seed", type=int, default=d.shapes_seed,
        help="seed of the shapes scenes, apart from --seed so that runs share them "
             "(default: %(default)s)")
    add("--cache-dir", default=d.cache_dir,
        help="where decoded dog images and drawn shapes scenes are cached (default: "
             "$XDG_CACHE_HOME or ~/.cache, then multiple-tasks)")
    add("--log-dir", default=d.log_dir,
        help="where run directories are made (default: %(default)s)")
    add("--run-name", default=d.run_name,
        help="name of this run's directory (default: date, tasks, network, task time, "
             "optimizer and seed)")
    add("--checkpoint-every", type=int, default=d.checkpoint_every,
        help="switch: checkpoint every N steps (0: only when stopped by SIGTERM or SIGINT, "
             "which always checkpoint); episodic runs checkpoint at every epoch's end "
             "(default: %(default)s)")
    add("--resume", metavar="RUN_DIR",
        help="continue a stopped run from its latest checkpoint (or, if that cannot be read, "
             "the one before), with its own settings (its config.json; other flags are not "
             "read)")
    add("--restart", metavar="RUN_DIR",
        help="start an unfinished run afresh in its own directory, with its own settings: "
             "what it had logged and checkpointed is removed (for a run stopped before its "
             "first checkpoint, which cannot be resumed)")
    add("--nondeterministic", action="store_true",
        help="turn off TensorFlow's op determinism (on by default, so that a seed gives the "
             "same numbers), for speed on a GPU")
    add("--gpu", action="store_true",
        help="run on the GPU (an error if none is visible); without it, the CPU")
    return parser.parse_args(argv[1:])


def shapes_settings(args) -> dict:
    """The shapes sizes: the preset's (cpu by default), each overridden by its own flag."""
    from data.shapes import SIZES

    preset = SIZES[args.shapes_preset or "cpu"]
    height, width = args.shapes_size or (preset["height"], preset["width"])
    return {"shapes_height": height, "shapes_width": width,
            "shapes_train": args.shapes_train or preset["train"],
            "shapes_test": args.shapes_test or preset["test"], "shapes_seed": args.shapes_seed}


def config_from_flags(args):
    from training import RunConfig

    return RunConfig(
        tasks=tuple(args.tasks), schedule=args.schedule, mode=args.mode,
        loss_weighting=args.loss_weighting,
        loss_weights=tuple(args.loss_weights) if args.loss_weights else None,
        pcgrad=args.pcgrad, ewc_lambda=args.ewc_lambda, replay_size=args.replay_size,
        task_time=args.task_time,
        max_steps=args.max_steps, criterion=args.criterion, epoch_size=args.epoch_size,
        max_epochs=args.max_epochs,
        batch=args.batch, learning_rate=args.learning_rate, dropout=args.dropout,
        optimizer=args.optimizer, network=tuple(args.network),
        conv_filters=args.conv_filters, fc_units=args.fc_units, norm=args.norm,
        init=args.init, task_signal=args.task_signal, task_signal_scale=args.task_signal_scale,
        head=args.head,
        input_style=args.input_style, test_frequency=args.test_frequency,
        test_examples=args.test_examples,
        train_summary_frequency=args.train_summary_frequency, seed=args.seed,
        mnist_source=args.mnist_source, mnist_train=args.mnist_train, data_dir=args.data_dir,
        tfds_dir=args.tfds_dir,
        data_dog_dir=args.data_dog_dir, dog_source=args.dog_source,
        dog_breeds=tuple(args.dog_breeds) if args.dog_breeds else None,
        dog_test_fraction=args.dog_test_fraction, dog_decode=args.dog_decode,
        **shapes_settings(args),
        cache_dir=args.cache_dir, log_dir=args.log_dir, run_name=args.run_name,
        checkpoint_every=args.checkpoint_every, deterministic=not args.nondeterministic,
        gpu=args.gpu)


def main(args):
    from training import config_from_run_dir, run_experiment

    try:
        if args.resume and args.restart:
            raise UserError("give --resume or --restart, not both")
        if args.resume or args.restart:
            run_dir = run_experiment(config_from_run_dir(args.resume or args.restart),
                                     resume=bool(args.resume), restart=bool(args.restart))
        else:
            run_dir = run_experiment(config_from_flags(args))
    except UserError as e:
        sys.exit(f"task.py: error: {e}")
    except RunInterrupted as e:
        print(f"task.py: {e}", file=sys.stderr)
        sys.exit(128 + e.signal_number)
    except KeyboardInterrupt:  # Ctrl-C before a run directory was made.
        print("task.py: interrupted while starting; nothing was written", file=sys.stderr)
        sys.exit(130)
    print(run_dir)


if __name__ == "__main__":
    app.run(main, flags_parser=parse_flags)
