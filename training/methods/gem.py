"""Gradient episodic memory (Lopez-Paz and Ranzato 2017), --gem-memory: a memory of past
tasks' training examples, and each step's gradient projected so that no past task's
memory loss rises, by a small quadratic programme solved with quadprog (the solver
the authors' code used)."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from lazy import LazyModule
from training.methods.agem import AGEM
from training.methods.ewc import dense_stack
from training.settings import setting

tf = LazyModule("tensorflow")
quadprog = LazyModule("quadprog")
task_module = LazyModule("tasks.task")

EPSILON = 1e-3  # Added to the programme's diagonal, as the authors' code, so it is definite.


class GEM(AGEM):
    """g, the batch's gradient, and G, the gradients of the training loss on each past task's
    whole memory (the task training now excepted): if some g . G_k < 0, the update applies
    G^T v + g, v the solution of min 1/2 v^T (G G^T + eps I) v + (G g)^T v subject to
    v >= --gem-margin (the dual of the projection of g onto {g~ : G g~ >= 0}); else g. The
    memory is A-GEM's: --gem-memory examples shared equally among the ended tasks.

    Every step takes every past task's gradient afresh, as the authors' code does. A
    network of dense layers alone (ewc.dense_stack) takes them all from one pass over
    the memory (dense_task_gradients), whose inputs are prepared once a period when
    their preparation draws no random numbers; any other network, a pass a task. Only
    the programme's few numbers, G G^T and G g, go to quadprog."""

    name = "gem"
    description = ("gradient episodic memory (Lopez-Paz and Ranzato 2017): each step projected, "
                   "by a quadratic programme, so that no past task's remembered examples' loss "
                   "rises")
    settings = {
        "gem_memory": setting(0, "method", bound="non-negative", zero="off", help=(
            "--mode switch: GEM (Lopez-Paz and Ranzato 2017): keep this many training "
            "examples of past tasks (shared equally); each step's gradient is projected, by "
            "a quadratic programme (quadprog), so that no past task's memory loss rises; 0: "
            "off")),
        "gem_margin": setting(0.5, "method", bound="non-negative", help=(
            "--gem-memory: the memory strength gamma, a floor on every constraint's dual "
            "variable (Hsu et al.'s --reg_coef 0.5)")),
    }
    excludes = {}  # A-GEM's exclusion of GEM is declared there.
    order = 120
    example = ("--gem-memory", "30")
    # A network of dense layers alone takes the one-pass way (dense_task_gradients).
    variants = {"dense": ("--gem-memory", "30", "--network", "fc:16", "fc", "--dropout", "1")}

    def __init__(self, tasks: list, memory: int, margin: float, seed: int,
                 layers: list | None = None):
        super().__init__(tasks, memory, batch=memory, seed=seed)
        self.margin = margin
        self.layers = layers  # The network's dense_stack, or None.
        self.active = tf.Variable(0, trainable=False)  # The task training now.
        # The constrained tasks' memory as the first layer takes it (first_features), made
        # at a period's first step; not checkpointed: a resumed run makes it again.
        self.cached = tf.Variable(False, trainable=False)
        self.fixed = tf.Variable(False, trainable=False)  # Its preparation draws no numbers.
        self.cache = (tf.Variable(tf.zeros([0, 0]), shape=[None, None], trainable=False),
                      tf.Variable(tf.zeros([0], tf.int64), shape=[None], trainable=False),
                      tf.Variable(tf.zeros([0]), shape=[None], trainable=False),
                      tf.Variable(tf.zeros([0], tf.int32), shape=[None], trainable=False),
                      tf.Variable(tf.zeros([0], tf.int32), shape=[None], trainable=False))

    @classmethod
    def for_run(cls, config, model, tasks) -> "GEM":
        return cls(tasks, config.gem_memory, config.gem_margin, config.seed, dense_stack(model))

    @property
    def state_variables(self) -> list[tf.Variable]:
        return [*super().state_variables, self.active]

    def period_start(self, run, step: int) -> None:
        self.active.assign(run.periods.task_index_at(step))
        self.cached.assign(False)

    def adjust_gradients(self, model, gradients, step, training_loss):
        seed = tf.stack([tf.constant(self.seed, tf.int64), tf.cast(step, tf.int64)])
        present = tf.math.bincount(self.task_ids, minlength=len(self.tasks),
                                   maxlength=len(self.tasks)) > 0
        constrained = tf.logical_and(present, tf.not_equal(tf.range(len(self.tasks)),
                                                           self.active))
        return tf.cond(tf.reduce_any(constrained), lambda: self._projected(
            model, gradients, seed, training_loss, constrained), lambda: list(gradients))

    def _projected(self, model, gradients, seed, training_loss, constrained):
        memory = self.task_gradients(model, seed, training_loss, constrained)
        dots = tf.add_n([_dot(m, g) for m, g in zip(memory, gradients)])
        conflict = tf.reduce_any(tf.logical_and(constrained, dots < 0))
        return tf.cond(conflict, lambda: project(memory, gradients, dots, constrained,
                                                 self.margin), lambda: list(gradients))

    def task_gradients(self, model, seed, training_loss, constrained) -> list:
        """Each constrained task's gradient of the training loss on its whole memory, a block
        a trainable variable (a [tasks, *shape] tensor, or a Rows), zeros for the others."""
        if self.layers is None:
            zeros = [tf.zeros_like(v) for v in model.trainable_variables]
            by_task = [tf.cond(constrained[k], lambda k=k: self.memory_gradient(
                model, tf.where(tf.equal(self.task_ids, k))[:, 0], seed, training_loss),
                lambda: zeros) for k in range(len(self.tasks))]
            return [tf.stack(parts) for parts in zip(*by_task)]
        tf.cond(self.cached, lambda: None, lambda: self._cache_memory(seed, constrained))
        memory = tf.cond(self.fixed, lambda: tuple(v.read_value() for v in self.cache),
                         lambda: self._memory(seed, constrained))
        return dense_task_gradients(self.layers, *memory, self.tasks, training_loss)

    def _memory(self, seed, constrained) -> tuple:
        """The constrained tasks' memory, prepared with `seed`: (first_features' three, the
        labels, the task ids)."""
        images, labels, task_ids = self._prepared(seed, constrained)
        return (*first_features(self.layers, images), labels, task_ids)

    def _prepared(self, seed, constrained) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
        """The constrained tasks' memory's images, labels and task ids, prepared with `seed`."""
        rows = tf.where(tf.gather(constrained, self.task_ids))[:, 0]
        task_ids = tf.gather(self.task_ids, rows)
        inputs, labels = task_module.mixed_batch(
            self.tasks, task_ids, tf.gather(self.example_ids, rows), seed)
        return (inputs[0] if isinstance(inputs, tuple) else inputs), labels, task_ids

    def _cache_memory(self, seed, constrained) -> None:
        """Prepares the memory for the period, and finds whether its preparation draws
        random numbers (prepared with another seed, it then differs): if so, each step
        prepares it afresh with its own seed, as A-GEM's memory batch is."""
        images, labels, task_ids = self._prepared(seed, constrained)
        again, labels_again, _ = self._prepared(seed + tf.constant([0, 1], tf.int64),
                                                constrained)
        self.fixed.assign(tf.logical_and(tf.reduce_all(tf.equal(images, again)),
                                         tf.reduce_all(tf.equal(labels, labels_again))))
        memory = (*first_features(self.layers, images), labels, task_ids)
        for variable, value in zip(self.cache, memory):
            variable.assign(value)
        self.cached.assign(True)


