"""The ten-task paper's schedule: criterion episodes with replay of the tasks already learned.

Episode i trains tasks 1..i (in --tasks order) until every one of them reaches
the criterion accuracy on held-out data, judged at the end of each epoch, or
until --max-epochs. Half of an epoch's examples are of the newest task and the
other half are shared equally among the older ones (episode 1: all of the first
task); within a task every class is equally frequent (yes and no, for a shapes
task); examples are drawn afresh each epoch and shuffled together, so a batch
mixes tasks. A trial is one training example; trials are counted per task.

Every task is evaluated at the end of each epoch and also every --test-frequency
steps, for finer curves; the criterion is judged only at epoch ends. Each
evaluation is a test line of metrics.jsonl with, beside the usual fields,
`episode`, `epoch` (the epoch under way; 0 before any training), `epoch_end`
(whether the criterion was judged there) and `trials` (each task's trials so far
in the run). The evaluation that ends an episode is also where the next starts.
"""

import time

import numpy as np

from errors import RunInterrupted, UserError
from seeds import derive_seed
from tasks import Task, balanced_indices, task_classes
from tasks.task import mixed_batches
from training.checkpoint import Checkpointer, StopRequests
from training.config import RunConfig
from training.progress import Progress
from training.run_log import RunLog, evaluation_record, mean, write_train_window
from training.steps import evaluate, train_step


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


def criterion_met(accuracies: dict[str, float], names: list[str], criterion: float) -> bool:
    """Whether every named task's held-out accuracy has reached the criterion."""
    return all(accuracies[name] >= criterion for name in names)


