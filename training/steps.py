"""The compiled train and eval steps, the optimizers, and evaluation over whole test sets."""

import weakref
from typing import Iterable, Iterator

import numpy as np
import tensorflow as tf

from errors import UserError
from tasks import Task
from tasks.registry import TASKS, task_classes
from training.losses import correct, cross_entropies
from training.methods.base import PLAIN

# Larger batches were no faster in a whole run and cost memory (500: 1.4 GiB peak RSS).
EVAL_BATCH = 100


class SGD(tf.keras.optimizers.SGD):
    """Keras's plain gradient descent, each dense update one fused kernel.

    Keras updates a variable as two kernels, lr * gradient into a new tensor and a
    subtraction of it; TensorFlow's ResourceApplyGradientDescent computes the same
    var - lr * gradient, element by element, in one pass (the weights are equal to
    the bit; a test checks it). With momentum, or a sparse gradient, Keras's own."""

    def update_step(self, gradient, variable, learning_rate):
        if self.momentum or isinstance(gradient, tf.IndexedSlices):
            return super().update_step(gradient, variable, learning_rate)
        tf.raw_ops.ResourceApplyGradientDescent(
            var=variable.handle, alpha=tf.cast(learning_rate, variable.dtype),
            delta=tf.cast(gradient, variable.dtype))


class Adam(tf.keras.optimizers.Adam):
    """Keras's Adam, each dense update one fused kernel.

    Keras updates a variable with about a dozen kernels (the two moments, the step's
    rate, the division and the subtraction, each into a new tensor); TensorFlow's
    ResourceApplyAdam computes the same m += (g - m)(1 - beta1), v += (g^2 - v)(1 -
    beta2), var -= m lr sqrt(1 - beta2^t) / (1 - beta1^t) / (sqrt(v) + epsilon) in one
    pass. The weights agree within float rounding, not to the bit: the kernel forms
    1 - beta in float32 where Keras rounds it from Python's double (a test bounds the
    difference). With amsgrad, or a sparse gradient, Keras's own."""

    def update_step(self, gradient, variable, learning_rate):
        if self.amsgrad or isinstance(gradient, tf.IndexedSlices):
            return super().update_step(gradient, variable, learning_rate)
        dtype = variable.dtype
        step = tf.cast(self.iterations + 1, dtype)
        index = self._get_variable_index(variable)
        beta_1, beta_2 = tf.cast(self.beta_1, dtype), tf.cast(self.beta_2, dtype)
        tf.raw_ops.ResourceApplyAdam(
            var=variable.handle, m=self._momentums[index].handle,
            v=self._velocities[index].handle, beta1_power=tf.pow(beta_1, step),
            beta2_power=tf.pow(beta_2, step), lr=tf.cast(learning_rate, dtype),
            beta1=beta_1, beta2=beta_2, epsilon=tf.cast(self.epsilon, dtype),
            grad=tf.cast(gradient, dtype))


def make_optimizer(name: str, learning_rate: float, fused: bool = True,
                   drops: tuple[int, ...] = (), drop: float = 0.1
                   ) -> tf.keras.optimizers.Optimizer:
    """The optimizers the original offered (sgd, adam), with TF1's Adam epsilon, and three more;
    plain SGD's and Adam's updates one fused kernel each unless `fused` is off. With `drops`, the rate is
    multiplied by `drop` from each of those steps on (the step numbered from 0 that the
    optimizer's iteration count has reached)."""
    if drops:
        # Keras's piecewise schedule takes value k while iterations <= boundary k.
        learning_rate = tf.keras.optimizers.schedules.PiecewiseConstantDecay(
            [step - 1 for step in drops],
            [learning_rate * drop ** k for k in range(len(drops) + 1)])
    if name == "sgd":
        return SGD(learning_rate) if fused else tf.keras.optimizers.SGD(learning_rate)
    if name == "momentum":
        return tf.keras.optimizers.SGD(learning_rate, momentum=0.9)
    if name == "adam":
        return (Adam if fused else tf.keras.optimizers.Adam)(learning_rate, epsilon=1e-8)
    if name == "rmsprop":
        return tf.keras.optimizers.RMSprop(learning_rate)
    if name == "adagrad":  # PyTorch's, as the benchmarks of Hsu et al. used it.
        return tf.keras.optimizers.Adagrad(learning_rate, initial_accumulator_value=0.0,
                                           epsilon=1e-10)
    raise UserError(f"unknown --optimizer {name!r}; use one of: sgd, momentum, adam, rmsprop, "
                    "adagrad")


def _gradient_step(model: tf.keras.Model, optimizer: tf.keras.optimizers.Optimizer, batch,
                   methods) -> tuple[tf.Tensor, tf.Tensor]:
    """One gradient step as the run's methods form it; returns (loss, accuracy) of the
    batch."""
    return methods.step(model, optimizer, batch, optimizer.iterations)


