"""RunConfig: every setting of one run, declared once with its flag, frozen, checked when made.

Each field carries its command-line flag as metadata (`setting`): the help text, the
group it is listed under, and argparse options where the field's type does not say
them. task.py's parser, its --help and docs/flags.md's flag table are generated from
these fields (training.flags). TensorFlow-free, so that a sweep is planned without it.
"""

import dataclasses
import math
import types
import typing
from typing import Mapping

from data.dogs import SOURCES as DOG_SOURCES
from data.image_folders import DECODINGS as DOG_DECODINGS
from data.mnist_loader import SOURCES as MNIST_SOURCES
from data.mnist_loader import TRAIN_SPLITS as MNIST_TRAIN_SPLITS
from data.shapes import SIZES as SHAPES_SIZES
from errors import UserError
from models.spec import INITS, KERNELS, NETWORKS, NORMS, parse_network
from tasks.input_style import INPUT_STYLES
from tasks.registry import check_task_names, sources_needed

OPTIMIZERS = ("sgd", "momentum", "adam", "rmsprop", "adagrad")
SCHEDULES = ("switch", "episodes")
HEADS = ("shared", "per-task")
MODES = ("switch", "joint", "alternate", "offline")
LABELS = ("task", "global")
LOSS_CLASSES = ("all", "seen")
LOSS_WEIGHTINGS = ("equal", "fixed", "uncertainty")
LWF_FORMS = ("li-hoiem", "van-de-ven")
MAX_SEED = 2**32 - 1
MAX_INT64 = 2**63 - 1

# The groups of --help and of docs/flags.md's flag table, in their order.
GROUPS = {
    "schedule": "what trains, in what order, for how long",
    "method": "training modes and forgetting mitigations",
    "model": "the network and its optimiser",
    "data": "where the images come from",
    "evaluation": "evaluation and logging",
    "run": "the run: seed, directory, checkpoints, device",
}


def setting(default, group: str, help: str, **flag) -> dataclasses.Field:
    """A RunConfig field with its flag: `help` (the default is appended, or `shown`, the
    default in words), its `group`, and argparse options its type does not give
    (`metavar`, `nargs`); `flag`: the flag's name if not the field's, None for a field set
    by another flag (`sets`: the further fields a flag of several values fills);
    `negated`: a switch that turns the field off; `choices`: the allowed values;
    `schedule`: the only --schedule that reads the field (a flag for another is refused)."""
    assert group in GROUPS, group
    return dataclasses.field(default=default, metadata={"group": group, "help": help, **flag})


def kernels_for(gpu: bool) -> str:
    """The kernels a run uses unless told: on a CPU the fast ones, which do less work than
    Keras's layers (their measurements: docs/speed.md); on a GPU Keras's own, whose conv,
    pool and LRN are cuDNN's and whose ops TensorFlow places and fuses for the device:
    the fast kernels were written and measured for a CPU's cores, not a GPU's."""
    return "plain" if gpu else "fast"


@dataclasses.dataclass(frozen=True)
class Preset:
    """A flag that sets several settings at once; each setting's own flag overrides it."""

    flag: str
    group: str
    help: str
    values: Mapping[str, Mapping[str, object]]  # choice -> {field: value}
    default: str


SHAPES_PRESET = Preset(
    "shapes-preset", "data",
    "sizes of the shapes scenes: " + "; ".join(
        f"{name}: {v['height']}x{v['width']}, {v['train']} + {v['test']} images"
        for name, v in SHAPES_SIZES.items()) + "; the flags below override it",
    {name: {"shapes_height": v["height"], "shapes_width": v["width"],
            "shapes_train": v["train"], "shapes_test": v["test"]}
     for name, v in SHAPES_SIZES.items()},
    default="cpu")
# The three scenarios of Hsu et al. 2018 and van de Ven and Tolias 2019.
SCENARIO_PRESET = Preset(
    "scenario", "schedule",
    "the continual-learning scenario: task (task-incremental: a head per task, the task "
    "given), domain (one head for every task, each task's classes numbered from 0: the "
    "blog's switching), class (class-incremental: one head over every task's classes, "
    "the loss over those seen so far); --labels, --head and --loss-classes override it",
    {"task": {"labels": "task", "head": "per-task", "loss_classes": "all"},
     "domain": {"labels": "task", "head": "shared", "loss_classes": "all"},
     "class": {"labels": "global", "head": "shared", "loss_classes": "seen"}},
    default="domain")
