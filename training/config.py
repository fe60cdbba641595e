"""RunConfig: every setting of one run, frozen, checked when made, and passed down explicitly."""

import dataclasses
import math

from data.dogs import SOURCES as DOG_SOURCES
from data.mnist_loader import SOURCES as MNIST_SOURCES
from errors import UserError
from models import NORMS, parse_network
from tasks import INPUT_STYLES, check_task_names

OPTIMIZERS = ("sgd", "momentum", "adam", "rmsprop")


@dataclasses.dataclass(frozen=True)
class RunConfig:
    """One run. Defaults follow the original code; see README "Fidelity" for each choice."""

    tasks: tuple[str, ...] = ("id",)
    task_time: int = 2000
    max_steps: int = 25000
    batch: int = 100
    learning_rate: float = 0.01
    dropout: float = 0.9  # A KEEP probability, as in the original.
    optimizer: str = "sgd"
    network: tuple[str, ...] = ("conv", "fc")
    conv_filters: int = 64
    fc_units: int = 500
    norm: str = "lrn"
    input_style: str = "combined"
    test_frequency: int = 100
    test_examples: int | None = None  # None: each task's whole test set.
    train_summary_frequency: int = 10
    seed: int = 0
    mnist_source: str = "idx"
    data_dir: str | None = None
    tfds_dir: str | None = None
    data_dog_dir: str | None = None
    dog_source: str = "dir"
    dog_breeds: tuple[str, ...] | None = None  # None: the first ten by name.
    dog_test_fraction: float = 0.1
    cache_dir: str | None = None  # None: $XDG_CACHE_HOME or ~/.cache, /multiple-tasks.
    log_dir: str = "log"
    run_name: str | None = None
    gpu: bool = False

    def __post_init__(self):
        object.__setattr__(self, "tasks", check_task_names(self.tasks))
        object.__setattr__(self, "network", parse_network(self.network))
        if self.dog_breeds is not None:
            object.__setattr__(self, "dog_breeds", tuple(self.dog_breeds))
        for name in ("task_time", "max_steps", "batch", "conv_filters", "fc_units",
                     "test_frequency", "train_summary_frequency"):
            value = getattr(self, name)
            if not isinstance(value, int) or value <= 0:
                raise UserError(f"--{_flag(name)} must be a positive integer, got {value!r}")
        if self.test_examples is not None and (not isinstance(self.test_examples, int)
                                               or self.test_examples <= 0):
            raise UserError(f"--test-examples must be a positive integer, got {self.test_examples!r}")
        if not (math.isfinite(self.learning_rate) and self.learning_rate > 0):
            raise UserError(f"--learning-rate must be positive, got {self.learning_rate!r}")
        if not 0.0 < self.dropout <= 1.0:
            raise UserError(
                f"--dropout is a keep probability in (0, 1], got {self.dropout!r} "
                "(0.9 keeps 90% of units, as the original)")
        if not 0.0 < self.dog_test_fraction < 1.0:
            raise UserError(f"--dog-test-fraction must lie between 0 and 1, "
                            f"got {self.dog_test_fraction!r}")
        if self.seed < 0:
            raise UserError(f"--seed must be zero or positive, got {self.seed}")
        for name, allowed in (("optimizer", OPTIMIZERS), ("norm", NORMS),
                              ("input_style", tuple(INPUT_STYLES)),
                              ("mnist_source", MNIST_SOURCES), ("dog_source", DOG_SOURCES)):
            if getattr(self, name) not in allowed:
                raise UserError(f"unknown --{_flag(name)} {getattr(self, name)!r}; "
                                f"use one of: {', '.join(allowed)}")
        if self.run_name is not None and (not self.run_name or "/" in self.run_name
                                          or self.run_name in (".", "..")):
            raise UserError(f"--run-name {self.run_name!r} must be a plain directory name")

    def to_json(self) -> dict:
        return dataclasses.asdict(self)


def _flag(field: str) -> str:
    return field.replace("_", "-")


def smoke_config(**overrides) -> RunConfig:
    """A run small enough for tests and a first look: seconds, not minutes."""
    settings = dict(tasks=("id", "inv"), task_time=20, max_steps=40, batch=16,
                    test_frequency=20)
    return RunConfig(**{**settings, **overrides})
