"""Elastic weight consolidation (Kirkpatrick et al. 2017), --ewc-lambda: each task's weights
held near their value at the end of its period, in proportion to its Fisher information;
online EWC (--ewc-online, Schwarz et al. 2018 as Hsu et al. 2018 ran it) keeps one
running Fisher and one anchor."""

from __future__ import annotations

import numpy as np

from lazy import LazyModule
from seeds import derive_seed
from training.losses import cross_entropies
from training.methods.base import TASK_PERIODS, Method
from training.settings import setting

tf = LazyModule("tensorflow")

FISHER_CHUNK = 64  # Examples prepared at once for the Fisher.


class EWC(Method):
    """(strength / 2) * sum over consolidated tasks other than the one training now of
    sum_i F_i (theta_i - theta*_i)^2.

    A task is consolidated at the end of each of its periods: its Fisher and anchor
    are replaced by the newest. The Fisher is the mean over --ewc-fisher-examples of
    the task's training examples (all of them: 0) of each example's squared gradient
    of the cross-entropy at its true label (the empirical Fisher) or at the label the
    network predicts (--ewc-fisher-labels predicted, as Hsu et al.). Online: one Fisher,
    the sum of every consolidated task's (no decay, as Hsu et al.'s online EWC), and one
    anchor, the weights as the latest period ended; the penalty holds in every period."""

    name = "ewc"
    description = ("elastic weight consolidation (Kirkpatrick et al. 2017): each task's weights "
                   "held near their value at its period's end, by its diagonal Fisher "
                   "information")
    settings = {
        "ewc_lambda": setting(0.0, "method", bound="non-negative", zero="off", help=(
            "--mode switch: elastic weight consolidation's strength (Kirkpatrick et al. "
            "2017); each task is consolidated as its period ends; 0: off")),
        "ewc_online": setting(False, "method", help=(
            "--ewc-lambda: online EWC (Schwarz et al. 2018, as Hsu et al. 2018): one Fisher, "
            "the sum of every ended period's, and one anchor, the weights as the latest "
            "ended")),
        "ewc_fisher_examples": setting(200, "method", bound="non-negative", zero="all", help=(
            "--ewc-lambda: training examples of the ended task whose squared gradients "
            "estimate its Fisher (0: all of them, as Hsu et al.)")),
        "ewc_fisher_labels": setting("true", "method", choices=("true", "predicted"), help=(
            "--ewc-lambda: the Fisher's gradients at each example's true label (the "
            "empirical Fisher) or at the label the network predicts (Hsu et al.)")),
    }
    needs = (TASK_PERIODS,)
    order = 50
    example = ("--ewc-lambda", "1")
    variants = {"online": ("--ewc-lambda", "1", "--ewc-online")}
    remedy = ("lower --ewc-lambda or --learning-rate (EWC's penalty is stable while "
              "lambda x Fisher x learning rate stays below 2)")

    def __init__(self, variables: list[tf.Variable], tasks: int, strength: float,
                 examples: int | None = 200, predicted: bool = False, online: bool = False):
        self.strength, self.examples = strength, examples
        self.predicted, self.online = predicted, online
        slots = 1 if online else tasks
        self.fisher = [[tf.Variable(tf.zeros_like(v), trainable=False) for v in variables]
                       for _ in range(slots)]
        self.anchors = [[tf.Variable(v, trainable=False) for v in variables]
                        for _ in range(slots)]
        self.consolidated = tf.Variable(tf.zeros([slots]), trainable=False)
        self.active = tf.Variable(-1, trainable=False)  # The slot training now; -1: none.
        self._squares = None  # The Fisher's compiled batch function, made at first use.

    @classmethod
    def for_run(cls, config, model, tasks) -> "EWC":
        return cls(model.trainable_variables, len(tasks), config.ewc_lambda,
                   config.ewc_fisher_examples or None, config.ewc_fisher_labels == "predicted",
                   config.ewc_online)

    @property
    def state_variables(self) -> list[tf.Variable]:
        # By attribute name, the order the run's checkpoints hold them in.
        return [self.active, *[v for slot in self.anchors for v in slot], self.consolidated,
                *[v for slot in self.fisher for v in slot]]

    def penalty(self, variables: list[tf.Variable]) -> tf.Tensor:
        weights = self.consolidated * (1.0 - tf.one_hot(self.active, len(self.fisher)))
        total = tf.constant(0.0)
        for weight, fisher, anchors in zip(tf.unstack(weights), self.fisher, self.anchors):
            total += weight * tf.add_n([tf.reduce_sum(f * tf.square(v - a))
                                        for f, v, a in zip(fisher, variables, anchors)])
        return 0.5 * self.strength * total

    def loss_term(self, model, inputs, labels, logits) -> tf.Tensor:
        return self.penalty(model.trainable_variables)

    def consolidate(self, task_index: int, fisher: list[tf.Tensor],
                    variables: list[tf.Variable]) -> None:
        slot = 0 if self.online else task_index
        for target, value in zip(self.fisher[slot], fisher):
            if self.online:
                target.assign_add(value)
            else:
                target.assign(value)
        for anchor, variable in zip(self.anchors[slot], variables):
            anchor.assign(variable)
        self.consolidated.assign(tf.tensor_scatter_nd_update(
            self.consolidated, [[slot]], [1.0]))

    def period_end(self, run, step: int) -> None:
        """Consolidates the task whose period ran to `step`. (A checkpoint at a period's
        start is taken before this, so a run resumed there consolidates then, as the
        uninterrupted run did.)"""
        ended = run.periods.task_index_at(step - 1)
        task, seed = run.tasks[ended], run.config.seed
        rng = np.random.default_rng(derive_seed(seed, "fisher", str(step)))
        count = min(self.examples or len(task.train), len(task.train))
        rows = rng.choice(len(task.train), count, replace=False)
        chunks = ((task.prepare(*task.train.take(tf.constant(rows[i:i + FISHER_CHUNK])),
                                tf.constant([seed, step + i], tf.int64)))
                  for i in range(0, count, FISHER_CHUNK))
        if self._squares is None:  # Compiled once a run: only tensors cross into it.
            self._squares = fisher_squares(run.model, self.predicted, run.methods.train_logits)
        self.consolidate(ended, diagonal_fisher(chunks, self._squares),
                         run.model.trainable_variables)

    def period_start(self, run, step: int) -> None:
        self.active.assign(-1 if self.online else run.periods.task_index_at(step))

    def summary(self, task_names) -> dict:
        consolidated = self.consolidated.numpy()
        return {"ewc_consolidated": [name for name, c in zip(task_names, consolidated) if c]}