class EpisodicRun:
    """One run of criterion episodes, from the start or from its latest checkpoint.

    A checkpoint is taken at the end of every epoch and, on SIGTERM or SIGINT, at the
    next step where no train line is half summed; a checkpoint inside an epoch keeps
    the epoch's mix of examples and how far it got."""

    def __init__(self, config: RunConfig, tasks: list[Task], model, optimizer, log: RunLog,
                 progress: Progress, resume: bool = False):
        self.config, self.tasks, self.model, self.optimizer = config, tasks, model, optimizer
        self.log, self.progress = log, progress
        self.names = [task.name for task in tasks]
        self.epoch_size = config.epoch_size or len(tasks[0].train)
        if self.epoch_size < config.batch * len(tasks):
            raise UserError(f"--epoch-size {self.epoch_size} is too small for {len(tasks)} "
                            f"tasks in batches of {config.batch}; give at least "
                            f"{config.batch * len(tasks)}")
        self.train_labels = [task.train.labels.numpy() for task in tasks]
        self.classes = task_classes(self.names)
        self.rng = np.random.default_rng(derive_seed(config.seed, "episodes"))
        self.checkpointer = Checkpointer(log.run_dir, model, optimizer, [])
        self.step, self.train_time, self.eval_time, self.resumed_from = 0, 0.0, 0.0, []
        self.trials = np.zeros(len(tasks), np.int64)
        self.episode, self.epoch, self.reached, self.episodes = 1, 0, False, []
        self.mix, self.position, self.accuracies = None, 0, None
        state = {}
        if resume:
            state = self.checkpointer.restore()
            self.resumed_from = log.resume_at(state)
            self._restore(state)
        self.start = time.monotonic() - state.get("wall_time_s", 0.0)

    def elapsed(self) -> float:
        return time.monotonic() - self.start

    def run(self, stop: StopRequests) -> dict:
        """Runs the episodes left; returns the summary (or raises RunInterrupted)."""
        if self.accuracies is None:
            self.accuracies = self._evaluate(epoch_end=True)
        while self.episode <= len(self.tasks):
            # At least one epoch, as the paper; a resumed epoch carries on where it was.
            while self.mix is not None or (not self.reached
                                           and self.epoch < self.config.max_epochs):
                if self.mix is None:
                    self.epoch += 1
                    self.mix = epoch_mix(self.train_labels, self.episode, self.epoch_size,
                                         self.classes, self.rng)
                    self.position = 0
                self._train_epoch(stop)
                self.mix = None
                self.accuracies = self._evaluate(epoch_end=True)
                self.reached = criterion_met(self.accuracies, self.names[:self.episode],
                                             self.config.criterion)
                self._checkpoint()
            self.episodes.append({"episode": self.episode, "task": self.names[self.episode - 1],
                                  "epochs": self.epoch, "criterion_reached": self.reached,
                                  "steps_at_end": self.step,
                                  "trials": dict(zip(self.names, self.trials.tolist()))})
            self.episode, self.epoch, self.reached = self.episode + 1, 0, False
        return self._summary()

    def _train_epoch(self, stop: StopRequests) -> None:
        """Trains the rest of the epoch: a train line every train_summary_frequency steps,
        an evaluation every test_frequency steps (not at the end, which the caller judges)."""
        config, (task_ids, example_ids) = self.config, self.mix
        count = len(task_ids) // config.batch
        seed = derive_seed(config.seed, "episode", str(self.episode), str(self.epoch))
        batches = mixed_batches(self.tasks, task_ids, example_ids, config.batch, seed,
                                start=self.position)
        tick, window = time.monotonic(), []
        for inputs, labels in batches:
            window.append(train_step(self.model, self.optimizer, inputs, labels))
            batch = task_ids[self.position * config.batch:(self.position + 1) * config.batch]
            self.trials += np.bincount(batch, minlength=len(self.tasks))
            self.step, self.position = self.step + 1, self.position + 1
            if len(window) == config.train_summary_frequency or self.position == count:
                self._write_train_line(window)
                window = []
            if self.step % config.test_frequency == 0 and self.position < count:
                self.train_time += time.monotonic() - tick
                self._evaluate(epoch_end=False)
                tick = time.monotonic()
            if stop.signal is not None and not window and self.position < count:
                self.train_time += time.monotonic() - tick
                self._checkpoint()
                raise RunInterrupted(f"stopped by signal {stop.signal} at step {self.step}, "
                                     f"checkpointed; resume with --resume {self.log.run_dir}",
                                     stop.signal)
        self.train_time += time.monotonic() - tick

    def _write_train_line(self, window: list) -> None:
        losses, accuracies = (np.array(values) for values in zip(*window))
        write_train_window(self.log, losses, accuracies, self.step - 1,
                           self.names[self.episode - 1], self.elapsed(),
                           self.checkpointer.last_step, episode=self.episode)

    def _evaluate(self, epoch_end: bool) -> dict:
        """Evaluates every task, writes the test line, and returns task -> accuracy."""
        tick = time.monotonic()
        results = evaluate(self.model, self.tasks, self.config.test_examples)
        self.eval_time += time.monotonic() - tick
        newest = self.names[self.episode - 1]
        record = evaluation_record(self.step, newest, results, self.elapsed())
        record.update(episode=self.episode, epoch=self.epoch, epoch_end=epoch_end,
                      trials=dict(zip(self.names, map(int, self.trials))))
        self.log.write(record)
        accuracies = record["test_accuracy"]
        met = epoch_end and criterion_met(accuracies, self.names[:self.episode],
                                          self.config.criterion)
        self.progress.update(self.episode if met else self.episode - 1,
                             f"{newest} (episode {self.episode}, epoch {self.epoch})", accuracies)
        return accuracies

    def _checkpoint(self) -> None:
        mix = {} if self.mix is None else {"task_ids": self.mix[0], "example_ids": self.mix[1]}
        self.checkpointer.save({
            "step": self.step, "metrics_bytes": self.log.metrics_bytes(),
            "train_time_s": self.train_time, "eval_time_s": self.eval_time,
            "wall_time_s": self.elapsed(),
            "episode": self.episode, "epoch": self.epoch, "reached": self.reached,
            "position": self.position, "trials": self.trials.tolist(),
            "episodes": self.episodes, "accuracies": self.accuracies,
            "rng": self.rng.bit_generator.state}, arrays=mix)

    def _restore(self, state: dict) -> None:
        self.step, self.train_time, self.eval_time = (
            state["step"], state["train_time_s"], state["eval_time_s"])
        self.episode, self.epoch, self.reached = state["episode"], state["epoch"], state["reached"]
        self.position, self.episodes = state["position"], state["episodes"]
        self.trials = np.array(state["trials"], np.int64)
        self.accuracies = state["accuracies"]
        self.rng.bit_generator.state = state["rng"]
        arrays = self.checkpointer.arrays(state)
        self.mix = (arrays["task_ids"], arrays["example_ids"]) if arrays else None

    def _summary(self) -> dict:
        return {
            "status": "completed",
            "schedule": "episodes",
            "steps": self.step,
            "episodes": self.episodes,
            "all_episodes_reached_criterion": all(e["criterion_reached"] for e in self.episodes),
            "final_test_accuracy": self.accuracies,
            "final_test_accuracy_all": mean(list(self.accuracies.values())),
            "wall_time_s": self.elapsed(),
            "train_time_s": self.train_time,
            "eval_time_s": self.eval_time,
            "steps_per_second": self.step / self.train_time if self.train_time else None,
            "resumed_from_steps": self.resumed_from,
        }