@tf.function
def train_step(model: tf.keras.Model, optimizer: tf.keras.optimizers.Optimizer,
               inputs, labels: tf.Tensor, methods=PLAIN) -> tuple[tf.Tensor, tf.Tensor]:
    """One compiled gradient step; returns (loss, accuracy) of the batch."""
    return _gradient_step(model, optimizer, (inputs, labels), methods)


@tf.function
def train_steps(model: tf.keras.Model, optimizer: tf.keras.optimizers.Optimizer, batches,
                count: tf.Tensor, methods=PLAIN) -> tuple[tf.Tensor, tf.Tensor]:
    """`count` steps on batches drawn from `batches` (a training stream of tasks.streams,
    which samples inside this compiled loop, or a tf.data iterator), in one call, so
    Python is not in the loop; returns each step's (loss, accuracy) as two [count]
    vectors. The run's methods say what a step minimises (training.methods; default the
    plain mean cross-entropy of one batch)."""
    losses = tf.TensorArray(tf.float32, size=count)
    accuracies = tf.TensorArray(tf.float32, size=count)
    for i in tf.range(count):
        loss, accuracy = _gradient_step(model, optimizer, next(batches), methods)
        losses = losses.write(i, loss)
        accuracies = accuracies.write(i, accuracy)
    return losses.stack(), accuracies.stack()