class Rows(NamedTuple):
    """A first layer's kernel gradients, a task each, [tasks, features, units]: `values`
    ([tasks, varying, units]) at the rows `rows` of the features that vary, and elsewhere
    the outer product of `constants` (each constant feature's value, zero at `rows`)
    and `sums` ([tasks, units], the bias's gradients)."""

    values: tf.Tensor
    rows: tf.Tensor
    constants: tf.Tensor
    sums: tf.Tensor


def dense_task_gradients(layers: list, features: tf.Tensor, varying: tf.Tensor,
                         constants: tf.Tensor, labels: tf.Tensor, task_ids: tf.Tensor,
                         tasks: list, training_loss) -> list:
    """For a dense_stack, of examples given by first_features (their `labels`, their tasks'
    indices among `tasks`, the run's): each task's gradient of `training_loss` on its own
    examples alone, a block a trainable variable (the first kernel's a Rows, the others
    [tasks, *shape] tensors; zeros for a task without examples), all from one pass.

    An example's gradient of a kernel is the outer product of the layer's input and
    the loss's gradient at the layer's pre-activation, which the pass gives for every
    example at once; a task's is the sum over its examples (a product of its rows).
    The loss is the mean over all the examples, so each task's sum is scaled by their
    number over its own."""
    inputs = tasks[0].with_signal(features, task_ids)
    signal = inputs[1] if isinstance(inputs, tuple) else None
    layer_inputs, pre_activations = [], []

    def network(_, training):
        del training  # A dense_stack has no layer that trains otherwise.
        x = features
        for layer in layers:
            if type(layer) is tf.keras.layers.Dense:
                if layer_inputs:
                    z = tf.matmul(x, layer.kernel) + layer.bias
                else:  # The varying features' rows of the kernel, and the constants'.
                    z = tf.matmul(x, tf.gather(layer.kernel, varying)) + (
                        tf.linalg.matvec(layer.kernel, constants, transpose_a=True) + layer.bias)
                layer_inputs.append(x)
                tape.watch(z)
                pre_activations.append(z)
                x = layer.activation(z)
            elif not layer_inputs:  # Flatten, already applied by first_features.
                continue
            elif isinstance(layer, tf.keras.layers.Flatten):
                x = layer(x)
            else:  # The TaskHead: each example's own task's logits.
                x = layer([x, signal])
        return x

    with tf.GradientTape() as tape:
        loss = training_loss(network, inputs, labels)
    deltas = tape.gradient(loss, pre_activations)
    count = len(tasks)
    sizes = tf.math.bincount(task_ids, minlength=count, maxlength=count, dtype=tf.float32)
    scale = tf.cast(tf.size(task_ids), tf.float32) / tf.maximum(sizes, 1.0)
    blocks = []
    for a, d in zip(layer_inputs, deltas):
        parts = zip(tf.dynamic_partition(a, task_ids, count),
                    tf.dynamic_partition(d, task_ids, count))
        kernels = scale[:, None, None] * tf.stack([tf.matmul(a_k, d_k, transpose_a=True)
                                                   for a_k, d_k in parts])
        sums = scale[:, None] * tf.math.unsorted_segment_sum(d, task_ids, count)
        blocks += [Rows(kernels, varying, constants, sums) if not blocks else kernels, sums]
    return blocks


