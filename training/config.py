"""RunConfig: every setting of one run, declared once with its flag, frozen, checked when made.

Each field carries its command-line flag as metadata (training.settings.setting): the
help text, the group it is listed under, its kind, its bound, and argparse options
where the field's type does not say them. RunConfig is made of the core fields below
and then every training method's own (training.methods, in their order). task.py's
parser, its --help and docs/flags.md's flag table are generated from these fields
(training.flags). TensorFlow-free, so that a sweep is planned without it.
"""

import dataclasses
import functools
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
from training import methods
from training.settings import KINDS, field_type, flag_name, refusal, setting, value_type

OPTIMIZERS = ("sgd", "momentum", "adam", "rmsprop", "adagrad")
SCHEDULES = ("switch", "episodes")
HEADS = ("shared", "per-task")
# Switching, and the modes of the methods that are one.
MODES = ("switch", *(m.mode for m in methods.registered().values() if m.mode is not None))
LABELS = ("task", "global")
MAX_SEED = 2**32 - 1
MAX_INT64 = 2**63 - 1


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
class _Core:
    """RunConfig's core fields, the settings of every run, and its checks; RunConfig adds
    every method's settings (below), and only it is ever made."""

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
        schedule="switch", bound="positive")
    max_steps: int = setting(25000, "schedule", "switch: training steps in all",
                             schedule="switch", bound="positive")
    task_epochs: int | None = setting(None, "schedule", shown="none: --task-time", help=(
        "switch: train each task for this many epochs of its training set (with rehearsal, "
        "of the set and the memory), once through the tasks, in place of --task-time and "
        "--max-steps: E epochs are ceil(E x examples / --batch) steps, an epoch's last "
        "batch completed from the next epoch's order; offline: E epochs of every task's "
        "set together"), bound="positive")
    criterion: float = setting(
        0.95, "schedule", "episodes: held-out accuracy every trained task must reach, "
                          "judged at the end of each epoch", schedule="episodes")
    epoch_size: int | None = setting(
        None, "schedule", "episodes: training examples an epoch, half of them the newest "
                          "task's", shown="the training set's size", schedule="episodes",
        bound="positive")
    max_epochs: int = setting(
        50, "schedule", "episodes: an episode that has not met the criterion ends after "
                        "this many epochs", schedule="episodes", bound="positive")
    mode: str = setting(
        "switch", "method", choices=MODES,
        help="switch: the active task trains, a new one every --task-time steps (the "
             "original); " + "; ".join(f"{m.mode}: {m.description}"
                                        for m in methods.registered().values() if m.mode))
    batch: int = setting(100, "model", "batch size", bound="positive")
    learning_rate: float = setting(
        0.01, "model", "learning rate (the original code's default; its blog says 0.1)",
        bound="positive")
    learning_rate_drops: tuple[int, ...] = setting(
        (), "model", "steps from which the learning rate is multiplied by "
                     "--learning-rate-drop, each time (PyTorch's MultiStepLR, in steps)",
        nargs="+", metavar="STEP", shown="none")
    learning_rate_drop: float = setting(
        0.1, "model", "--learning-rate-drops: the factor at each of those steps", bound="positive")
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
        64, "model", "filters of the first conv layer; each later conv has twice as many",
        bound="positive")
    fc_units: int = setting(500, "model", "units of each hidden fc layer", bound="positive")
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
        "plain with --gpu (config.json records which)", choices=("auto", *KERNELS),
        kind="implementation")
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
                      "the signal gate the fc layers within a CPU-sized budget", bound="positive")
    head: str = setting(
        "shared", "model", "shared: one output layer for every task (the original); "
                           "per-task: one head per task on the shared layers, each example "
                           "answered by its task's", choices=HEADS)
    test_frequency: int = setting(
        100, "evaluation", "evaluate every task's test set every this many steps, and at "
                           "step 0 and the end (with --task-epochs, at every task switch "
                           "too)", bound="positive")
    test_examples: int | None = setting(
        None, "evaluation", "evaluate on each task's first N test examples, a fixed subset",
        shown="all", bound="positive")
    task_masked_accuracy: bool = setting(False, "evaluation", help=(
        "also log each task's accuracy with the other tasks' classes masked out of the "
        "shared head (task-incremental accuracy read from a class-incremental run, as "
        "Mammoth's mask_classes): test_accuracy_task_masked beside test_accuracy"))
    train_summary_frequency: int = setting(
        10, "evaluation", "log mean train accuracy and loss every this many steps",
        bound="positive")
    seed: int = setting(
        0, "run", "random seed: weights, dropout, data order, noise and permutations", kind="run")
    mnist_source: str = setting(
        "idx", "data", "idx: IDX files from --data-dir; tfds: tensorflow-datasets 'mnist'",
        choices=MNIST_SOURCES)
    mnist_train: str = setting(
        "original", "data",
        "original: train on the last 55,000 of MNIST's 60,000 training images, as the "
        "original (TF1's reader held the first 5,000 out as validation, never used); all: "
        "on all 60,000", choices=tuple(MNIST_TRAIN_SPLITS))
    image_pad: int = setting(0, "data", help=(
        "zero pixels added on each side of every image (2: MNIST as 32x32, as Hsu et al.)"),
        bound="non-negative")
    normalize: tuple[float, float] | None = setting(
        None, "data", "standardise every (padded) image as (x - MEAN) / SD, x in [0, 1] "
                      "(Hsu et al.'s 32x32 MNIST: 0.1 0.2752)", nargs=2,
        metavar=("MEAN", "SD"), shown="none")
    data_dir: str | None = setting(
        None, "data", "folder with the four MNIST IDX files, gzipped or not",
        shown="the copy bundled in data/mnist", kind="place")
    tfds_dir: str | None = setting(
        None, "data", "tensorflow-datasets data directory for --mnist-source, "
                      "--fashion-source and --dog-source tfds",
        shown="tfds's own", kind="place")
    data_fashion_dir: str | None = setting(
        None, "data", "folder with Fashion-MNIST's four IDX files, gzipped or not, for the "
                      "fashion task", shown="Debian's /usr/share/datasets/fashion-mnist",
        kind="place")
    fashion_source: str = setting(
        "idx", "data", "idx: IDX files from --data-fashion-dir; tfds: tensorflow-datasets "
                       "'fashion_mnist'", choices=MNIST_SOURCES)
    data_dog_dir: str | None = setting(
        None, "data", "dog images for the dog task: Kaggle dog-breed-identification "
                      "(labels.csv, train/<id>.jpg) or one folder per breed "
                      "(<dir>/<breed>/*.jpg)", shown="none", kind="place")
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
                                shown=f"{_CPU['shapes_train']}, the cpu preset's", bound="positive")
    shapes_test: int = setting(_CPU["shapes_test"], "data", "shapes held-out scenes",
                               shown=f"{_CPU['shapes_test']}, the cpu preset's", bound="positive")
    shapes_seed: int = setting(
        0, "data", "seed of the shapes scenes, apart from --seed so that runs share them")
    cache_dir: str | None = setting(
        None, "data", "where decoded dog images and drawn shapes scenes are cached",
        shown="$XDG_CACHE_HOME or ~/.cache, then multiple-tasks", kind="place")
    log_dir: str = setting("log", "run", "where run directories are made", kind="place")
    run_name: str | None = setting(
        None, "run", "name of this run's directory; an existing one is refused",
        metavar="NAME", shown="date, tasks, network, task time, optimizer and seed", kind="place")
    checkpoint_every: int = setting(
        1000, "run", "switch: checkpoint every N steps (0: only when stopped by SIGTERM or "
                     "SIGINT, which always checkpoint); episodic runs checkpoint at every "
                     "epoch's end", bound="non-negative", zero="only on a stop signal",
        kind="upkeep")
    deterministic: bool = setting(
        True, "run", "turn off TensorFlow's op determinism (on by default, so that a seed "
                     "gives the same numbers), for speed on a GPU",
        flag="nondeterministic", negated=True, kind="run")
    gpu: bool = setting(
        False, "run", "run on the GPU (an error if none is visible); without it, the CPU",
        kind="run")

    def __post_init__(self):
        if self.kernels == "auto":
            object.__setattr__(self, "kernels", kernels_for(self.gpu))
        object.__setattr__(self, "tasks", check_task_names(self.tasks))
        object.__setattr__(self, "network", parse_network(self.network))
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            kind, many = value_type(field.type)
            if many and value is not None:  # A list (from JSON, or given) becomes a tuple.
                object.__setattr__(self, field.name, tuple(float(x) if kind is float else x
                                                           for x in value))
            problem = refusal(field, value, flag_of(field.name))
            if problem:
                raise UserError(problem)
        self._check_inputs()
        if self.task_masked_accuracy and self.head != "shared":
            raise UserError("--task-masked-accuracy masks the other tasks' classes out of one "
                            "shared head; with --head per-task each head answers among its "
                            "task's classes already (test_accuracy): drop it")
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
        drops = self.learning_rate_drops
        if any(not isinstance(s, int) or s < 1 for s in drops) or list(drops) != sorted(set(drops)):
            raise UserError(f"--learning-rate-drops takes increasing steps from 1, got "
                            f"{' '.join(map(str, drops))}")
        if not 0.0 < self.dropout <= 1.0:
            raise UserError(
                f"--dropout is a keep probability in (0, 1], got {self.dropout!r} "
                "(0.9 keeps 90% of units, as the original)")
        if not 0.0 < self.dog_test_fraction < 1.0:
            raise UserError(f"--dog-test-fraction must lie between 0 and 1, "
                            f"got {self.dog_test_fraction!r}")
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
        """The training mode's schedule, and the training methods' settings and needs."""
        if self.task_epochs is not None and (self.schedule != "switch"
                                             or self.mode not in ("switch", "offline")):
            raise UserError("--task-epochs sets the periods of the switch schedule (or the "
                            "length of offline training): it needs --mode switch or offline "
                            "on --schedule switch")
        methods.check(self)

    def to_json(self) -> dict:
        return dataclasses.asdict(self)


