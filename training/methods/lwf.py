"""Learning without forgetting, --lwf-lambda: while a new task trains, the network's answers
on its images for the earlier tasks are held to those the network gave as the last period
ended (knowledge distillation; no old example is kept). Two forms (--lwf-form): Li and
Hoiem 2016's, and van de Ven and Tolias 2018's, whose LwF cells Hsu et al. 2018 reprinted."""

from __future__ import annotations

from errors import UserError
from lazy import LazyModule
from tasks.registry import TASKS
from training.losses import cross_entropies
from training.methods.base import TASK_PERIODS, Method
from training.settings import setting

tf = LazyModule("tensorflow")
builder = LazyModule("models.builder")
FORMS = ("li-hoiem", "van-de-ven")


class LwF(Method):
    """Li and Hoiem's form (`form="li-hoiem"`, the default): adds lambda * sum over the
    earlier tasks' outputs of the cross-entropy between the softened answers of the network
    as the last period ended, softmax(old / T), and the present network's, softmax(new / T),
    over the earlier tasks' classes (their lambda_o = 1 and T = 2 by default). With a head
    per task, each ended task's head is distilled on the batch's images (the task training
    now excepted); with one shared head, the classes of the ended tasks are.

    Van de Ven and Tolias's form (`form="van-de-ven"`, one shared head; their
    GMvandeVen/continual-learning, `--replay=current --distill`): at the t-th task trained
    (t counts the distinct tasks trained so far, the present one included) the loss is
        (1/t) * CE + (1 - 1/t) * lambda * D,
        D = T^2 * mean over the batch and the A active classes of
            -p_old[c] * log softmax(new / T)[c],
    CE the batch's cross-entropy as the run trains it; the active classes are those of
    every task trained so far (the domain scenario: the shared classes), the present
    network's softmax runs over all of them, and the targets p_old are softmax(old / T)
    over the ended tasks' classes with zero at the present task's new ones, which pushes
    those down on the new images. As a loss term on top of the run's CE this adds
    (1 - 1/t) * (lambda * D - CE). Their code has no lambda: lambda = 1 is their form."""

    name = "lwf"
    description = ("learning without forgetting (Li and Hoiem 2016, or van de Ven and Tolias "
                   "2018's form): the earlier tasks' answers on the new task's images distilled "
                   "from the network as the last period ended")
    settings = {
        "lwf_lambda": setting(0.0, "method", bound="non-negative", zero="off", help=(
            "--mode switch: learning without forgetting's strength (Li and Hoiem 2016): "
            "lambda times the cross-entropy from the network's softened answers for the "
            "earlier tasks as the last period ended to its present ones, on the new task's "
            "images; 0: off")),
        "lwf_temperature": setting(2.0, "method", bound="positive", help=(
            "--lwf-lambda: the distillation's temperature T (Li and Hoiem's)")),
        "lwf_form": setting("li-hoiem", "method", choices=FORMS, help=(
            "--lwf-lambda: li-hoiem: loss + lambda * the distillation over the earlier "
            "tasks' classes; van-de-ven (van de Ven and Tolias 2018, one shared head): at "
            "the t-th task, (1/t) * loss + (1 - 1/t) * lambda * T^2 * the distillation "
            "averaged over the batch and every class trained so far, the present task's "
            "with zero targets")),
    }
    needs = (TASK_PERIODS,)
    order = 90
    example = ("--lwf-lambda", "1")
    variants = {"van-de-ven": ("--lwf-lambda", "1", "--lwf-form", "van-de-ven")}
    remedy = "lower --lwf-lambda or --learning-rate"

    @classmethod
    def check(cls, config) -> None:
        if config.lwf_form == "van-de-ven" and config.head != "shared":
            raise UserError("--lwf-form van-de-ven is van de Ven and Tolias's form for one "
                            "shared head (the domain and class scenarios); with --head "
                            "per-task give --lwf-form li-hoiem")

    def __init__(self, model: tf.keras.Model, task_classes: list[tuple[int, ...]],
                 strength: float, temperature: float, heads: int = 1, form: str = "li-hoiem"):
        if form not in FORMS or (form == "van-de-ven" and heads > 1):
            raise ValueError(f"LwF's form {form!r} with {heads} heads: the forms are li-hoiem "
                             "and van-de-ven, the latter for one shared head")
        self.strength, self.temperature, self.heads = strength, temperature, heads
        self.form = form
        self.task_classes = task_classes
        self.previous = tf.keras.models.clone_model(model)  # The network as a period ended.
        self.previous.set_weights(model.get_weights())
        # With a head per task on shared layers, one pass of each network gives every
        # head's answers (the model's, as loss_term is given it, and the copy's).
        pair = ((builder.every_head(model), builder.every_head(self.previous)) if heads > 1
                else (None,))
        self.every = pair if None not in pair else None
        classes = model.output_shape[-1]
        self.ended = tf.Variable(tf.zeros([len(task_classes)]), trainable=False)
        self.old = tf.Variable(tf.zeros([classes], tf.bool), trainable=False)  # Shared head.
        self.active = tf.Variable(0, trainable=False)

    @classmethod
    def for_run(cls, config, model, tasks) -> "LwF":
        return cls(model, [TASKS[task.name].classes_of(config.labels) for task in tasks],
                   config.lwf_lambda, config.lwf_temperature,
                   heads=len(tasks) if config.head == "per-task" else 1,
                   form=config.lwf_form)

    @property
    def state_variables(self) -> list[tf.Variable]:
        return [*self.previous.variables, self.ended, self.old, self.active]

    def distillation(self, old_logits: tf.Tensor, new_logits: tf.Tensor,
                     classes: tf.Tensor) -> tf.Tensor:
        """The batch's mean cross-entropy from softmax(old / T) to softmax(new / T) over
        the class indices `classes`."""
        old = tf.gather(old_logits, classes, axis=-1) / self.temperature
        new = tf.gather(new_logits, classes, axis=-1) / self.temperature
        return tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(
            labels=tf.nn.softmax(old), logits=new))

    def van_de_ven(self, old_logits: tf.Tensor, logits: tf.Tensor,
                   labels: tf.Tensor) -> tf.Tensor:
        """(1 - 1/t) * (lambda * D - CE): van de Ven and Tolias's loss less the run's CE."""
        classes = logits.shape[-1]
        present = tf.one_hot(self.active, len(self.task_classes))
        started = tf.maximum(self.ended, present)  # The tasks trained so far.
        weight = 1.0 - 1.0 / tf.reduce_sum(started)
        # The active classes: the ended tasks' (self.old) and the present task's.
        membership = tf.constant([[float(c in task) for c in range(classes)]
                                  for task in self.task_classes])  # [tasks, classes]
        active = tf.where(tf.logical_or(self.old, tf.linalg.matvec(
            membership, present, transpose_a=True) > 0))[:, 0]
        old_classes = tf.where(self.old)[:, 0]
        # softmax(old / T) over the ended tasks' classes, zero at every other class.
        targets = tf.matmul(
            tf.nn.softmax(tf.gather(old_logits, old_classes, axis=-1) / self.temperature),
            tf.one_hot(old_classes, classes))
        log_new = tf.nn.log_softmax(tf.gather(logits, active, axis=-1) / self.temperature)
        distillation = self.temperature ** 2 * tf.reduce_mean(
            -tf.gather(targets, active, axis=-1) * log_new)
        cross_entropy = tf.reduce_mean(cross_entropies(logits, labels))
        return weight * (self.strength * distillation - cross_entropy)

    def loss_term(self, model, inputs, labels, logits) -> tf.Tensor:
        if self.form == "van-de-ven":
            return self.van_de_ven(self.previous(inputs, training=False), logits, labels)
        if self.heads == 1:
            old_classes = tf.where(self.old)[:, 0]
            term = self.distillation(self.previous(inputs, training=False), logits, old_classes)
            return self.strength * tf.reduce_max(self.ended) * term
        images, _ = inputs
        weights = self.ended * (1.0 - tf.one_hot(self.active, self.heads))
        total = tf.constant(0.0)
        if self.every is not None:
            now, before = (tf.reshape(network(images, training=training),
                                      [-1, self.heads, logits.shape[-1]])
                           for network, training in zip(self.every, (True, False)))
            for k in range(self.heads):
                classes = tf.constant(self.task_classes[k], tf.int64)
                total += weights[k] * self.distillation(before[:, k], now[:, k], classes)
            return self.strength * total
        for k in range(self.heads):  # The signal enters below the heads: a pass a head.
            signal = tf.one_hot(tf.fill(tf.shape(labels), k), self.heads)
            classes = tf.constant(self.task_classes[k], tf.int64)
            total += weights[k] * self.distillation(
                self.previous((images, signal), training=False),
                model((images, signal), training=True), classes)
        return self.strength * total

    def period_end(self, run, step: int) -> None:
        ended = run.periods.task_index_at(step - 1)
        self.previous.set_weights(run.model.get_weights())
        self.ended.assign(tf.tensor_scatter_nd_update(self.ended, [[ended]], [1.0]))
        classes = self.task_classes[ended]
        self.old.assign(tf.tensor_scatter_nd_update(
            self.old, [[c] for c in classes], [True] * len(classes)))

    def period_start(self, run, step: int) -> None:
        self.active.assign(run.periods.task_index_at(step))
