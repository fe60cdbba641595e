"""Gradient episodic memory (Lopez-Paz and Ranzato 2017), --gem-memory: a memory of past
tasks' training examples, and each step's gradient projected so that no past task's
memory loss rises, by a small quadratic programme solved with quadprog (the solver
the authors' code used)."""

from __future__ import annotations

import numpy as np

from lazy import LazyModule
from training.methods.agem import AGEM
from training.settings import setting

tf = LazyModule("tensorflow")
quadprog = LazyModule("quadprog")

EPSILON = 1e-3  # Added to the programme's diagonal, as the authors' code, so it is definite.


class GEM(AGEM):
    """g, the batch's gradient, and G, the gradients of the training loss on each past task's
    whole memory (the task training now excepted): if some g . G_k < 0, the update applies
    G^T v + g, v the solution of min 1/2 v^T (G G^T + eps I) v + (G g)^T v subject to
    v >= --gem-margin (the dual of the projection of g onto {g~ : G g~ >= 0}); else g. The
    memory is A-GEM's: --gem-memory examples shared equally among the ended tasks."""

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

    def __init__(self, tasks: list, memory: int, margin: float, seed: int):
        super().__init__(tasks, memory, batch=memory, seed=seed)
        self.margin = margin
        self.active = tf.Variable(0, trainable=False)  # The task training now.

    @classmethod
    def for_run(cls, config, model, tasks) -> "GEM":
        return cls(tasks, config.gem_memory, config.gem_margin, config.seed)

    @property
    def state_variables(self) -> list[tf.Variable]:
        return [*super().state_variables, self.active]

    def period_start(self, run, step: int) -> None:
        self.active.assign(run.periods.task_index_at(step))

    def adjust_gradients(self, model, gradients, step, training_loss):
        seed = tf.stack([tf.constant(self.seed, tf.int64), tf.cast(step, tf.int64)])
        g = _flat(gradients)
        rows, constrained = [], []
        for k in range(len(self.tasks)):
            members = tf.where(tf.equal(self.task_ids, k))[:, 0]
            present = tf.logical_and(tf.size(members) > 0, tf.not_equal(self.active, k))
            rows.append(tf.cond(present, lambda members=members: _flat(self.memory_gradient(
                model, members, seed, training_loss)), lambda: tf.zeros_like(g)))
            constrained.append(present)
        memory = tf.stack(rows)
        constrained = tf.stack(constrained)
        conflict = tf.reduce_any(tf.logical_and(constrained, tf.linalg.matvec(memory, g) < 0))
        projected = tf.cond(conflict, lambda: tf.numpy_function(
            lambda m, v, c: project_by_qp(m[c], v, self.margin), [memory, g, constrained],
            tf.float32, stateful=False), lambda: g)
        return _unflat(tf.reshape(projected, tf.shape(g)), gradients)


def project_by_qp(memory: np.ndarray, gradient: np.ndarray, margin: float) -> np.ndarray:
    """GEM's projection of `gradient` given the past tasks' gradients (rows of `memory`),
    by the dual programme in float64 with quadprog; returns float32."""
    memory, gradient = memory.astype(np.float64), gradient.astype(np.float64)
    products = memory @ memory.T
    products = 0.5 * (products + products.T) + EPSILON * np.eye(len(memory))
    # quadprog minimises 1/2 x^T P x - q^T x subject to C^T x >= b.
    v = quadprog.solve_qp(products, -(memory @ gradient), np.eye(len(memory)),
                          np.full(len(memory), margin))[0]
    return (memory.T @ v + gradient).astype(np.float32)


def _flat(tensors: list[tf.Tensor]) -> tf.Tensor:
    return tf.concat([tf.reshape(t, [-1]) for t in tensors], axis=0)


def _unflat(vector: tf.Tensor, like: list[tf.Tensor]) -> list[tf.Tensor]:
    sizes = [int(np.prod(t.shape)) for t in like]
    return [tf.reshape(part, t.shape) for part, t in zip(tf.split(vector, sizes), like)]
