"""Experience replay with a reservoir buffer (ER), --er-buffer: every example trained on so far
has the same chance to be in the buffer, and each step trains on its batch and a draw of the
buffer as one batch (Chaudhry et al. 2019's ER as the DER paper's code runs it: Mammoth's
models/er.py and utils/buffer.py). The buffer's Reservoir is DER's and DER++'s too."""

from __future__ import annotations

from lazy import LazyModule
from seeds import derive_seed
from training.losses import cross_entropies
from training.methods.base import SWITCH_MODE, Method
from training.settings import setting

tf = LazyModule("tensorflow")


class Reservoir:
    """A buffer of `capacity` examples filled by reservoir sampling (Vitter's algorithm R, as
    Mammoth's Buffer): the stream's n-th example (from 0) takes slot n while there is room,
    and after that a slot drawn uniformly from 0..n, kept only if it is below `capacity`, so
    that every example offered has the same chance, capacity / offered, to be held. It keeps
    the network's inputs (each of their parts: the images, a task signal) and, as asked,
    the labels and the network's outputs; `seen` counts the examples offered.

    A batch goes in at once: its examples take their slots in order, a later one of the
    batch overwriting an earlier one's slot, as one at a time. The random numbers are
    stateless, seeded by (`seed`, `seen`), so a resumed run, its variables restored,
    draws what the uninterrupted one drew."""

    def __init__(self, capacity: int, input_specs: list, seed: int, labels: bool = True,
                 classes: int | None = None):
        self.capacity, self.seed = capacity, seed
        self.inputs = [tf.Variable(tf.zeros([capacity, *spec.shape[1:]], spec.dtype),
                                   trainable=False) for spec in input_specs]
        self.labels = (tf.Variable(tf.zeros([capacity], tf.int32), trainable=False)
                       if labels else None)
        self.outputs = (tf.Variable(tf.zeros([capacity, classes]), trainable=False)
                        if classes else None)
        self.seen = tf.Variable(tf.constant(0, tf.int64), trainable=False)

    @property
    def variables(self) -> list[tf.Variable]:
        kept = [self.labels, self.outputs]
        return [*self.inputs, *(v for v in kept if v is not None), self.seen]

    def held(self) -> tf.Tensor:
        """The examples in the buffer: min(seen, capacity)."""
        return tf.minimum(self.seen.read_value(), self.capacity)

    def add(self, inputs, labels: tf.Tensor, outputs: tf.Tensor | None = None) -> None:
        """Offers a batch: its inputs, labels and the network's outputs for it."""
        parts = tf.nest.flatten(inputs)
        seen = self.seen.read_value()
        count = tf.shape(parts[0], out_type=tf.int64)[0]
        slots = reservoir_slots(seen, count, self.capacity,
                                tf.stack([tf.constant(self.seed, tf.int64), seen]))
        kept = tf.where(slots >= 0)[:, 0]
        index = tf.gather(slots, kept)[:, None]
        for variable, part in zip(self.inputs, parts):
            variable.scatter_nd_update(index, tf.gather(part, kept))
        if self.labels is not None:
            self.labels.scatter_nd_update(index, tf.gather(labels, kept))
        if self.outputs is not None:
            self.outputs.scatter_nd_update(index, tf.gather(outputs, kept))
        self.seen.assign_add(count)

    def draw(self, size: int, seed: tf.Tensor) -> tf.Tensor:
        """min(size, held) distinct slots drawn uniformly (Mammoth's get_data: without
        replacement), with the stateless `seed`; slot 0, its zeros, while the buffer is
        empty (what is drawn then is weighed out: see ER.loss_term)."""
        held = tf.cast(tf.maximum(self.held(), 1), tf.int32)
        return tf.random.experimental.stateless_shuffle(tf.range(held), seed)[:size]

    def take(self, slots: tf.Tensor) -> tuple:
        """(inputs, labels, outputs) held at `slots`, as the network takes them; None for
        what the buffer does not keep."""
        parts = [tf.gather(variable, slots) for variable in self.inputs]
        inputs = parts[0] if len(parts) == 1 else tuple(parts)
        labels = None if self.labels is None else tf.gather(self.labels, slots)
        outputs = None if self.outputs is None else tf.gather(self.outputs, slots)
        return inputs, labels, outputs


