"""The ten-task paper's schedule: criterion episodes with replay of the tasks already learned.

Episode i trains tasks 1..i (in --tasks order) until every one of them reaches
the criterion accuracy on held-out data, judged at the end of each epoch, or
until --max-epochs. Half of an epoch's examples are of the newest task and the
other half are shared equally among the older ones (episode 1: all of the first
task); within a task every class is equally frequent (yes and no, for a shapes
task); examples are drawn afresh each epoch and shuffled together, so a batch
mixes tasks. A trial is one training example; trials are counted per task.

Every task is evaluated at the end of each epoch and also every --test-frequency
steps, for finer curves; the criterion is judged only at epoch ends. A checkpoint
is taken at the end of every epoch (and, on a stop signal, at the next window's
end: the epoch's mix of examples and how far it got are kept). Each
evaluation is a test line of metrics.jsonl with, beside the usual fields,
`episode`, `epoch` (the epoch under way; 0 before any training), `epoch_end`
(whether the criterion was judged there) and `trials` (each task's trials so far
in the run). The evaluation that ends an episode is also where the next starts.
"""

import numpy as np

from errors import UserError
from seeds import derive_seed
from tasks import Task, balanced_indices, task_classes
from tasks.streams import MixStream
from training.config import RunConfig
from training.loop import RunSchedule
from training.methods.base import Methods


