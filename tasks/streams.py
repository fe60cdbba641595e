"""The tasks' training batches, drawn inside the compiled training step.

A `TaskStream` is one task's endless stream of training batches. `next(stream)`,
called while a tf.function traces, puts the sampling into the step's own graph:
the stream's batch counter, the epoch's order of the task's examples, a gather
from the task's uint8 images where they are held (on the device that runs the
step) and the task's preparation, with no tf.data iterator between steps. On
this project's two CPU cores an `fc fc` step that draws its batches so was 10-13%
faster than one drawing them through tf.data, whose map, prefetch and GetNext
shared the cores with the step (paired rounds); on a GPU it keeps the data there.
`SwitchStream`, `JointStream` and `AlternateStream` combine the task streams for
the run's modes (`UnionStream` draws every task's examples as one set, offline), one stream a run, so that the training loop is traced once for
all the tasks.

Task t's batch k is the one a plain epoch-by-epoch shuffle gives: the examples
come in each epoch's order, epoch after epoch, cut into batches of batch_size
(a batch may span two epochs); epoch e's order is a pure function of the task's
seed and e, and batch k is prepared with the seed (task seed, k). So a stream's
state is its counter: a checkpoint holds only that.
"""

import numpy as np
import tensorflow as tf

from seeds import derive_seed
from tasks.task import Task, mixed_batch


class _EpochCache:
    """The orders of the epochs that a stream's latest batch touched, kept outside any
    checkpoint (they are recomputed from the stream's position)."""

    def __init__(self, reach: int, size: int):
        self.epoch = tf.Variable(tf.constant(-1, tf.int64), trainable=False)
        self.orders = tf.Variable(tf.zeros([reach * size], tf.int64), trainable=False)