PRESETS = (SCENARIO_PRESET, SHAPES_PRESET)
_CPU = SHAPES_PRESET.values["cpu"]


@dataclasses.dataclass(frozen=True)
class RunConfig:
    """One run. Defaults follow the original code; docs/fidelity.md gives each choice."""

    tasks: tuple[str, ...] = setting(
        ("id",), "schedule", "tasks in schedule order (the names: docs/tasks-and-data.md, "
                   "or the end of --help)", metavar="TASK")
    labels: str = setting("task", "schedule", choices=LABELS, help=(
        "task: each task's classes numbered from 0 (Split MNIST's 2 and 3 are 0 and 1); "
        "global: the source's own classes (the digits); the same for tasks of every class"))
    schedule: str = setting(
        "switch", "schedule",
        "switch: a new task every --task-time steps (the blog); episodes: the ten-task "
        "paper's criterion episodes, episode i training tasks 1..i until all reach "
        "--criterion", choices=SCHEDULES)
    task_time: int = setting(
        2000, "schedule", "switch: steps on one task before switching to the next",
        schedule="switch")
    max_steps: int = setting(25000, "schedule", "switch: training steps in all",
                             schedule="switch")
    task_epochs: int | None = setting(None, "schedule", shown="none: --task-time", help=(
        "switch: train each task for this many epochs of its training set (with rehearsal, "
        "of the set and the memory), once through the tasks, in place of --task-time and "
        "--max-steps: E epochs are ceil(E x examples / --batch) steps, an epoch's last "
        "batch completed from the next epoch's order; offline: E epochs of every task's "
        "set together"))
    criterion: float = setting(
        0.95, "schedule", "episodes: held-out accuracy every trained task must reach, "
                          "judged at the end of each epoch", schedule="episodes")
    epoch_size: int | None = setting(
        None, "schedule", "episodes: training examples an epoch, half of them the newest "
                          "task's", shown="the training set's size", schedule="episodes")
    max_epochs: int = setting(
        50, "schedule", "episodes: an episode that has not met the criterion ends after "
                        "this many epochs", schedule="episodes")
    mode: str = setting(
        "switch", "method", choices=MODES,
        help="switch: the active task trains, a new one every --task-time steps (the "
             "original); joint: every step sums the losses of one batch of each task; "
             "alternate: a different task every step; offline: every task's training "
             "examples as one shuffled set (the upper bound of continual learning)")
    loss_weighting: str = setting(
        "equal", "method",
        "--mode joint: equal (a plain sum), fixed (--loss-weights) or uncertainty (learned "
        "per-task weights, Kendall et al. 2018)", choices=LOSS_WEIGHTINGS)
    loss_weights: tuple[float, ...] | None = setting(
        None, "method", "--loss-weighting fixed: one weight per task, in --tasks order",
        metavar="W", shown="none")
    loss_classes: str = setting("all", "method", choices=LOSS_CLASSES, help=(
        "all: the training loss over every output class; seen: over the classes of the "
        "tasks trained so far, the others' logits left out (class-incremental training, "
        "as Hsu et al. 2018)"))
    pcgrad: bool = setting(
        False, "method", "--mode joint: PCGrad (Yu et al. 2020): project each task's "
                         "gradient off the ones it conflicts with before summing")
    ewc_lambda: float = setting(
        0.0, "method", "--mode switch: elastic weight consolidation's strength (Kirkpatrick "
                       "et al. 2017); each task is consolidated as its period ends; 0: off")
    ewc_online: bool = setting(False, "method", help=(
        "--ewc-lambda: online EWC (Schwarz et al. 2018, as Hsu et al. 2018): one Fisher, the "
        "sum of every ended period's, and one anchor, the weights as the latest ended"))
    ewc_fisher_examples: int = setting(200, "method", help=(
        "--ewc-lambda: training examples of the ended task whose squared gradients estimate "
        "its Fisher (0: all of them, as Hsu et al.)"))
    ewc_fisher_labels: str = setting("true", "method", choices=("true", "predicted"), help=(
        "--ewc-lambda: the Fisher's gradients at each example's true label (the empirical "
        "Fisher) or at the label the network predicts (Hsu et al.)"))
    l2_lambda: float = setting(
        0.0, "method", "--mode switch: L2's strength (Hsu et al. 2018): lambda * sum of "
                       "(weight - its value as the last period ended)^2; 0: off")
    si_c: float = setting(0.0, "method", help=(
        "--mode switch: synaptic intelligence's strength c (Zenke et al. 2017): c * sum of "
        "importance * (weight - its value as the last period ended)^2; 0: off"))
    si_damping: float = setting(0.1, "method", help=(
        "--si-c: the damping xi of each importance, w / (change^2 + xi) (Hsu et al. 2018's "
        "value)"))
    mas_lambda: float = setting(0.0, "method", help=(
        "--mode switch: memory aware synapses' strength (Aljundi et al. 2018): lambda * sum "
        "of importance * (weight - its value as the last period ended)^2, the importance "
        "how much the output moves with the weight; 0: off"))
    replay_size: int = setting(
        0, "method", "--mode switch: keep this many training examples of past tasks "
                     "(shared equally) and replay them as half of every batch; 0: off")
    lwf_lambda: float = setting(0.0, "method", help=(
        "--mode switch: learning without forgetting's strength (Li and Hoiem 2016): lambda "
        "times the cross-entropy from the network's softened answers for the earlier tasks "
        "as the last period ended to its present ones, on the new task's images; 0: off"))
    lwf_temperature: float = setting(2.0, "method", help=(
        "--lwf-lambda: the distillation's temperature T (Li and Hoiem's)"))
    lwf_form: str = setting("li-hoiem", "method", choices=LWF_FORMS, help=(
        "--lwf-lambda: li-hoiem: loss + lambda * the distillation over the earlier tasks' "
        "classes; van-de-ven (van de Ven and Tolias 2018, one shared head): at the t-th "
        "task, (1/t) * loss + (1 - 1/t) * lambda * T^2 * the distillation averaged over "
        "the batch and every class trained so far, the present task's with zero targets"))
    rehearsal_memory: int = setting(0, "method", help=(
        "--mode switch: naive rehearsal (Hsu et al. 2018): keep this many training examples "
        "of past tasks (shared equally) and train each new task on its examples and the "
        "memory's as one shuffled set; 0: off"))
    agem_memory: int = setting(0, "method", help=(
        "--mode switch: A-GEM (Chaudhry et al. 2019): keep this many training examples of "
        "past tasks (shared equally); a step that would raise the loss on a batch of them "
        "is projected so that it does not; 0: off"))
    agem_batch: int = setting(256, "method", help=(
        "--agem-memory: memory examples each step's reference gradient is taken on (the "
        "paper's 256)"))
    gem_memory: int = setting(0, "method", help=(
        "--mode switch: GEM (Lopez-Paz and Ranzato 2017): keep this many training examples of "
        "past tasks (shared equally); each step's gradient is projected, by a quadratic "
        "programme (quadprog), so that no past task's memory loss rises; 0: off"))
    gem_margin: float = setting(0.5, "method", help=(
        "--gem-memory: the memory strength gamma, a floor on every constraint's dual "
        "variable (Hsu et al.'s --reg_coef 0.5)"))
    batch: int = setting(100, "model", "batch size")
    learning_rate: float = setting(
        0.01, "model", "learning rate (the original code's default; its blog says 0.1)")
    learning_rate_drops: tuple[int, ...] = setting(
        (), "model", "steps from which the learning rate is multiplied by "
                     "--learning-rate-drop, each time (PyTorch's MultiStepLR, in steps)",
        nargs="+", metavar="STEP", shown="none")
    learning_rate_drop: float = setting(
        0.1, "model", "--learning-rate-drops: the factor at each of those steps")
    dropout: float = setting(
        0.9, "model", "KEEP probability of dropout after each conv layer, as the original; "
                      "1 disables dropout")
    optimizer: str = setting(
        "sgd", "model", "sgd or adam (the original's two; Adam with TF1's epsilon 1e-8), "
                        "momentum (0.9), rmsprop, or adagrad (PyTorch's: accumulator from 0, "
                        "epsilon 1e-10)", choices=OPTIMIZERS)
    network: tuple[str, ...] = setting(
        ("conv", "fc"), "model",
        "layer kinds (conv, conv3, fc; optionally KIND:WIDTH), convs first, ending in the fc "
        "output layer: e.g. conv fc, fc fc, conv conv fc; or a named network: "
        f"{', '.join(NETWORKS)}", metavar="LAYER")
    conv_filters: int = setting(
        64, "model", "filters of the first conv layer; each later conv has twice as many")
    fc_units: int = setting(500, "model", "units of each hidden fc layer")
    norm: str = setting(
        "lrn", "model", "normalisation after each conv block: lrn (the original code), "
                        "batch (the blog's text) or none", choices=NORMS)
    init: str = setting(
        "truncated-normal", "model",
        "initial weights: the original's truncated normal; he (He-normal, for deep fc "
        "stacks such as shapes-paper); pytorch (PyTorch's default: weights and biases "
        "uniform in +-1/sqrt(fan-in), as the benchmarks of Hsu et al.); or xavier (Glorot's "
        "uniform, zero biases: Mammoth's MNIST MLP, as the DER paper)", choices=INITS)
    kernels: str = setting(
        "auto", "model",
        "fast: the layers of models.kernels (conv, pool, bias and ReLU as one layer, LRN "
        "as XLA loops, a first layer on the input channels the tasks fill) and a fused SGD "
        "update; plain: Keras's own layers and SGD on every input channel, the network as "
        "one would write it: the same function, slower on a CPU; auto: fast on the CPU, "
        "plain with --gpu (config.json records which)", choices=("auto", *KERNELS))
    input_style: str = setting(
        "combined", "model", "combined: greyscale in channel 0 of 3, RGB in all three; "
                             "channelplex: greyscale in channel 0 of 4, RGB in 1-3; grey: "
                             "one channel, greyscale tasks only",
        choices=tuple(INPUT_STYLES))
    task_signal: bool = setting(
        False, "model", "give the network each example's task as a one-hot vector, "
                        "concatenated to the input of the first fc layer (the ten-task "
                        "paper's task input)")
    task_signal_scale: float = setting(
        1.0, "model", "the task signal's hot value: 1 is a plain one-hot; larger values let "
                      "the signal gate the fc layers within a CPU-sized budget")
    head: str = setting(
        "shared", "model", "shared: one output layer for every task (the original); "
                           "per-task: one head per task on the shared layers, each example "
                           "answered by its task's", choices=HEADS)
    test_frequency: int = setting(
        100, "evaluation", "evaluate every task's test set every this many steps, and at "
                           "step 0 and the end (with --task-epochs, at every task switch "
                           "too)")
    test_examples: int | None = setting(
        None, "evaluation", "evaluate on each task's first N test examples, a fixed subset",
        shown="all")
    task_masked_accuracy: bool = setting(False, "evaluation", help=(
        "also log each task's accuracy with the other tasks' classes masked out of the "
        "shared head (task-incremental accuracy read from a class-incremental run, as "
        "Mammoth's mask_classes): test_accuracy_task_masked beside test_accuracy"))
    train_summary_frequency: int = setting(
        10, "evaluation", "log mean train accuracy and loss every this many steps")
    seed: int = setting(
        0, "run", "random seed: weights, dropout, data order, noise and permutations")
    mnist_source: str = setting(
        "idx", "data", "idx: IDX files from --data-dir; tfds: tensorflow-datasets 'mnist'",
        choices=MNIST_SOURCES)
    mnist_train: str = setting(
        "original", "data",
        "original: train on the last 55,000 of MNIST's 60,000 training images, as the "
        "original (TF1's reader held the first 5,000 out as validation, never used); all: "
        "on all 60,000", choices=tuple(MNIST_TRAIN_SPLITS))
    image_pad: int = setting(0, "data", help=(
        "zero pixels added on each side of every image (2: MNIST as 32x32, as Hsu et al.)"))
    normalize: tuple[float, float] | None = setting(
        None, "data", "standardise every (padded) image as (x - MEAN) / SD, x in [0, 1] "
                      "(Hsu et al.'s 32x32 MNIST: 0.1 0.2752)", nargs=2,
        metavar=("MEAN", "SD"), shown="none")
    data_dir: str | None = setting(
        None, "data", "folder with the four MNIST IDX files, gzipped or not",
        shown="the copy bundled in data/mnist")
    tfds_dir: str | None = setting(
        None, "data", "tensorflow-datasets data directory for --mnist-source, "
                      "--fashion-source and --dog-source tfds",
        shown="tfds's own")
    data_fashion_dir: str | None = setting(
        None, "data", "folder with Fashion-MNIST's four IDX files, gzipped or not, for the "
                      "fashion task", shown="Debian's /usr/share/datasets/fashion-mnist")
    fashion_source: str = setting(
        "idx", "data", "idx: IDX files from --data-fashion-dir; tfds: tensorflow-datasets "
                       "'fashion_mnist'", choices=MNIST_SOURCES)
    data_dog_dir: str | None = setting(
        None, "data", "dog images for the dog task: Kaggle dog-breed-identification "
                      "(labels.csv, train/<id>.jpg) or one folder per breed "
                      "(<dir>/<breed>/*.jpg)", shown="none")
    dog_source: str = setting(
        "dir", "data", "dir: --data-dog-dir; tfds: tensorflow-datasets stanford_dogs",
        choices=DOG_SOURCES)
    dog_breeds: tuple[str, ...] | None = setting(
        None, "data", "2 to 10 breeds for the dog task", metavar="BREED",
        shown="the first ten by name")
    dog_test_fraction: float = setting(
        0.1, "data", "share of each breed's images held out for testing")
    dog_decode: str = setting(
        "opencv", "data",
        "opencv: as the original's OpenCV, channels in BGR order and a bilinear resize "
        "without antialiasing; antialiased: RGB order, an antialiased resize",
        choices=DOG_DECODINGS)
    shapes_height: int = setting(
        _CPU["shapes_height"], "data", "shapes scene size in pixels", flag="shapes-size",
        nargs=2, metavar=("HEIGHT", "WIDTH"), sets=("shapes_width",),
        shown=f"{_CPU['shapes_height']} {_CPU['shapes_width']}, the cpu preset's")
    shapes_width: int = setting(_CPU["shapes_width"], "data", "", flag=None)
    shapes_train: int = setting(_CPU["shapes_train"], "data", "shapes training scenes",
                                shown=f"{_CPU['shapes_train']}, the cpu preset's")
    shapes_test: int = setting(_CPU["shapes_test"], "data", "shapes held-out scenes",
                               shown=f"{_CPU['shapes_test']}, the cpu preset's")
    shapes_seed: int = setting(
        0, "data", "seed of the shapes scenes, apart from --seed so that runs share them")
    cache_dir: str | None = setting(
        None, "data", "where decoded dog images and drawn shapes scenes are cached",
        shown="$XDG_CACHE_HOME or ~/.cache, then multiple-tasks")
    log_dir: str = setting("log", "run", "where run directories are made")
    run_name: str | None = setting(
        None, "run", "name of this run's directory; an existing one is refused",
        metavar="NAME", shown="date, tasks, network, task time, optimizer and seed")
    checkpoint_every: int = setting(
        1000, "run", "switch: checkpoint every N steps (0: only when stopped by SIGTERM or "
                     "SIGINT, which always checkpoint); episodic runs checkpoint at every "
                     "epoch's end")
    deterministic: bool = setting(
        True, "run", "turn off TensorFlow's op determinism (on by default, so that a seed "
                     "gives the same numbers), for speed on a GPU",
        flag="nondeterministic", negated=True)
    gpu: bool = setting(
        False, "run", "run on the GPU (an error if none is visible); without it, the CPU")

    def __post_init__(self):
        if self.kernels == "auto":
            object.__setattr__(self, "kernels", kernels_for(self.gpu))
        object.__setattr__(self, "tasks", check_task_names(self.tasks))
        object.__setattr__(self, "network", parse_network(self.network))
        if self.dog_breeds is not None:
            object.__setattr__(self, "dog_breeds", tuple(self.dog_breeds))
        if self.loss_weights is not None:
            object.__setattr__(self, "loss_weights", tuple(float(w) for w in self.loss_weights))
        if self.normalize is not None:
            object.__setattr__(self, "normalize", tuple(float(x) for x in self.normalize))
        object.__setattr__(self, "learning_rate_drops", tuple(self.learning_rate_drops))
        for field in dataclasses.fields(self):
            allowed = field.metadata.get("choices")
            if allowed is not None and getattr(self, field.name) not in allowed:
                raise UserError(f"unknown {flag_of(field.name)} {getattr(self, field.name)!r}; "
                                f"use one of: {', '.join(allowed)}")
        for name in ("task_time", "max_steps", "max_epochs", "batch", "conv_filters", "fc_units",
                     "test_frequency", "train_summary_frequency", "shapes_train",
                     "shapes_test"):
            value = getattr(self, name)
            if not isinstance(value, int) or value <= 0:
                raise UserError(f"{flag_of(name)} must be a positive integer, got {value!r}")
        for name in ("test_examples", "epoch_size", "task_epochs"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or value <= 0):
                raise UserError(f"{flag_of(name)} must be a positive integer, got {value!r}")
        self._check_inputs()
        if self.task_masked_accuracy and self.head != "shared":
            raise UserError("--task-masked-accuracy masks the other tasks' classes out of one "
                            "shared head; with --head per-task each head answers among its "
                            "task's classes already (test_accuracy): drop it")
        if not (math.isfinite(self.task_signal_scale) and self.task_signal_scale > 0):
            raise UserError(f"--task-signal-scale must be positive, got {self.task_signal_scale!r}")
        if (self.schedule == "episodes" and self.epoch_size is not None
                and self.epoch_size < self.batch * len(self.tasks)):
            raise UserError(f"--epoch-size {self.epoch_size} is too small for {len(self.tasks)} "
                            f"tasks in batches of {self.batch}; give at least "
                            f"{self.batch * len(self.tasks)}")
        if not 0.0 < self.criterion <= 1.0:
            raise UserError(f"--criterion is an accuracy in (0, 1], got {self.criterion!r}")
        if min(self.shapes_height, self.shapes_width) < 16:
            raise UserError(f"--shapes-size {self.shapes_height} {self.shapes_width} is too "
                            "small to draw objects; use at least 16 16")
        if not (math.isfinite(self.learning_rate) and self.learning_rate > 0):
            raise UserError(f"--learning-rate must be positive, got {self.learning_rate!r}")
        drops = self.learning_rate_drops
        if any(not isinstance(s, int) or s < 1 for s in drops) or list(drops) != sorted(set(drops)):
            raise UserError(f"--learning-rate-drops takes increasing steps from 1, got "
                            f"{' '.join(map(str, drops))}")
        if not (math.isfinite(self.learning_rate_drop) and self.learning_rate_drop > 0):
            raise UserError(f"--learning-rate-drop must be positive, got "
                            f"{self.learning_rate_drop!r}")
        if not 0.0 < self.dropout <= 1.0:
            raise UserError(
                f"--dropout is a keep probability in (0, 1], got {self.dropout!r} "
                "(0.9 keeps 90% of units, as the original)")
        if not 0.0 < self.dog_test_fraction < 1.0:
            raise UserError(f"--dog-test-fraction must lie between 0 and 1, "
                            f"got {self.dog_test_fraction!r}")
        if not isinstance(self.checkpoint_every, int) or self.checkpoint_every < 0:
            raise UserError(f"--checkpoint-every must be 0 (only on a stop signal) or a "
                            f"positive number of steps, got {self.checkpoint_every!r}")
        for name in ("seed", "shapes_seed"):
            if not 0 <= getattr(self, name) <= MAX_SEED:  # TensorFlow and numpy's range.
                raise UserError(f"{flag_of(name)} must lie between 0 and {MAX_SEED} "
                                f"(2**32 - 1), got {getattr(self, name)}")
        self._check_modes()
        self._check_representable()
        if self.run_name is not None and (not self.run_name or "/" in self.run_name
                                          or self.run_name in (".", "..")):
            raise UserError(f"--run-name {self.run_name!r} must be a plain directory name")

    def _check_representable(self) -> None:
        """Every text setting is UTF-8 (a path or --run-name of other bytes reached
        TensorBoard's writer), and every whole number fits TensorFlow's int64."""
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            for item in value if isinstance(value, tuple) else (value,):
                if isinstance(item, str) and not _is_utf8(item):
                    raise UserError(f"{flag_of(field.name)} {item!r} is not valid UTF-8 text, "
                                    "which TensorBoard's files and config.json need; give a "
                                    "name or path in UTF-8")
                if isinstance(item, int) and not -MAX_INT64 - 1 <= item <= MAX_INT64:
                    raise UserError(f"{flag_of(field.name)} {item} is beyond the largest whole "
                                    f"number a run can count to, 2**63 - 1; give a smaller one")

    def _check_inputs(self) -> None:
        """The images' padding, standardisation and channels."""
        if not isinstance(self.image_pad, int) or self.image_pad < 0:
            raise UserError(f"--image-pad must be 0 or a positive number of pixels, "
                            f"got {self.image_pad!r}")
        if self.normalize is not None and (
                len(self.normalize) != 2 or not all(map(math.isfinite, self.normalize))
                or self.normalize[1] <= 0):
            raise UserError(f"--normalize takes a MEAN and a positive SD, got "
                            f"{' '.join(map(str, self.normalize))}")
        if self.input_style == "grey" and not sources_needed(self.tasks) <= {"mnist", "fashion"}:
            raise UserError("--input-style grey has one channel, for greyscale tasks only "
                            "(MNIST's and fashion); use combined or channelplex with dog or "
                            "shapes tasks")

    def _check_modes(self) -> None:
        """The training modes and mitigations, and the settings each one needs."""
        if self.mode != "switch" and self.schedule != "switch":
            raise UserError(f"--mode {self.mode} needs the switch schedule, not --schedule "
                            f"{self.schedule}")
        if self.task_epochs is not None and (self.schedule != "switch"
                                             or self.mode not in ("switch", "offline")):
            raise UserError("--task-epochs sets the periods of the switch schedule (or the "
                            "length of offline training): it needs --mode switch or offline "
                            "on --schedule switch")
        if self.loss_classes == "seen" and (self.head != "shared"
                                            or self.mode not in ("switch", "offline")):
            raise UserError(f"--head {self.head} with --mode {self.mode} does not go with "
                            "--loss-classes seen (which --scenario class sets), one shared "
                            "head trained on the classes seen so far: that needs --head "
                            "shared and --mode switch (or offline, where every class is seen "
                            "from the start); for a head per task use --scenario task, or "
                            "give --loss-classes all")
        if self.mode != "joint" and (self.loss_weighting != "equal" or self.pcgrad):
            raise UserError("--loss-weighting and --pcgrad weigh and combine the tasks' losses "
                            "of joint training; add --mode joint")
        if (self.loss_weighting == "fixed") != (self.loss_weights is not None):
            raise UserError("--loss-weights goes with --loss-weighting fixed, and that needs "
                            "it: one weight per task")
        if self.loss_weights is not None and (
                len(self.loss_weights) != len(self.tasks)
                or not all(math.isfinite(w) and w >= 0 for w in self.loss_weights)):
            raise UserError(f"--loss-weights needs {len(self.tasks)} non-negative numbers, one "
                            f"per task, got {' '.join(map(str, self.loss_weights))}")
        for name in ("ewc_lambda", "l2_lambda", "si_c", "mas_lambda", "lwf_lambda"):
            if not (math.isfinite(getattr(self, name)) and getattr(self, name) >= 0):
                raise UserError(f"{flag_of(name)} must be zero (off) or positive, "
                                f"got {getattr(self, name)!r}")
        for name in ("replay_size", "rehearsal_memory", "agem_memory", "gem_memory"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 0:
                raise UserError(f"{flag_of(name)} must be zero (off) or a positive number of "
                                f"examples, got {getattr(self, name)!r}")
        if not isinstance(self.agem_batch, int) or self.agem_batch <= 0:
            raise UserError(f"--agem-batch must be a positive number, got {self.agem_batch!r}")
        if not (math.isfinite(self.gem_margin) and self.gem_margin >= 0):
            raise UserError(f"--gem-margin must be zero or positive, got {self.gem_margin!r}")
        if self.agem_memory and self.gem_memory:
            raise UserError("--agem-memory and --gem-memory both project the gradient; give one")
        if self.replay_size and self.rehearsal_memory:
            raise UserError("--replay-size and --rehearsal-memory are two ways to train on "
                            "past examples; give one")
        if not isinstance(self.ewc_fisher_examples, int) or self.ewc_fisher_examples < 0:
            raise UserError(f"--ewc-fisher-examples must be 0 (all) or a positive number, "
                            f"got {self.ewc_fisher_examples!r}")
        if not (math.isfinite(self.lwf_temperature) and self.lwf_temperature > 0):
            raise UserError(f"--lwf-temperature must be positive, got {self.lwf_temperature!r}")
        if self.lwf_form == "van-de-ven" and self.head != "shared":
            raise UserError("--lwf-form van-de-ven is van de Ven and Tolias's form for one "
                            "shared head (the domain and class scenarios); with --head "
                            "per-task give --lwf-form li-hoiem")
        if not (math.isfinite(self.si_damping) and self.si_damping > 0):
            raise UserError(f"--si-damping must be positive, got {self.si_damping!r}")
        if ((self.ewc_lambda or self.l2_lambda or self.si_c or self.mas_lambda
             or self.lwf_lambda or self.replay_size or self.rehearsal_memory
             or self.agem_memory or self.gem_memory)
                and (self.mode, self.schedule) != ("switch", "switch")):
            raise UserError("--ewc-lambda, --l2-lambda, --si-c, --mas-lambda, --lwf-lambda, "
                            "--replay-size, --rehearsal-memory, --agem-memory and --gem-memory "
                            "mitigate forgetting between task periods: they need --mode switch "
                            "on the switch schedule (episodes replay by design)")
        if self.replay_size and self.replay_size < len(self.tasks):
            raise UserError(f"--replay-size {self.replay_size} keeps too few examples to "
                            f"share among {len(self.tasks)} tasks")

    def to_json(self) -> dict:
        return dataclasses.asdict(self)


def _is_utf8(text: str) -> bool:
    """Whether `text` is UTF-8 text, not bytes that were not (Python keeps those in a path
    or an argument as lone surrogates)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def mistyped(settings: Mapping[str, object]) -> list[str]:
    """The RunConfig fields among `settings` (read back from JSON: a list stands for a tuple)
    whose value is not of the field's type, as `name=value`."""
    types_ = {field.name: field.type for field in dataclasses.fields(RunConfig)}
    return [f"{name}={value!r}" for name, value in settings.items()
            if name in types_ and not _fits(value, types_[name])]


def _fits(value, annotation) -> bool:
    if isinstance(annotation, types.UnionType):  # `X | None`
        return any(_fits(value, option) for option in typing.get_args(annotation))
    if typing.get_origin(annotation) is tuple:
        kinds = typing.get_args(annotation)
        if not isinstance(value, (list, tuple)):
            return False
        if kinds[-1] is Ellipsis:
            kinds = kinds[:1] * len(value)
        return len(kinds) == len(value) and all(map(_fits, value, kinds))
    if isinstance(value, bool):
        return annotation is bool
    if annotation is float:
        return isinstance(value, (int, float))
    return isinstance(value, annotation)


def flag_of(name: str) -> str:
    """The flag that sets a RunConfig field, as the user types it: `--task-time`."""
    for field in dataclasses.fields(RunConfig):
        flag = field.metadata.get("flag", field.name.replace("_", "-"))
        if name == field.name and flag is not None:
            return f"--{flag}"
        if name in field.metadata.get("sets", ()):
            return f"--{flag}"
    raise KeyError(f"RunConfig has no field {name!r}")


def smoke_config(**overrides) -> RunConfig:
    """A run small enough for tests and a first look: seconds, not minutes."""
    # Every MNIST training image: the tests' tiny MNIST copies have fewer than the 5,000 that
    # the original's split holds out.
    settings = dict(tasks=("id", "inv"), task_time=20, max_steps=40, batch=16,
                    test_frequency=20, mnist_train="all")
    return RunConfig(**{**settings, **overrides})
