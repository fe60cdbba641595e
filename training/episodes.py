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
import tensorflow as tf

from errors import UserError
from tasks import Task, balanced_indices, task_classes
from tasks.task import derive_seed
from training.config import RunConfig
from training.progress import Progress
from training.run_log import RunLog, evaluation_record, mean
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


def mixed_batches(tasks: list[Task], task_ids: np.ndarray, example_ids: np.ndarray,
                  batch: int, seed: int) -> tf.data.Dataset:
    """Batches of examples from several tasks: each prepared by its own task, then rejoined
    in order, with each example's task signal."""
    def load(number, ids):
        task_ids, example_ids = ids
        positions = tf.dynamic_partition(tf.range(tf.shape(task_ids)[0]), task_ids, len(tasks))
        parts = tf.dynamic_partition(example_ids, task_ids, len(tasks))
        batch_seed = tf.stack([tf.constant(seed, tf.int64), number])
        prepared = [task.prepare_images(*task.train.take(part), batch_seed)
                    for task, part in zip(tasks, parts)]
        images = tf.dynamic_stitch(positions, [images for images, _ in prepared])
        labels = tf.dynamic_stitch(positions, [labels for _, labels in prepared])
        return tasks[0].with_signal(images, task_ids), labels

    return (tf.data.Dataset.from_tensor_slices((task_ids, example_ids))
            .batch(batch, drop_remainder=True)
            .enumerate()
            .map(load, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
            .prefetch(tf.data.AUTOTUNE))


def criterion_met(accuracies: dict[str, float], names: list[str], criterion: float) -> bool:
    """Whether every named task's held-out accuracy has reached the criterion."""
    return all(accuracies[name] >= criterion for name in names)


def train_episodes(config: RunConfig, tasks: list[Task], model, optimizer, log: RunLog,
                   progress: Progress) -> dict:
    """Runs one episode per task, in order; returns the run's summary."""
    names = [task.name for task in tasks]
    epoch_size = config.epoch_size or len(tasks[0].train)
    if epoch_size < config.batch * len(tasks):
        raise UserError(f"--epoch-size {epoch_size} is too small for {len(tasks)} tasks in "
                        f"batches of {config.batch}; give at least {config.batch * len(tasks)}")
    train_labels = [task.train.labels.numpy() for task in tasks]
    classes = task_classes(names)
    rng = np.random.default_rng(derive_seed(config.seed, "episodes"))
    state = _State(config, tasks, model, log, progress)
    accuracies = state.evaluate(names[0], 1, 0, epoch_end=True)
    episodes = []
    for episode in range(1, len(tasks) + 1):
        newest = names[episode - 1]
        reached, epoch = False, 0
        while not reached and epoch < config.max_epochs:  # At least one epoch, as the paper.
            epoch += 1
            task_ids, example_ids = epoch_mix(train_labels, episode, epoch_size, classes, rng)
            batches = mixed_batches(tasks, task_ids, example_ids, config.batch,
                                    derive_seed(config.seed, "episode", str(episode), str(epoch)))
            state.train_epoch(model, optimizer, batches, task_ids, newest, episode, epoch)
            accuracies = state.evaluate(newest, episode, epoch, epoch_end=True)
            reached = criterion_met(accuracies, names[:episode], config.criterion)
        episodes.append({"episode": episode, "task": newest, "epochs": epoch,
                         "criterion_reached": reached, "steps_at_end": state.step,
                         "trials": dict(zip(names, state.trials.tolist()))})
    return {
        "status": "completed",
        "schedule": "episodes",
        "steps": state.step,
        "episodes": episodes,
        "all_episodes_reached_criterion": all(e["criterion_reached"] for e in episodes),
        "final_test_accuracy": accuracies,
        "final_test_accuracy_all": mean(list(accuracies.values())),
        "wall_time_s": state.elapsed(),
        "train_time_s": state.train_time,
        "eval_time_s": state.eval_time,
        "steps_per_second": state.step / state.train_time if state.train_time else None,
    }


class _State:
    """Where an episodic run stands: steps and trials so far, time spent, and its log."""

    def __init__(self, config: RunConfig, tasks: list[Task], model, log: RunLog,
                 progress: Progress):
        self.config, self.tasks, self.model, self.log, self.progress = (
            config, tasks, model, log, progress)
        self.step = 0
        self.trials = np.zeros(len(tasks), np.int64)
        self.start = time.monotonic()
        self.train_time = self.eval_time = 0.0

    def elapsed(self) -> float:
        return time.monotonic() - self.start

    def train_epoch(self, model, optimizer, batches: tf.data.Dataset, task_ids: np.ndarray,
                    newest: str, episode: int, epoch: int) -> None:
        """Trains one epoch: a train line every train_summary_frequency steps, an evaluation
        every test_frequency steps (but not at the epoch's end, which the caller judges)."""
        batch, frequency = self.config.batch, self.config.train_summary_frequency
        tick = time.monotonic()
        window = []
        count = len(task_ids) // batch
        for number, (inputs, labels) in enumerate(batches):
            window.append(train_step(model, optimizer, inputs, labels))
            self.step += 1
            self.trials += np.bincount(task_ids[number * batch:(number + 1) * batch],
                                       minlength=len(self.tasks))
            if len(window) == frequency or number == count - 1:
                self._write_train_line(window, newest, episode)
                window = []
            if self.step % self.config.test_frequency == 0 and number < count - 1:
                self.train_time += time.monotonic() - tick
                self.evaluate(newest, episode, epoch, epoch_end=False)
                tick = time.monotonic()
        self.train_time += time.monotonic() - tick

    def _write_train_line(self, window: list, newest: str, episode: int) -> None:
        losses, accuracies = zip(*window)
        self.log.write({"step": self.step - 1, "kind": "train", "active_task": newest,
                        "episode": episode, "train_accuracy": float(tf.reduce_mean(accuracies)),
                        "loss": float(tf.reduce_mean(losses)), "steps": len(window),
                        "wall_time": self.elapsed()})

    def evaluate(self, newest: str, episode: int, epoch: int, epoch_end: bool) -> dict:
        """Evaluates every task, writes the test line, and returns task -> accuracy."""
        tick = time.monotonic()
        results = evaluate(self.model, self.tasks, self.config.test_examples)
        self.eval_time += time.monotonic() - tick
        record = evaluation_record(self.step, newest, results, self.elapsed())
        record.update(episode=episode, epoch=epoch, epoch_end=epoch_end,
                      trials={task.name: int(n) for task, n in zip(self.tasks, self.trials)})
        self.log.write(record)
        accuracies = record["test_accuracy"]
        trained = [task.name for task in self.tasks[:episode]]
        met = epoch_end and criterion_met(accuracies, trained, self.config.criterion)
        done = episode if met else episode - 1
        self.progress.update(done, f"{newest} (episode {episode}, epoch {epoch})", accuracies)
        return accuracies