def first_features(layers: list, images: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    """A dense_stack's first dense layer's inputs, [N, F], as the features that differ
    between the examples ([N, V], and their indices, [V]) and the values of those that
    do not ([F], zero at the varying ones): an image's padding and the pixels blank in
    every example enter the layer as one row of constants."""
    x = images
    for layer in layers:
        if type(layer) is tf.keras.layers.Dense:
            break
        x = layer(x)
    same = tf.reduce_all(tf.equal(x, x[:1]), axis=0)
    varying = tf.where(tf.logical_not(same))[:, 0]
    # A gather of rows is a copy of contiguous memory; one of columns, of scattered floats.
    features = tf.transpose(tf.gather(tf.transpose(x), varying))
    return features, varying, tf.where(same, x[0], 0.0)


def project(memory: list, gradients: list[tf.Tensor], dots: tf.Tensor, constrained: tf.Tensor,
            margin: float) -> list[tf.Tensor]:
    """GEM's projection of the gradient (a tensor a variable) given every task's (`memory`,
    task_gradients' blocks) and their dot products with it (`dots`), the `constrained`
    tasks' the constraints: the programme's G G^T here, its solution v by quadprog
    (dual_solution), then G^T v + g."""
    products = tf.add_n([_gram(m) for m in memory])
    v = tf.numpy_function(lambda p, q, c: dual_solution(p, q, c, margin),
                          [products, dots, constrained], tf.float32, stateful=False)
    v = tf.reshape(v, tf.shape(dots))
    return [g + combination(m, v) for g, m in zip(gradients, memory)]


def dual_solution(products: np.ndarray, dots: np.ndarray, constrained: np.ndarray,
                  margin: float) -> np.ndarray:
    """v of GEM's dual programme, in float64 with quadprog as the authors' code, given G G^T
    (`products`) and G g (`dots`) of every task; zero for the tasks not `constrained`."""
    products = products[constrained][:, constrained].astype(np.float64)
    products = 0.5 * (products + products.T) + EPSILON * np.eye(len(products))
    # quadprog minimises 1/2 x^T P x - q^T x subject to C^T x >= b.
    v = np.zeros(len(constrained), np.float32)
    v[constrained] = quadprog.solve_qp(products, -dots[constrained].astype(np.float64),
                                       np.eye(len(products)), np.full(len(products), margin))[0]
    return v


def project_by_qp(memory: np.ndarray, gradient: np.ndarray, margin: float) -> np.ndarray:
    """GEM's projection of `gradient` given the past tasks' gradients (rows of `memory`),
    all in float64 with quadprog, as the authors' code computes it; returns float32."""
    memory, gradient = memory.astype(np.float64), gradient.astype(np.float64)
    products = memory @ memory.T
    products = 0.5 * (products + products.T) + EPSILON * np.eye(len(memory))
    v = quadprog.solve_qp(products, -(memory @ gradient), np.eye(len(memory)),
                          np.full(len(memory), margin))[0]
    return (memory.T @ v + gradient).astype(np.float32)


def combination(block, weights: tf.Tensor) -> tf.Tensor:
    """sum_k weights[k] G_k of a block of task gradients ([tasks, *shape] or Rows)."""
    if not isinstance(block, Rows):
        return tf.tensordot(weights, block, 1)
    dense = block.constants[:, None] * tf.linalg.matvec(block.sums, weights, transpose_a=True)
    return tf.tensor_scatter_nd_add(dense, block.rows[:, None],
                                    tf.tensordot(weights, block.values, 1))


def _dot(block, gradient: tf.Tensor) -> tf.Tensor:
    """[tasks]: each task's gradient in the block dotted with the gradient's."""
    if not isinstance(block, Rows):
        return tf.tensordot(block, gradient, len(gradient.shape))
    # Zero at the varying rows, the constants' part meets the gradient's other rows alone.
    return (tf.tensordot(block.values, tf.gather(gradient, block.rows), 2)
            + tf.linalg.matvec(block.sums, tf.linalg.matvec(gradient, block.constants,
                                                             transpose_a=True)))


def _gram(block) -> tf.Tensor:
    """[tasks, tasks]: the block's task gradients' dot products with each other."""
    if not isinstance(block, Rows):
        flat = tf.reshape(block, [tf.shape(block)[0], -1])
        return tf.matmul(flat, flat, transpose_b=True)
    values = tf.reshape(block.values, [tf.shape(block.values)[0], -1])
    return (tf.matmul(values, values, transpose_b=True)
            + tf.reduce_sum(tf.square(block.constants))
            * tf.matmul(block.sums, block.sums, transpose_b=True))