@tf.function
def eval_steps(model: tf.keras.Model, batches, count: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """Sums over `count` batches drawn from the iterator `batches`, in one call: (number
    correct, total cross-entropy)."""
    right, total_loss = tf.constant(0.0), tf.constant(0.0)
    for _ in tf.range(count):
        images, labels = next(batches)
        logits = model(images, training=False)
        right += tf.reduce_sum(correct(logits, labels))
        total_loss += tf.reduce_sum(cross_entropies(logits, labels))
    return right, total_loss


@tf.function
def eval_steps_per_task_heads(heads_model: tf.keras.Model, batches, count: tf.Tensor,
                              identities: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    """As eval_steps, for a network with a head per task, from every head's logits at once
    (`heads_model`, [B, heads * classes]): (number correct with the task given, its total
    cross-entropy, number correct without it: the largest logit of any head, right when
    its class is the example's, `identities` [heads, classes] naming each head's classes
    across tasks)."""
    heads, classes = identities.shape
    right, agnostic, total_loss = tf.constant(0.0), tf.constant(0.0), tf.constant(0.0)
    for _ in tf.range(count):
        (images, signal), labels = next(batches)
        every = tf.reshape(heads_model((images, signal), training=False), [-1, heads, classes])
        task = tf.argmax(signal, axis=-1, output_type=tf.int32)
        logits = tf.gather(every, task, batch_dims=1)
        right += tf.reduce_sum(correct(logits, labels))
        total_loss += tf.reduce_sum(cross_entropies(logits, labels))
        guess = tf.argmax(tf.reshape(every, [-1, heads * classes]), axis=-1, output_type=tf.int32)
        truth = tf.gather_nd(identities, tf.stack([task, labels], axis=-1))
        agnostic += tf.reduce_sum(tf.cast(
            tf.equal(tf.gather(tf.reshape(identities, [-1]), guess), truth), tf.float32))
    return right, total_loss, agnostic


@tf.function
def eval_steps_masked(model: tf.keras.Model, batches, count: tf.Tensor,
                      mask: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    """As eval_steps, and the number correct among the task's own classes alone (`mask`,
    bool [classes]; the others' logits set to -inf): (number correct, total cross-entropy,
    number correct with the other tasks' classes masked out)."""
    right, total_loss, right_masked = tf.constant(0.0), tf.constant(0.0), tf.constant(0.0)
    for _ in tf.range(count):
        images, labels = next(batches)
        logits = model(images, training=False)
        right += tf.reduce_sum(correct(logits, labels))
        total_loss += tf.reduce_sum(cross_entropies(logits, labels))
        others = tf.constant(-np.inf, logits.dtype)
        right_masked += tf.reduce_sum(correct(tf.where(mask, logits, others), labels))
    return right, total_loss, right_masked


def class_masks(names, labels: str) -> dict[str, tf.Tensor]:
    """Each task's own classes among the shared head's outputs, as bool [classes] vectors."""
    classes = task_classes(names, labels)
    return {name: tf.constant(np.isin(np.arange(classes), TASKS[name].classes_of(labels)))
            for name in names}


def evaluate_task(model: tf.keras.Model, task: Task, limit: int | None = None,
                  heads: tuple | None = None, mask: tf.Tensor | None = None
                  ) -> Iterator[tuple[str, float]]:
    """Yields the task's test accuracy and mean loss over its test set (or its first `limit`).

    One compiled loop over the test batches, fed by tf.data's parallel pipeline: on
    a CPU the loop's batches overlap (one's last layers beside the next one's first),
    measured 1.3 times as fast as a compiled call per batch (7,500 against 5,400
    images/s for `conv fc`)."""
    size = task.test_size(limit)
    batches, count = iter(task.test_batches(EVAL_BATCH, limit)), tf.constant(-(-size // EVAL_BATCH))
    if mask is not None and heads is None:
        right, total_loss, masked = eval_steps_masked(model, batches, count, mask)
        yield "accuracy_task_masked", float(masked) / size
    elif heads is None:
        right, total_loss = eval_steps(model, batches, count)
    else:
        every, identities = heads
        right, total_loss, agnostic = eval_steps_per_task_heads(every, batches, count,
                                                                identities)
        yield "accuracy_task_agnostic", float(agnostic) / size
    yield "accuracy", float(right) / size
    yield "loss", float(total_loss) / size


def task_heads(model: tf.keras.Model, identities: list[tuple[int, ...]]) -> tuple | None:
    """For a network with a head per task (models.layers.TaskHead): the network up to every
    head's logits, and each head's classes' identities across tasks ([heads, classes];
    `identities[k][c]` what class c of task k's head means, e.g. a split task's digits;
    -1 past a task's classes); None otherwise."""
    from models.layers import TaskHead

    head = next((layer for layer in model.layers if isinstance(layer, TaskHead)), None)
    if head is None:
        return None
    every = tf.keras.Model(model.inputs, head.input[0])
    table = [list(ids) + [-1] * (head.classes - len(ids)) for ids in identities]
    return every, tf.constant(table, tf.int32)


def evaluate(model: tf.keras.Model, tasks: Iterable[Task], limit: int | None = None,
             heads: tuple | None = None, masks: dict | None = None
             ) -> dict[str, dict[str, float]]:
    """Every task's test metrics, keyed by task name then metric name; with `heads`
    (task_heads), the task-agnostic accuracy too; with `masks` (class_masks), the accuracy
    among each task's own classes too.

    Tasks that share their test images untransformed (shapes questions about the same
    scenes), in a network whose task signal joins after the images' layers, are
    evaluated together: the images' layers once for every row any of them tests, the
    layers from the signal on for each task (the ten-task study's ten tasks ask about
    1,000 scenes; one task at a time, they would pass about 7,600 through the convs)."""
    tasks = list(tasks)
    results = {}
    split = _compiled_split(model) if heads is None and masks is None else None
    if split is not None:
        pools: dict[tuple, list[Task]] = {}
        for task in tasks:
            if (key := task.test_pool()) is not None:
                pools.setdefault(key, []).append(task)
        for pool in pools.values():
            if len(pool) > 1:
                results.update(_evaluate_pool(*split, pool, limit))
    return {task.name: results.get(task.name)
            or dict(evaluate_task(model, task, limit, heads, (masks or {}).get(task.name)))
            for task in tasks}


_SPLITS = weakref.WeakKeyDictionary()  # A model -> its compiled (trunk, head), or None.


def _compiled_split(model: tf.keras.Model):
    """models.builder.signal_split's trunk and head of the model as compiled functions
    (features of images; logits of features and signals), made once a model; None if the
    model has no such split."""
    if model not in _SPLITS:
        from models.builder import signal_split

        split = signal_split(model)
        if split is None:
            _SPLITS[model] = None
        else:
            trunk, head = split

            @tf.function(reduce_retracing=True)
            def features(images):
                return trunk(images, training=False)

            @tf.function(reduce_retracing=True)
            def logits(features, signal):
                x = head[0]([features, signal], training=False)
                for layer in head[1:]:
                    x = layer(x, training=False)
                return x

            _SPLITS[model] = features, logits
    return _SPLITS[model]


def _evaluate_pool(features, logits, tasks: list[Task], limit: int | None
                   ) -> dict[str, dict[str, float]]:
    """evaluate()'s metrics of tasks that share a test pool (Task.test_pool): the features
    of every row any of them tests, once, then each task's logits from its rows'."""
    rows = [task.test_rows(limit) for task in tasks]
    union, position = np.unique(np.concatenate(rows), return_inverse=True)
    every = tf.concat([features(images)
                       for images in tasks[0].test_images_at(union, EVAL_BATCH)], axis=0)
    results, start = {}, 0
    for task, task_rows in zip(tasks, rows):
        size = len(task_rows)
        mine = tf.gather(every, position[start:start + size])
        start += size
        labels = tf.gather(task.test.labels, task_rows)
        _, signal = task.with_signal(mine, tf.fill([size], task.index))
        answers = logits(mine, signal)
        results[task.name] = {
            "accuracy": float(tf.reduce_sum(correct(answers, labels))) / size,
            "loss": float(tf.reduce_sum(cross_entropies(answers, labels))) / size}
    return results