def reservoir_slots(seen: tf.Tensor, count: tf.Tensor, capacity: int,
                    seed: tf.Tensor) -> tf.Tensor:
    """The slot each of `count` examples takes in a reservoir of `capacity` offered `seen`
    before them, or -1 where it is not kept (or a later one of the batch takes its slot)."""
    number = seen + tf.range(count, dtype=tf.int64)  # Each example's place in the stream.
    uniform = tf.random.stateless_uniform(tf.reshape(count, [1]), seed, dtype=tf.float64)
    chosen = tf.cast(tf.floor(uniform * tf.cast(number + 1, tf.float64)), tf.int64)  # 0..n
    slots = tf.where(number < capacity, number,
                     tf.where(chosen < capacity, chosen, tf.constant(-1, tf.int64)))
    order = tf.range(count)
    overwritten = tf.reduce_any(tf.logical_and(tf.equal(slots[:, None], slots[None, :]),
                                               order[None, :] > order[:, None]), axis=1)
    return tf.where(overwritten, tf.constant(-1, tf.int64), slots)


class ER(Method):
    """A reservoir buffer of --er-buffer examples, filled after each update with the step's
    batch as the network took it; every step draws --er-batch of them (as many as it holds,
    up to that; none while it is empty) and trains on the batch and the draw as one batch:
    the cross-entropy's mean over both, (n CE_batch + m CE_draw) / (n + m). As a loss term
    on top of the run's CE it adds m / (n + m) (CE_draw - CE_batch).

    Mammoth's ER (models/er.py; the same in its arXiv-v1 code, hastings24/mammoth 4b26d48)
    concatenates the batch and the draw into one forward pass; here they are two passes
    of the same network, the same loss for a network whose every layer acts on each
    example alone (a batch normalisation would see two batches). It keeps no period
    hook, so it runs on a task-free stream (MNIST-360)."""

    name = "er"
    description = ("experience replay (ER, as the DER paper's code): a reservoir buffer of the "
                   "examples trained on so far, a draw of it trained on with every batch")
    settings = {
        "er_buffer": setting(0, "method", bound="non-negative", zero="off", help=(
            "--mode switch: experience replay: a reservoir buffer of this many of the "
            "examples trained on (each equally likely to be kept); every step trains on its "
            "batch and a draw of the buffer as one batch; 0: off")),
        "er_batch": setting(10, "method", bound="positive", help=(
            "--er-buffer: buffer examples drawn each step, without replacement (Mammoth's "
            "minibatch_size)")),
    }
    needs = (SWITCH_MODE,)
    excludes = {"seen-classes": "do not go together: the buffer's examples train every "
                                "output (as Mammoth's), the batch's only the classes seen"}
    order = 140
    example = ("--er-buffer", "30")
    keeps_labels, keeps_outputs = True, False  # What the buffer holds beside the inputs.

    def __init__(self, model: tf.keras.Model, size: int, batch: int, seed: int):
        self.batch, self.seed = batch, seed
        classes = model.output_shape[-1] if self.keeps_outputs else None
        self.buffer = Reservoir(size, model.inputs, derive_seed(seed, "reservoir"),
                                labels=self.keeps_labels, classes=classes)

    @classmethod
    def for_run(cls, config, model, tasks) -> "ER":
        return cls(model, config.er_buffer, config.er_batch, derive_seed(config.seed, cls.name))

    @property
    def state_variables(self) -> list[tf.Variable]:
        return self.buffer.variables

    def draw_seed(self, purpose: str) -> tf.Tensor:
        """The stateless seed of this step's draw for `purpose`: (its seed, examples seen)."""
        return tf.stack([tf.constant(derive_seed(self.seed, purpose), tf.int64),
                         self.buffer.seen.read_value()])

    def loss_term(self, model, inputs, labels, logits) -> tf.Tensor:
        # Weighed by whether the buffer holds anything, not a tf.cond: the gradient of a
        # cond's branch cannot reach what a custom gradient (the fast conv kernels) keeps.
        held = tf.cast(self.buffer.held() > 0, tf.float32)
        return held * self.replayed(model, labels, logits)

    def replayed(self, model, labels: tf.Tensor, logits: tf.Tensor) -> tf.Tensor:
        """m / (n + m) (CE_draw - CE_batch)."""
        slots = self.buffer.draw(self.batch, self.draw_seed("draw"))
        inputs, kept_labels, _ = self.buffer.take(slots)
        drawn = tf.reduce_mean(cross_entropies(model(inputs, training=True), kept_labels))
        own = tf.reduce_mean(cross_entropies(logits, labels))
        n, m = (tf.cast(tf.size(x), tf.float32) for x in (labels, slots))
        return m / (n + m) * (drawn - own)

    def after_batch(self, inputs, labels, outputs) -> None:
        self.buffer.add(inputs, labels, outputs)
