"""RunConfig: every setting of one run, frozen, checked when made, and passed down explicitly."""

import dataclasses
import math

from data.dogs import SOURCES as DOG_SOURCES
from data.image_folders import DECODINGS as DOG_DECODINGS
from data.mnist_loader import SOURCES as MNIST_SOURCES
from data.mnist_loader import TRAIN_SPLITS as MNIST_TRAIN_SPLITS
from errors import UserError
from models import INITS, NORMS, parse_network
from tasks import INPUT_STYLES, check_task_names
from training.objectives import LOSS_WEIGHTINGS

OPTIMIZERS = ("sgd", "momentum", "adam", "rmsprop")
SCHEDULES = ("switch", "episodes")
HEADS = ("shared", "per-task")
MODES = ("switch", "joint", "alternate")
MAX_SEED = 2**32 - 1


@dataclasses.dataclass(frozen=True)
class RunConfig:
    """One run. Defaults follow the original code; see README "Fidelity" for each choice."""

    tasks: tuple[str, ...] = ("id",)
    schedule: str = "switch"  # Or "episodes": the ten-task paper's criterion episodes.
    mode: str = "switch"  # Switch schedule: one task a period, all at once, or one a step.
    loss_weighting: str = "equal"  # Joint mode: equal, fixed (loss_weights) or uncertainty.
    loss_weights: tuple[float, ...] | None = None  # Fixed weighting: one weight per task.
    pcgrad: bool = False  # Joint mode: project conflicting task gradients (PCGrad).
    ewc_lambda: float = 0.0  # Switch mode: EWC's strength; 0: off.
    replay_size: int = 0  # Switch mode: examples kept of past tasks for replay; 0: off.
    task_time: int = 2000
    max_steps: int = 25000  # The switch schedule's length; episodes end by criterion.
    criterion: float = 0.95  # Episodes: held-out accuracy every trained task must reach.
    epoch_size: int | None = None  # Episodes: examples an epoch; None: the training set size.
    max_epochs: int = 50  # Episodes: an episode that has not met the criterion ends here.
    batch: int = 100
    learning_rate: float = 0.01
    dropout: float = 0.9  # A KEEP probability, as in the original.
    optimizer: str = "sgd"
    network: tuple[str, ...] = ("conv", "fc")
    conv_filters: int = 64
    fc_units: int = 500
    norm: str = "lrn"
    init: str = "truncated-normal"
    input_style: str = "combined"
    task_signal: bool = False  # A one-hot task vector into the first fc layer.
    task_signal_scale: float = 1.0  # Its hot value (see README, "The ten-task study").
    head: str = "shared"  # One output for all tasks (the original), or one per task.
    test_frequency: int = 100
    checkpoint_every: int = 1000  # Steps between checkpoints; 0: only on SIGTERM or SIGINT.
    deterministic: bool = True  # TensorFlow's op determinism: same seed, same numbers.
    test_examples: int | None = None  # None: each task's whole test set.
    train_summary_frequency: int = 10
    seed: int = 0
    mnist_source: str = "idx"
    mnist_train: str = "original"  # The last 55,000 training images, as TF1's reader; or all.
    data_dir: str | None = None
    tfds_dir: str | None = None
    data_dog_dir: str | None = None
    dog_source: str = "dir"
    dog_breeds: tuple[str, ...] | None = None  # None: the first ten by name.
    dog_test_fraction: float = 0.1
    dog_decode: str = "opencv"  # BGR, resized without antialiasing, as the original's OpenCV.
    shapes_height: int = 48  # Shapes scenes: the CPU-sized default (data.shapes.SIZES).
    shapes_width: int = 48
    shapes_train: int = 10000
    shapes_test: int = 1000
    shapes_seed: int = 0  # The scenes' seed, apart from the run's, so runs share the data.
    cache_dir: str | None = None  # None: $XDG_CACHE_HOME or ~/.cache, /multiple-tasks.
    log_dir: str = "log"
    run_name: str | None = None
    gpu: bool = False

    def __post_init__(self):
        object.__setattr__(self, "tasks", check_task_names(self.tasks))
        object.__setattr__(self, "network", parse_network(self.network))
        if self.dog_breeds is not None:
            object.__setattr__(self, "dog_breeds", tuple(self.dog_breeds))
        if self.loss_weights is not None:
            object.__setattr__(self, "loss_weights", tuple(float(w) for w in self.loss_weights))
        for name in ("task_time", "max_steps", "max_epochs", "batch", "conv_filters", "fc_units",
                     "test_frequency", "train_summary_frequency", "shapes_train",
                     "shapes_test"):
            value = getattr(self, name)
            if not isinstance(value, int) or value <= 0:
                raise UserError(f"--{_flag(name)} must be a positive integer, got {value!r}")
        for name in ("test_examples", "epoch_size"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or value <= 0):
                raise UserError(f"--{_flag(name)} must be a positive integer, got {value!r}")
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
                raise UserError(f"--{_flag(name)} must lie between 0 and {MAX_SEED} "
                                f"(2**32 - 1), got {getattr(self, name)}")
        for name, allowed in (("optimizer", OPTIMIZERS), ("norm", NORMS), ("init", INITS),
                              ("schedule", SCHEDULES), ("head", HEADS),
                              ("input_style", tuple(INPUT_STYLES)),
                              ("mnist_source", MNIST_SOURCES),
                              ("mnist_train", tuple(MNIST_TRAIN_SPLITS)),
                              ("dog_source", DOG_SOURCES), ("dog_decode", DOG_DECODINGS)):
            if getattr(self, name) not in allowed:
                raise UserError(f"unknown --{_flag(name)} {getattr(self, name)!r}; "
                                f"use one of: {', '.join(allowed)}")
        self._check_modes()
        if self.run_name is not None and (not self.run_name or "/" in self.run_name
                                          or self.run_name in (".", "..")):
            raise UserError(f"--run-name {self.run_name!r} must be a plain directory name")

    def _check_modes(self) -> None:
        """The training modes and mitigations, and the settings each one needs."""
        for name, allowed in (("mode", MODES), ("loss_weighting", LOSS_WEIGHTINGS)):
            if getattr(self, name) not in allowed:
                raise UserError(f"unknown --{_flag(name)} {getattr(self, name)!r}; "
                                f"use one of: {', '.join(allowed)}")
        if self.mode != "switch" and self.schedule != "switch":
            raise UserError(f"--mode {self.mode} needs the switch schedule, not --schedule "
                            f"{self.schedule}")
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
        if not (math.isfinite(self.ewc_lambda) and self.ewc_lambda >= 0):
            raise UserError(f"--ewc-lambda must be zero (off) or positive, got {self.ewc_lambda!r}")
        if not isinstance(self.replay_size, int) or self.replay_size < 0:
            raise UserError(f"--replay-size must be zero (off) or a positive number of "
                            f"examples, got {self.replay_size!r}")
        if (self.ewc_lambda or self.replay_size) and (self.mode, self.schedule) != ("switch",
                                                                                   "switch"):
            raise UserError("--ewc-lambda and --replay-size mitigate forgetting between task "
                            "periods: they need --mode switch on the switch schedule (episodes "
                            "replay by design)")
        if self.replay_size and self.replay_size < len(self.tasks):
            raise UserError(f"--replay-size {self.replay_size} keeps too few examples to "
                            f"share among {len(self.tasks)} tasks")

    def to_json(self) -> dict:
        return dataclasses.asdict(self)


def _flag(field: str) -> str:
    return field.replace("_", "-")


def smoke_config(**overrides) -> RunConfig:
    """A run small enough for tests and a first look: seconds, not minutes."""
    # Every MNIST training image: the tests' tiny MNIST copies have fewer than the 5,000 that
    # the original's split holds out.
    settings = dict(tasks=("id", "inv"), task_time=20, max_steps=40, batch=16,
                    test_frequency=20, mnist_train="all")
    return RunConfig(**{**settings, **overrides})