def _method_fields() -> list[tuple[str, type, dataclasses.Field]]:
    """Every training method's settings, in the methods' order, as make_dataclass takes
    them; a name that another setting has already is refused."""
    taken = {field.name for field in dataclasses.fields(_Core)}
    fields = []
    for method in methods.registered().values():
        for name, field in method.settings.items():
            if name in taken:
                raise ValueError(f"the method {method.name!r} declares the setting {name!r}, "
                                 "which RunConfig has already")
            taken.add(name)
            fields.append((name, field_type(field), field))
    return fields


# Made by name in this module, so that it pickles (multiprocessing's spawn, Ray).
RunConfig = dataclasses.make_dataclass(
    "RunConfig", _method_fields(), bases=(_Core,), frozen=True, namespace={
        "__module__": __name__,
        "__doc__": "One run: the core settings, then every training method's. Defaults follow "
                   "the original code; docs/fidelity.md gives each choice."})


def fields_of_kind(*kinds: str) -> tuple[str, ...]:
    """The RunConfig fields of these kinds (training.settings.KINDS), in their order."""
    assert set(kinds) <= set(KINDS), kinds
    return tuple(field.name for field in dataclasses.fields(RunConfig)
                 if field.metadata.get("kind") in kinds)


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
    flags = _flags()
    if name not in flags:
        raise KeyError(f"RunConfig has no field {name!r}")
    return flags[name]


@functools.cache
def _flags() -> dict[str, str]:
    flags = {}
    for field in dataclasses.fields(RunConfig):
        flag = flag_name(field.name, field)
        if flag is not None:
            flags.update(dict.fromkeys((field.name, *field.metadata.get("sets", ())), f"--{flag}"))
    return flags


def smoke_config(**overrides) -> RunConfig:
    """A run small enough for tests and a first look: seconds, not minutes."""
    # Every MNIST training image: the tests' tiny MNIST copies have fewer than the 5,000 that
    # the original's split holds out.
    settings = dict(tasks=("id", "inv"), task_time=20, max_steps=40, batch=16,
                    test_frequency=20, mnist_train="all")
    return RunConfig(**{**settings, **overrides})
