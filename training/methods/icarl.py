"""iCaRL (Rebuffi et al. 2017) as the DER paper's code runs it (Mammoth's models/icarl.py and
utils/buffer.py), --icarl-memory: exemplars of every class seen, chosen by herding as each
period ends, trained on with the next task's examples under a sigmoid loss distilled from the
network as the period ended, and a nearest-mean-of-exemplars classifier for evaluation."""

from __future__ import annotations

import numpy as np

from errors import UserError
from lazy import LazyModule
from seeds import derive_seed
from tasks.registry import TASKS, task_classes
from training.losses import cross_entropies
from training.methods.base import TASK_PERIODS, Method
from training.settings import setting

tf = LazyModule("tensorflow")
layers = LazyModule("models.layers")
streams = LazyModule("tasks.streams")
task_module = LazyModule("tasks.task")

CLASS_MEANS = ("exemplars", "batch-halving")
CHUNK = 1000  # Training examples prepared at once for their features.


class ICaRL(Method):
    """The memory holds --icarl-memory exemplars. As a period ends (or, for the period that
    an evaluation or the run's end closes, as that evaluation starts: Mammoth evaluates
    after its end_task) the network is copied, every class of the tasks ended so far gets
    per = memory // their number: the ended task's classes `per` of its training
    examples each, chosen by herding on the network's features (its last layer's inputs)
    in the order herding picks them, the others keeping the first `per` of theirs.

    Training: while a later task trains, its period's set is its examples and the
    memory's, once each, shuffled each epoch (Mammoth's icarl_replay adds the buffer to
    the task's training set), so --task-epochs counts the memory in an epoch. The loss is
    the binary cross-entropy of sigmoid(logits), averaged over the batch and the classes
    seen (the ended tasks' and the training one's), the targets the one-hot label on the
    training task's classes and, on the ended tasks' other classes, sigmoid of the copy's
    logits (no temperature), plus --icarl-weight-decay * sum theta^2 (Mammoth's 2020
    wd_reg; best args 0 for MNIST). As a term on top of the run's cross-entropy it adds
    the BCE less that cross-entropy.

    Evaluation: each class's exemplars' mean feature, computed afresh at every
    evaluation (Mammoth recomputes it when it is next asked after a step or a task's
    end); an example's answer is the class whose mean is nearest (models.layers.
    NearestMean); before any period has ended, the network's own logits.

    Where this differs from Mammoth's (aimagelab 0d727a7 and e2d9727): a task that trains
    again has its classes herded again, replacing their exemplars (Mammoth's tasks come
    once); herding is computed in float64 as argmin ||f||^2 - 2 f . (k mean - sum chosen),
    the same argmin as Mammoth's float32 norm but for near ties; Mammoth's class mean is
    the mean of --batch-sized chunks of the exemplars averaged in by halves
    (--icarl-class-mean batch-halving; the default, exemplars, is the plain mean, as the
    iCaRL paper and Mammoth's arXiv-v1 code); minibatch_size is unused, as in Mammoth's
    form (its arXiv-v1 code drew the memory as a second batch each step)."""

    name = "icarl"
    description = ("iCaRL (Rebuffi et al. 2017, as the DER paper's code): herded exemplars of "
                   "every class seen, a sigmoid loss distilled from the network as the last "
                   "period ended, and a nearest-mean-of-exemplars classifier")
    settings = {
        "icarl_memory": setting(0, "method", bound="non-negative", zero="off", help=(
            "--mode switch: iCaRL (Rebuffi et al. 2017, as Mammoth): this many exemplars, "
            "shared equally among the classes seen and chosen by herding as each period "
            "ends, trained on with the next tasks; a sigmoid loss distilled from the "
            "network as the last period ended; evaluated by the nearest mean of "
            "exemplars; 0: off")),
        "icarl_weight_decay": setting(0.0, "method", bound="non-negative", help=(
            "--icarl-memory: wd in the loss's wd * sum of the squared weights (Mammoth's "
            "wd_reg; 0 in its best args for MNIST)")),
        "icarl_class_mean": setting("exemplars", "method", choices=CLASS_MEANS, help=(
            "--icarl-memory: each class's mean feature for the nearest-mean classifier: "
            "exemplars, the mean over its exemplars; batch-halving, Mammoth's: the means "
            "of batches of --batch of them, in herding order, averaged in by halves")),
    }
    needs = (TASK_PERIODS,)
    excludes = {"replay": "both draw the period's batches", "rehearsal": "both draw the "
                "period's batches"}
    order = 170
    example = ("--icarl-memory", "30")
    variants = {"batch-halving": ("--icarl-memory", "40", "--icarl-class-mean",
                                  "batch-halving")}
    remedy = "lower --learning-rate"

    @classmethod
    def check(cls, config) -> None:
        if not config.icarl_memory:
            return
        if config.head != "shared":
            raise UserError("--icarl-memory is iCaRL on one shared head, whose nearest mean "
                            "of exemplars answers among every class: give --head shared "
                            "(--scenario class, or domain)")
        classes = task_classes(config.tasks, config.labels)
        if config.icarl_memory < classes:
            raise UserError(f"--icarl-memory {config.icarl_memory} keeps too few exemplars "
                            f"for one of each of the run's {classes} classes")

    def __init__(self, model: tf.keras.Model, tasks: list, classes: list[tuple[int, ...]],
                 memory: int, batch: int, seed: int, weight_decay: float = 0.0,
                 class_mean: str = "exemplars"):
        self.tasks, self.task_classes, self.memory = list(tasks), classes, memory
        self.batch, self.seed = batch, seed
        self.weight_decay, self.class_mean = weight_decay, class_mean
        outputs = model.output_shape[-1]
        self.membership = tf.constant([[c in own for c in range(outputs)] for own in classes])
        self.previous = tf.keras.models.clone_model(model)  # The network as a period ended.
        self.previous.set_weights(model.get_weights())
        features = model.layers[-1].input  # The output layer's inputs.
        self.features = tf.keras.Model(model.input, features)
        self.means = layers.NearestMean(outputs, name="nearest_mean")
        self.nearest = tf.keras.Model(model.input, self.means([features, model.output]))
        rows = dict(shape=tf.TensorShape([None]), trainable=False)
        # The memory, a row an exemplar: its task, its example there, its class; grouped by
        # class in class order, each class's in herding order.
        self.task_ids = tf.Variable(tf.zeros([0], tf.int32), **rows)
        self.example_ids = tf.Variable(tf.zeros([0], tf.int64), **rows)
        self.classes = tf.Variable(tf.zeros([0], tf.int32), **rows)
        self.old = tf.Variable(tf.zeros([outputs], tf.bool), trainable=False)  # Ended classes.
        self.active = tf.Variable(0, trainable=False)  # The task training now.
        self.herded_at = tf.Variable(tf.constant(-1, tf.int64), trainable=False)
        self._period: int | None = None  # The period whose set the stream holds.
        self._mixed = False
        self._stream = None
        self._counts: dict[str, np.ndarray] = {}

    @classmethod
    def for_run(cls, config, model, tasks) -> "ICaRL":
        return cls(model, tasks, [TASKS[task.name].classes_of(config.labels) for task in tasks],
                   config.icarl_memory, config.batch, derive_seed(config.seed, cls.name),
                   config.icarl_weight_decay, config.icarl_class_mean)

    @property
    def state_variables(self) -> list[tf.Variable]:
        return [*self.previous.variables, self.task_ids, self.example_ids, self.classes,
                self.old, self.active, self.herded_at]

    def loss_term(self, model, inputs, labels, logits) -> tf.Tensor:
        """iCaRL's loss less the run's cross-entropy."""
        current = tf.gather(self.membership, self.active)
        old = tf.logical_and(self.old, tf.logical_not(current))
        seen = tf.where(tf.logical_or(old, current))[:, 0]
        distilled = tf.sigmoid(self.previous(inputs, training=False))
        targets = tf.where(current, tf.one_hot(labels, logits.shape[-1]),
                           tf.where(old, distilled, 0.0))
        loss = tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(
            labels=tf.gather(targets, seen, axis=1), logits=tf.gather(logits, seen, axis=1)))
        if self.weight_decay:
            loss += self.weight_decay * tf.add_n([tf.reduce_sum(tf.square(v))
                                                  for v in model.trainable_variables])
        return loss - tf.reduce_mean(cross_entropies(logits, labels))

    def period_end(self, run, step: int) -> None:
        if int(self.herded_at.numpy()) != step:
            self.herd(run, step)

    def period_start(self, run, step: int) -> None:
        self.active.assign(run.periods.task_index_at(step))

    def evaluated_model(self, run, step: int) -> tf.keras.Model:
        """The nearest mean of exemplars, the memory herded first if `step` ends a period."""
        ends = step > 0 and (run.schedule.finished(step)
                             or run.periods.period_at(step - 1)[2] == step)
        if ends and int(self.herded_at.numpy()) != step:
            self.herd(run, step)
        self.set_means()
        return self.nearest

    def herd(self, run, step: int) -> None:
        """The period that ran to `step` has ended: the copy, the classes ended and the
        memory as the next period needs them."""
        ended = run.periods.task_index_at(step - 1)
        task, own = self.tasks[ended], self.task_classes[ended]
        self.previous.set_weights(run.model.get_weights())
        old = self.old.numpy() | np.isin(np.arange(len(self.old.numpy())), own)
        self.old.assign(old)
        per = self.memory // int(old.sum())
        task_ids, example_ids, classes = (v.numpy() for v in (self.task_ids, self.example_ids,
                                                              self.classes))
        kept = ~np.isin(classes, own) & (_ranks(classes) < per)
        features, labels = self._task_features(task)
        chosen = [np.flatnonzero(labels == c) for c in sorted(own)]
        chosen = [rows[herding(features[rows], per)] for rows in chosen]
        new_ids = np.concatenate([*chosen, np.zeros(0, np.int64)])
        task_ids = np.concatenate([task_ids[kept], np.full(len(new_ids), ended)])
        example_ids = np.concatenate([example_ids[kept], new_ids])
        classes = np.concatenate([classes[kept], labels[new_ids]])
        order = np.argsort(classes, kind="stable")
        self.task_ids.assign(task_ids[order].astype(np.int32))
        self.example_ids.assign(example_ids[order].astype(np.int64))
        self.classes.assign(classes[order].astype(np.int32))
        self.herded_at.assign(step)

    def _task_features(self, task) -> tuple[np.ndarray, np.ndarray]:
        """The network's features (eval mode) of every training example of `task`, and
        their labels."""
        size = len(task.train)
        seed = derive_seed(self.seed, "features", task.name)
        features = []
        for number, start in enumerate(range(0, size, CHUNK)):
            index = tf.range(start, min(start + CHUNK, size))
            inputs, _ = task.prepare(*task.train.take(index),
                                     tf.constant([seed, number], tf.int64))
            features.append(self.features(inputs, training=False).numpy())
        return np.concatenate(features), task.train.label_array()

    def set_means(self) -> None:
        """Each class's mean feature over its exemplars (as --icarl-class-mean says), from
        the network as it is now, into the nearest-mean classifier."""
        classes = self.classes.numpy()
        means = np.zeros(self.means.means.shape, np.float32)
        present = np.zeros(self.means.present.shape, np.float32)
        if len(classes):
            inputs, _ = task_module.mixed_batch(
                self.tasks, self.task_ids, self.example_ids,
                tf.constant([derive_seed(self.seed, "means"), 0], tf.int64))
            features = self.features(inputs, training=False).numpy()
            for c in np.unique(classes):
                means[c] = class_mean(features[classes == c], self.class_mean, self.batch)
                present[c] = 1.0
        self.means.means.assign(means)
        self.means.present.assign(present)

    def memory_examples(self, period: int, tasks: list) -> int:
        """The memory's exemplars as period `period` starts: per = memory // the classes of
        the tasks ended so far, each class min(per, its examples in the task that last
        trained it)."""
        examples = {}
        for earlier in range(max(0, period - len(tasks)), period):
            index = earlier % len(tasks)
            counts = self._class_counts(tasks[index])
            examples.update({c: int(counts[c]) for c in self.task_classes[index]})
        if not examples:
            return 0
        per = self.memory // len(examples)
        return sum(min(per, count) for count in examples.values())

    def _class_counts(self, task) -> np.ndarray:
        if task.name not in self._counts:
            self._counts[task.name] = np.bincount(task.train.label_array(),
                                                  minlength=len(self.old.numpy()))
        return self._counts[task.name]

    def batches(self, run, step: int, batches):
        """A later period's batches: its task's examples and the memory's, once each, as one
        set shuffled each epoch (from where `step` stands in the period)."""
        period, start, end = run.periods.period_at(step)
        if self._period != period:
            self._period = period
            active, batch = period % len(run.tasks), run.config.batch
            memory_tasks, memory_examples = self.task_ids.numpy(), self.example_ids.numpy()
            self._mixed = len(memory_tasks) > 0
            if self._mixed:
                own = len(run.tasks[active].train)
                task_ids = np.concatenate([np.full(own, active), memory_tasks]).astype(np.int32)
                example_ids = np.concatenate([np.arange(own), memory_examples]).astype(np.int64)
                rows = (end - start) * batch
                rng = np.random.default_rng(derive_seed(self.seed, "set", str(period)))
                order = np.concatenate([rng.permutation(len(task_ids))
                                        for _ in range(-(-rows // len(task_ids)))])[:rows]
                self._stream = self._stream or streams.MixStream(run.tasks, batch)
                self._stream.use(task_ids[order], example_ids[order],
                                 derive_seed(self.seed, "batches", str(period)),
                                 start=step - start)
        return self._stream if self._mixed else batches


def herding(features: np.ndarray, count: int) -> np.ndarray:
    """iCaRL's herding of one class (Mammoth's fill_buffer): the indices of min(count, rows)
    rows of `features`, in the order chosen; the k-th chosen is the row f, not chosen yet,
    that brings the mean of the chosen nearest the class's mean mu, argmin ||mu - (sum of
    the chosen + f) / k||, computed as argmin ||f||^2 - 2 f . (k mu - sum of the chosen)."""
    features = np.asarray(features, np.float64)
    if not len(features):
        return np.zeros(0, np.int64)
    mean = features.mean(axis=0)
    squares = np.einsum("ij,ij->i", features, features)
    total, free, chosen = np.zeros_like(mean), np.ones(len(features), bool), []
    for k in range(1, min(count, len(features)) + 1):
        cost = np.where(free, squares - 2.0 * features @ (k * mean - total), np.inf)
        pick = int(np.argmin(cost))
        chosen.append(pick)
        free[pick] = False
        total += features[pick]
    return np.array(chosen, np.int64)


def class_mean(features: np.ndarray, form: str, batch: int) -> np.ndarray:
    """A class's mean feature from its exemplars' `features` (in herding order): their mean
    ("exemplars"), or Mammoth's ("batch-halving"): the means of consecutive batches of
    `batch`, the running mean starting at the first's and each next averaged in as
    (running + its) / 2, which weighs the last batches most."""
    if form == "exemplars":
        return features.mean(axis=0)
    running = None
    for start in range(0, len(features), batch):
        chunk = features[start:start + batch].mean(axis=0)
        running = chunk if running is None else (running + chunk) / 2
    return running


def _ranks(classes: np.ndarray) -> np.ndarray:
    """Each row's place among its class's rows, for rows grouped by class in class order."""
    return np.arange(len(classes)) - np.searchsorted(classes, classes, side="left")