def fisher_squares(model: tf.keras.Model, predicted: bool = False, train_logits=None):
    """A compiled function of a batch (inputs, labels): the sum over its examples of each
    trainable variable's squared per-example gradient of the cross-entropy (dropout off),
    at each example's label or, if `predicted`, at the class the network predicts;
    `train_logits`: the logits the training loss reads (class-incremental: the classes
    seen, held in variables). The model and settings are bound here, so that a call
    passes tensors alone and does not trace again (passed at each call, Python objects
    traced it again at every period). A network of dense layers alone takes the closed
    form (dense_stack), any other every example's gradient."""
    train_logits = train_logits or (lambda logits: logits)
    layers = dense_stack(model)
    if layers is not None:
        return tf.function(lambda inputs, labels: _dense_squared_gradients(
            layers, inputs, labels, predicted, train_logits), reduce_retracing=True)
    return tf.function(lambda inputs, labels: _squared_gradients(
        model, inputs, labels, predicted, train_logits), reduce_retracing=True)


def diagonal_fisher(chunks, squares) -> list[tf.Tensor]:
    """The mean over examples of each trainable variable's squared per-example gradient:
    `squares` (fisher_squares) summed over the (inputs, labels) batches of `chunks`."""
    sums, count = None, 0
    for inputs, labels in chunks:
        batch = squares(inputs, labels)
        sums = batch if sums is None else [s + q for s, q in zip(sums, batch)]
        count += int(labels.shape[0])
    return [s / count for s in sums]


def _squared_gradients(model, inputs, labels, predicted, train_logits):
    """Sums over the batch of each example's squared gradient, an example at a time.
    (tf.vectorized_map gave gradients off by up to 10% through the fast conv layers.)"""
    variables = model.trainable_variables
    sums = [tf.zeros_like(v) for v in variables]
    for i in tf.range(tf.shape(labels)[0]):
        single, label = tf.nest.map_structure(lambda x: x[i:i + 1], (inputs, labels))
        with tf.GradientTape() as tape:
            logits = train_logits(model(single, training=False))
            if predicted:
                label = tf.argmax(logits, axis=-1, output_type=label.dtype)
            loss = tf.reduce_sum(cross_entropies(logits, label))
        gradients = tape.gradient(loss, variables,
                                  unconnected_gradients=tf.UnconnectedGradients.ZERO)
        sums = [s + tf.square(g) for s, g in zip(sums, gradients)]
    return sums


def dense_stack(model: tf.keras.Model) -> list | None:
    """The model's layers if it is a stack of Keras Dense layers (with Flatten, and a
    TaskHead last) whose kernels and biases are its trainable variables in order; else
    None. For such a stack an example's gradient of a kernel is the outer product of
    the layer's input and the loss's gradient at its pre-activation, so the sum over
    examples of its square is (input^2)^T (gradient^2): no per-example gradient is held."""
    from models.layers import TaskHead

    layers = [layer for layer in model.layers if not isinstance(layer, tf.keras.layers.InputLayer)]
    allowed = (tf.keras.layers.Dense, tf.keras.layers.Flatten, TaskHead)
    if not layers or any(type(layer) not in allowed for layer in layers):
        return None
    dense = [layer for layer in layers if type(layer) is tf.keras.layers.Dense]
    expected = [v for layer in dense for v in (layer.kernel, layer.bias)]
    if [id(v) for v in expected] != [id(v) for v in model.trainable_variables]:
        return None
    return layers


def _dense_squared_gradients(layers, inputs, labels, predicted, train_logits):
    """Sums over the batch of each example's squared gradient, for a dense_stack."""
    images, signal = inputs if isinstance(inputs, tuple) else (inputs, None)
    x, layer_inputs, pre_activations = images, [], []
    with tf.GradientTape() as tape:
        for layer in layers:
            if type(layer) is tf.keras.layers.Dense:
                layer_inputs.append(x)
                z = tf.matmul(x, layer.kernel) + layer.bias
                tape.watch(z)
                pre_activations.append(z)
                x = layer.activation(z)
            elif isinstance(layer, tf.keras.layers.Flatten):
                x = layer(x)
            else:  # The TaskHead: each example's own task's logits.
                x = layer([x, signal])
        logits = train_logits(x)
        if predicted:
            labels = tf.argmax(logits, axis=-1, output_type=labels.dtype)
        loss = tf.reduce_sum(cross_entropies(logits, labels))  # Examples apart: sum.
    deltas = tape.gradient(loss, pre_activations)
    squares = []
    for a, d in zip(layer_inputs, deltas):
        squares += [tf.matmul(tf.square(a), tf.square(d), transpose_a=True),
                    tf.reduce_sum(tf.square(d), axis=0)]
    return squares