def episode_counts(episode: int, epoch_size: int) -> list[int]:
    """Examples of tasks 1..episode in one epoch: half the newest, the rest shared equally."""
    if episode == 1:
        return [epoch_size]
    newest = epoch_size // 2
    return [(epoch_size - newest) // (episode - 1)] * (episode - 1) + [newest]


def epoch_mix(train_labels: list[np.ndarray], episode: int, epoch_size: int, classes: int,
              rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """One epoch of episode `episode`, shuffled: (task index, example index in its split)."""
    tasks, examples = [], []
    for task, count in enumerate(episode_counts(episode, epoch_size)):
        examples.append(balanced_indices(train_labels[task], count, rng, classes))
        tasks.append(np.full(count, task))
    order = rng.permutation(sum(map(len, tasks)))
    return (np.concatenate(tasks)[order].astype(np.int32),
            np.concatenate(examples)[order].astype(np.int64))


def mix_memory_floor(epoch_size: int) -> int:
    """Bytes an epoch's mix takes at the least: each example's task (int32) and example
    (int64) index, as numpy arrays and again in the stream's variables."""
    return 2 * (4 + 8) * epoch_size


def criterion_met(accuracies: dict[str, float], names: list[str], criterion: float) -> bool:
    """Whether every named task's held-out accuracy has reached the criterion."""
    return all(accuracies[name] >= criterion for name in names)


class EpisodeSchedule(RunSchedule):
    """Criterion episodes, one a task, each of epochs until every trained task reaches the
    criterion (at least one epoch, at most max_epochs)."""

    unit = "episodes"

    def __init__(self, config: RunConfig, tasks: list[Task], methods: Methods):
        super().__init__(config, tasks, methods)
        self.epoch_size = config.epoch_size or len(tasks[0].train)
        if self.epoch_size < config.batch * len(tasks):
            raise UserError(f"--epoch-size {self.epoch_size} is too small for {len(tasks)} "
                            f"tasks in batches of {config.batch}; give at least "
                            f"{config.batch * len(tasks)}")
        self.train_labels = [task.train.label_array() for task in tasks]
        self.classes = task_classes(self.names, config.labels)
        self.rng = np.random.default_rng(derive_seed(config.seed, "episodes"))
        self.stream = MixStream(tasks, config.batch)
        self.trials = np.zeros(len(tasks), np.int64)
        self.episode, self.epoch, self.reached, self.episodes = 1, 0, False, []
        self.mix, self.position = None, 0  # The epoch's (task ids, example ids); batches done.

    def progress_total(self) -> int:
        return len(self.tasks)

    def _epoch_batches(self) -> int:
        return len(self.mix[0]) // self.config.batch

    def _epoch_ended(self) -> bool:
        """Whether the epoch under way has trained to its end (and awaits its judging)."""
        return self.mix is not None and self.position == self._epoch_batches()

    def checkpoint_due(self, step: int) -> bool:
        return self._epoch_ended()

    def evaluation_due(self, step: int) -> bool:
        return super().evaluation_due(step) or self._epoch_ended()

    def evaluated(self, step: int, record: dict) -> tuple[int, str]:
        """Adds the episode's fields to the test line; at an epoch's end, judges the
        criterion and ends the episode when it is met or out of epochs."""
        epoch_end = self.mix is None or self._epoch_ended()
        newest = self.names[self.episode - 1]
        record.update(episode=self.episode, epoch=self.epoch, epoch_end=epoch_end,
                      trials=dict(zip(self.names, map(int, self.trials))))
        label = f"{newest} (episode {self.episode}, epoch {self.epoch})"
        if not epoch_end or self.epoch == 0:
            return self.episode - 1, label
        self.mix = None
        self.reached = criterion_met(record["test_accuracy"], self.names[:self.episode],
                                     self.config.criterion)
        done = self.episode if self.reached else self.episode - 1
        if self.reached or self.epoch >= self.config.max_epochs:
            self.episodes.append({"episode": self.episode, "task": newest, "epochs": self.epoch,
                                  "criterion_reached": self.reached, "steps_at_end": step,
                                  "trials": dict(zip(self.names, self.trials.tolist()))})
            self.episode, self.epoch, self.reached = self.episode + 1, 0, False
        return done, label

    def finished(self, step: int) -> bool:
        return self.episode > len(self.tasks)

    def active(self, step: int) -> str:
        return self.names[min(self.episode, len(self.tasks)) - 1]

    def window(self, run, step: int) -> tuple[int, object]:
        """To the epoch's end or the next frequency multiple; a new epoch's mix first when
        the last has ended."""
        if self.mix is None:
            self.epoch += 1
            self.mix = epoch_mix(self.train_labels, self.episode, self.epoch_size,
                                 self.classes, self.rng)
            self.position = 0
            self._use_mix()
        left = self._epoch_batches() - self.position
        return min(self._frequency_end(step), step + left) - step, self.stream

    def _use_mix(self) -> None:
        seed = derive_seed(self.config.seed, "episode", str(self.episode), str(self.epoch))
        self.stream.use(*self.mix, seed, start=self.position)

    def trained(self, step: int, count: int) -> dict:
        batch = self.config.batch
        rows = self.mix[0][self.position * batch:(self.position + count) * batch]
        self.trials += np.bincount(rows, minlength=len(self.tasks))
        self.position += count
        return {"episode": self.episode}

    def state(self) -> tuple[dict, dict | None]:
        mix = None if self.mix is None else {"task_ids": self.mix[0],
                                             "example_ids": self.mix[1]}
        return {"episode": self.episode, "epoch": self.epoch, "reached": self.reached,
                "position": self.position, "trials": self.trials.tolist(),
                "episodes": self.episodes, "rng": self.rng.bit_generator.state}, mix

    def restore(self, state: dict, arrays: dict | None) -> None:
        self.episode, self.epoch, self.reached = state["episode"], state["epoch"], state["reached"]
        self.position, self.episodes = state["position"], state["episodes"]
        self.trials = np.array(state["trials"], np.int64)
        self.rng.bit_generator.state = state["rng"]
        self.mix = (arrays["task_ids"], arrays["example_ids"]) if arrays else None
        if self.mix is not None:
            self._use_mix()

    def summary(self, step: int) -> dict:
        return {"schedule": "episodes", "episodes": self.episodes,
                "all_episodes_reached_criterion": all(e["criterion_reached"]
                                                      for e in self.episodes)}