class _Shuffled(tf.Module):
    """Batches of positions 0..size-1, epoch after epoch, each epoch in its own order (a pure
    function of `shuffle_seed` and the epoch, computed once an epoch); `position` counts
    the batches drawn and is the whole state."""

    def __init__(self, name: str, size: int, batch_size: int, shuffle_seed: int):
        super().__init__(name=name)
        self.size, self.batch_size, self.shuffle_seed = size, batch_size, shuffle_seed
        self.reach = 1 + -(-batch_size // size)  # Epochs a batch starting in one touches.
        self.position = tf.Variable(tf.constant(0, tf.int64), trainable=False, name="position")
        self._cache = _EpochCache(self.reach, size)

    def __iter__(self):
        return self

    def epoch_order(self, epoch: tf.Tensor) -> tf.Tensor:
        """Epoch `epoch`'s order: a permutation of the positions."""
        seed = tf.stack([tf.constant(self.shuffle_seed, tf.int64), tf.cast(epoch, tf.int64)])
        return tf.random.experimental.stateless_shuffle(
            tf.range(self.size, dtype=tf.int64), seed=seed)

    def _next_positions(self) -> tuple[tf.Tensor, tf.Tensor]:
        """(the batch's number, its positions in their epochs' orders)."""
        number = self.position.assign_add(1, read_value=True) - 1
        start = number * self.batch_size
        epoch = start // self.size
        cache = self._cache

        def refresh():
            cache.orders.assign(tf.concat(
                [self.epoch_order(epoch + r) for r in range(self.reach)], axis=0))
            cache.epoch.assign(epoch)
            return tf.constant(True)

        refreshed = tf.cond(tf.not_equal(cache.epoch.read_value(), epoch), refresh,
                            lambda: tf.constant(False))
        with tf.control_dependencies([refreshed]):
            offsets = start - epoch * self.size + tf.range(self.batch_size, dtype=tf.int64)
            return number, tf.gather(cache.orders.read_value(), offsets)


class TaskStream(_Shuffled):
    """One task's endless training batches (see the module); `position` counts the batches
    drawn, and is the stream's whole state."""

    def __init__(self, task: Task, batch_size: int):
        super().__init__("task_stream", len(task.train), batch_size,
                         derive_seed(task.seed, "shuffle"))
        self.task = task
        self.train_seed = derive_seed(task.seed, "train")

    def __next__(self):
        number, index = self._next_positions()
        seed = tf.stack([tf.constant(self.train_seed, tf.int64), number])
        return self.task.prepare(*self.task.train.take(index), seed)


class _Combined(tf.Module):
    """A stream made of task streams: `next()` draws from the one `_turn()` names."""

    def __init__(self, streams: list[TaskStream]):
        super().__init__()
        self.streams = tuple(streams)

    def __iter__(self):
        return self

    def __next__(self):
        if len(self.streams) == 1:
            return next(self.streams[0])
        return tf.switch_case(self._turn(), [lambda s=s: next(s) for s in self.streams])

    def _turn(self) -> tf.Tensor:
        raise NotImplementedError


class SwitchStream(_Combined):
    """The batches of the task that `active` names (set it between compiled calls).

    One stream for every task, so that the compiled training loop is traced once,
    not once a task (a switch_case on the task measured as fast as a loop traced
    for one task's stream alone)."""

    def __init__(self, streams: list[TaskStream]):
        super().__init__(streams)
        self.active = tf.Variable(0, trainable=False, name="active")

    def _turn(self) -> tf.Tensor:
        return self.active.read_value()


class AlternateStream(_Combined):
    """The tasks' batches in turn, the first task's first: the stream to draw from is the
    number of batches drawn so far, modulo the tasks."""

    def _turn(self) -> tf.Tensor:
        drawn = tf.add_n([stream.position.read_value() for stream in self.streams])
        return tf.cast(drawn % len(self.streams), tf.int32)


class JointStream(_Combined):
    """A batch of every task at once: `next()` gives a tuple of the streams' batches."""

    def __next__(self):
        return tuple(next(stream) for stream in self.streams)


class SequenceStream(tf.Module):
    """A task-free stream's batches (Task.stream_batches): its training examples in their
    stored order, batch k the next stream_batches[k] of them (sizes may differ: MNIST-360's
    last batch of a pair is what its chunks have left), each prepared by the task with the
    seed (train seed, k). `position` counts the batches drawn and is the whole state."""

    def __init__(self, task: Task):
        super().__init__(name="sequence_stream")
        sizes = np.asarray(task.stream_batches, np.int64)
        self.task, self.batches = task, len(sizes)
        self.starts = tf.constant(np.concatenate([[0], np.cumsum(sizes)]), tf.int64)
        self.train_seed = derive_seed(task.seed, "train")
        self.position = tf.Variable(tf.constant(0, tf.int64), trainable=False, name="position")

    def __iter__(self):
        return self

    def __next__(self):
        number = self.position.assign_add(1, read_value=True) - 1
        index = tf.range(self.starts[number], self.starts[number + 1])
        seed = tf.stack([tf.constant(self.train_seed, tf.int64), number])
        return self.task.prepare(*self.task.train.take(index), seed)


class MixStream(tf.Module):
    """Batches of several tasks' examples in a given order (a replay period's mix, an epoch
    of criterion episodes), sampled inside the compiled step as the task streams are:
    batch k holds rows k*B .. k*B+B-1 of the mix, each example prepared by its own task
    with the seed (mix seed, k). `use` gives it a mix, its seed and the batch to start
    from; its state is the mix, which its owner keeps, and `position`."""

    def __init__(self, tasks: list[Task], batch_size: int):
        super().__init__(name="mix_stream")
        self.tasks, self.batch_size = tuple(tasks), batch_size
        self.task_ids = tf.Variable(tf.zeros([0], tf.int32), shape=tf.TensorShape([None]),
                                    trainable=False)
        self.example_ids = tf.Variable(tf.zeros([0], tf.int64), shape=tf.TensorShape([None]),
                                       trainable=False)
        self.seed = tf.Variable(tf.constant(0, tf.int64), trainable=False)
        self.position = tf.Variable(tf.constant(0, tf.int64), trainable=False)

    def use(self, task_ids, example_ids, seed: int, start: int = 0) -> "MixStream":
        self.task_ids.assign(tf.constant(task_ids, tf.int32))
        self.example_ids.assign(tf.constant(example_ids, tf.int64))
        self.seed.assign(seed)
        self.position.assign(start)
        return self

    def __iter__(self):
        return self

    def __next__(self):
        number = self.position.assign_add(1, read_value=True) - 1
        rows = number * self.batch_size + tf.range(self.batch_size, dtype=tf.int64)
        return mixed_batch(list(self.tasks), tf.gather(self.task_ids, rows),
                           tf.gather(self.example_ids, rows),
                           tf.stack([self.seed.read_value(), number]))


class UnionStream(_Shuffled):
    """Every task's training examples as one set, shuffled each epoch (offline training):
    as a TaskStream over the tasks' examples end to end, each example prepared by its own
    task with the seed (union seed, batch number). Its state is `position`."""

    def __init__(self, tasks: list[Task], batch_size: int, seed: int):
        sizes = [len(task.train) for task in tasks]
        super().__init__("union_stream", sum(sizes), batch_size, derive_seed(seed, "union"))
        self.tasks = tuple(tasks)
        self.starts = tf.constant([sum(sizes[:i]) for i in range(len(sizes))], tf.int64)

    def __next__(self):
        number, shuffled = self._next_positions()
        task_ids = tf.cast(tf.searchsorted(self.starts, shuffled, side="right") - 1, tf.int32)
        example_ids = shuffled - tf.gather(self.starts, task_ids)
        return mixed_batch(list(self.tasks), task_ids, example_ids,
                           tf.stack([tf.constant(self.shuffle_seed, tf.int64), number]))


def train_stream(tasks: list[Task], mode: str, batch_size: int, seed: int = 0):
    """A run's training stream: the active task's batches (switch), a batch of every task
    at once (joint), the tasks' batches in turn (alternate), or every task's examples
    as one shuffled set (offline; `seed` orders it)."""
    if mode == "offline":
        return UnionStream(tasks, batch_size, seed)
    streams = [TaskStream(task, batch_size) for task in tasks]
    return {"switch": SwitchStream, "joint": JointStream,
            "alternate": AlternateStream}[mode](streams)
