"""Reads runs for charts and metrics: this tool's run directories and the original's TensorBoard logs."""

import dataclasses
import json
import os

from errors import UserError
from plots.original_logs import read_original_run
from rundir import has_metrics, read_config, read_metrics
from schedule import Schedule
from training.config import RunConfig, fields_of_kind

# config.json keys that describe how or where a run was made, not what was run: runs that
# differ only in these are seeds of one configuration. Beside the settings of those
# kinds, what the run log adds to config.json.
NOT_SETTINGS = frozenset(fields_of_kind("place", "upkeep", "run")) | {
    "argv", "started_at", "code_version", "tensorflow_version", "python_version", "data",
    "task_descriptions", "source"}


@dataclasses.dataclass(frozen=True)
class Run:
    """One run's records, test and train lines each sorted by step."""

    path: str
    config: dict
    tests: tuple[dict, ...]
    trains: tuple[dict, ...]

    @property
    def name(self) -> str:
        return os.path.basename(os.path.normpath(self.path))

    @property
    def tasks(self) -> tuple[str, ...]:
        return tuple(self.config["tasks"])

    @property
    def task_time(self) -> int | None:
        return self.config.get("task_time")

    @property
    def last_step(self) -> int:
        return self.tests[-1]["step"]

    def settings(self) -> dict:
        """The config values that define the experiment (seed and paths left out)."""
        return {k: v for k, v in self.config.items() if k not in NOT_SETTINGS}

    @property
    def episodic(self) -> bool:
        return self.config.get("schedule") == "episodes"

    @property
    def switching(self) -> bool:
        """Whether one task trains at a time (not joint or alternate training)."""
        return self.config.get("mode", "switch") == "switch"

    def periods(self) -> list[tuple[int, int, str]]:
        """Task periods (first step, end step, task) up to the last test; one if unknown. In an
        episodic run, the episodes, each named by its newest task; none in joint or
        alternate training."""
        if self.episodic:
            ends = {r["episode"]: r["step"] for r in self.tests}
            starts = [0] + [ends[e] for e in sorted(ends)][:-1]
            return [(start, ends[e], self.tasks[e - 1]) for start, e in zip(starts, sorted(ends))]
        end = max(self.last_step, self.config.get("total_steps")
                  or self.config.get("max_steps") or 0)
        if not self.switching:
            return []  # Every task trains all along.
        # With --task-epochs, each task's period has its own length.
        lengths = tuple(self.config.get("period_steps") or ()) or self.task_time
        if not lengths:
            return [(0, end, self.tasks[0])] if len(self.tasks) == 1 else []
        return Schedule(self.tasks, lengths).periods(end)

    def accuracy_curve(self, task: str | None = None) -> tuple[list[int], list[float]]:
        """(steps, test accuracy) of one task, or of all tasks together when task is None."""
        steps = [r["step"] for r in self.tests]
        if task is None:
            return steps, [r["test_accuracy_all"] for r in self.tests]
        if task not in self.tasks:
            raise UserError(f"run {self.path} has no task {task!r}; its tasks: "
                            f"{' '.join(self.tasks)}")
        return steps, [r["test_accuracy"][task] for r in self.tests]


def load_tool_run(path: str) -> Run:
    """A run directory of this tool: config.json and metrics.jsonl."""
    # A run made before a setting existed ran as its default says (a new setting's default
    # is the behaviour from before it), so that such runs group with newer ones.
    config = {**setting_defaults(), **read_config(path, "is this a run directory?")}
    records = read_metrics(path)
    tests = tuple(sorted((r for r in records if r.get("kind") == "test"), key=_step))
    trains = tuple(sorted((r for r in records if r.get("kind") == "train"), key=_step))
    if not tests:
        raise UserError(f"{path} has no test records yet; wait for its first evaluation")
    return Run(path, config, tests, trains)


def setting_defaults() -> dict:
    """RunConfig's defaults, as config.json writes them (tuples as lists; `kernels` as a run
    resolves `auto`, and a run from before the setting existed ran the fast kernels)."""
    defaults = {field.name: list(field.default) if isinstance(field.default, tuple)
                else field.default for field in dataclasses.fields(RunConfig)}
    return {**defaults, "kernels": "fast"}


def _step(record: dict) -> int:
    return record["step"]


def is_tool_run(path: str) -> bool:
    return has_metrics(path)


def is_original_run(path: str) -> bool:
    return os.path.isdir(path) and any(name.startswith("test_task_") for name in os.listdir(path))


def load_run(path: str) -> Run:
    """A run of this tool, or a log directory of the original task.py."""
    if is_tool_run(path):
        return load_tool_run(path)
    if is_original_run(path):
        return Run(path, *read_original_run(path))
    raise UserError(f"{path} is not a run directory: it has neither metrics.jsonl nor the "
                    "original tool's test_task_<i>_<name>/ folders")


def find_runs(path: str) -> list[str]:
    """The run directories at or below `path`, so a log directory stands for all its runs
    (leaving out those a sweep set aside as incomplete)."""
    if not os.path.isdir(path):
        raise UserError(f"{path} is not a directory; give run directories or a log directory")
    if is_tool_run(path) or is_original_run(path):
        return [path]
    found = []
    for root, dirs, _ in os.walk(path):
        dirs[:] = sorted(d for d in dirs if ".incomplete-" not in d)  # Set aside by a sweep.
        if is_tool_run(root) or is_original_run(root):
            found.append(root)
            dirs.clear()
    if not found:
        raise UserError(f"{path} holds no runs (no metrics.jsonl or test_task_* folders in it "
                        "or below it)")
    return found


def load_runs(paths: list[str]) -> list[Run]:
    """Every run at or below the given paths, in the order given."""
    return [load_run(run) for path in paths for run in find_runs(path)]


def group_by_settings(runs: list[Run]) -> list[list[Run]]:
    """Runs grouped so that each group differs only by seed (and paths), in first-seen order."""
    groups: dict[str, list[Run]] = {}
    for run in runs:
        groups.setdefault(json.dumps(run.settings(), sort_keys=True, default=str), []).append(run)
    return list(groups.values())


def differing_settings(groups: list[list[Run]]) -> list[str]:
    """The setting names whose values differ between groups (their legend)."""
    settings = [group[0].settings() for group in groups]
    keys = sorted(set().union(*settings))
    return [k for k in keys if len({json.dumps(s.get(k), default=str) for s in settings}) > 1]


def describe(settings: dict, keys: list[str]) -> str:
    """A legend label such as 'optimizer=adam, task_time=500'."""
    def show(value):
        return " ".join(map(str, value)) if isinstance(value, list) else str(value)

    return ", ".join(f"{k}={show(settings.get(k))}" for k in keys) or "all runs"


def group_labels(groups: list[list[Run]]) -> list[str]:
    """A label per group: the settings that differ between groups; when more than two do,
    the first group (an experiment's reference point) is described in full and every
    other by where it departs from the first."""
    keys = differing_settings(groups)
    settings = [group[0].settings() for group in groups]
    if len(keys) <= 2:
        return [describe(s, keys) for s in settings]
    first = settings[0]
    return [describe(first, keys)] + [
        describe(s, [k for k in keys if json.dumps(s.get(k), default=str)
                     != json.dumps(first.get(k), default=str)]) for s in settings[1:]]
