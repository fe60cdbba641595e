"""The training-method protocol (`Method`: what a method declares, and its hooks, each a no-op)
and `Methods`, a run's methods together: the one object the compiled training step and
the run loop call.

TensorFlow-free to import, as every method's file is (training.methods says why):
TensorFlow is a LazyModule here, loaded when a hook first runs."""

from __future__ import annotations

import dataclasses
from typing import Callable, Mapping

from lazy import LazyModule
from tasks.registry import TASKS
from training.losses import correct, cross_entropies
from training.settings import flag_name

tf = LazyModule("tensorflow")


@dataclasses.dataclass(frozen=True)
class Need:
    """What a method needs of the rest of its run (`holds`, of the config), and what a run
    without it is told: `refusal`, formatted with `flag` (the flag that turns the method
    on), `name` (the method's), `flags` (those of every method with this need) and
    `config`. `implies`: the needs this one includes, checked before it."""

    holds: Callable[[object], bool]
    refusal: str
    implies: tuple["Need", ...] = ()

    def with_implied(self) -> list["Need"]:
        """The needs this one includes, then itself."""
        return [*(n for need in self.implies for n in need.with_implied()), self]


def _has_task_boundaries(config) -> bool:
    """Whether the run's tasks end and start: any run but of a task-free stream (MNIST-360)
    trained as it comes (offline training takes its examples as one set)."""
    return config.mode == "offline" or not any(TASKS[name].stream for name in config.tasks)


# Task boundaries: a task's period ends and the next starts (a task-free stream has none).
TASK_BOUNDARIES = Need(
    _has_task_boundaries,
    "{flag} ({name}) acts at task boundaries, and the task-free stream {config.tasks[0]} "
    "has none; run {name} on tasks with boundaries, or {config.tasks[0]} without it")
# Task periods: one task at a time, switched on the schedule, so that a period ends.
TASK_PERIODS = Need(
    lambda config: (config.mode, config.schedule) == ("switch", "switch"),
    "{flags} mitigate forgetting between task periods: they need --mode switch on the "
    "switch schedule (episodes replay by design)", implies=(TASK_BOUNDARIES,))
SWITCH_SCHEDULE = Need(lambda config: config.schedule == "switch",
                       "{flag} needs the switch schedule, not --schedule {config.schedule}")
# The batches one at a time as the run's stream gives them (its task's, or a task-free
# stream's): --mode switch, on any schedule.
SWITCH_MODE = Need(lambda config: config.mode == "switch",
                   "{flag} learns from the batches of the run's stream as they come: it needs "
                   "--mode switch, not --mode {config.mode}")


class Method:
    """A training method: its declaration, which the registry (training.methods) reads
    without TensorFlow, and its hooks (training.methods says what each is for)."""

    name: str | None = None  # The registry's key; a class without its own is not a method.
    description = ""
    # Its own RunConfig fields, by name: training.settings.setting(default, "method", help,
    # ...), with `bound` and `choices` checked for every run.
    settings: Mapping[str, dataclasses.Field] = {}
    mode: str | None = None  # The --mode that is this method, if it is one.
    needs: tuple[Need, ...] = ()  # Checked when a run uses the method.
    excludes: Mapping[str, str] = {}  # Methods it cannot run with, and why ("both ...").
    # Where it stands among a run's methods: their loss terms are added, their hooks
    # called and their state checkpointed in this order, so an existing method's never
    # changes (a checkpoint's layout depends on it); a new one goes after them.
    order = 1000
    example: tuple[str, ...] = ()  # Flags that turn it on in a small run (tests use them).
    variants: Mapping[str, tuple[str, ...]] = {}  # Other flags worth testing it with.

    stream: str | None = None  # "joint" or "alternate": the run's training stream.
    remedy: str | None = None  # What a diverged run's message advises, beside the default.
    # Whether after_update needs the gradients of the batch's plain loss (without the
    # methods' terms), which then cost a second backward pass through the same tape.
    needs_loss_gradients = False

    @classmethod
    def used(cls, config) -> bool:
        """Whether a run with this config uses the method: its mode is the run's, or (a
        method of no mode) its first setting, its strength or its memory, is not zero."""
        if cls.mode is not None:
            return config.mode == cls.mode
        return bool(getattr(config, next(iter(cls.settings))))

    @classmethod
    def check(cls, config) -> None:
        """Refuses (UserError) settings that the declarations cannot say are wrong; called
        for every run, whether it uses the method or not."""

    @classmethod
    def flags(cls) -> list[str]:
        """The flags that turn the method on and tune it, as the user types them."""
        own = [f"--{flag_name(name, field)}" for name, field in cls.settings.items()]
        return [f"--mode {cls.mode}", *own] if cls.mode is not None else own

    @classmethod
    def for_run(cls, config, model: tf.keras.Model, tasks: list) -> "Method":
        """The method as a run with this config, model and tasks uses it."""
        return cls()

    @property
    def trained_variables(self) -> list[tf.Variable]:
        """Variables trained beside the model's."""
        return []

    @property
    def state_variables(self) -> list[tf.Variable]:
        """What a checkpoint must hold beside the model and optimizer."""
        return []

    def train_logits(self, logits: tf.Tensor) -> tf.Tensor:
        """The logits the training loss reads (a class-incremental run leaves out the classes
        not seen yet)."""
        return logits

    def memory_examples(self, period: int, tasks: list) -> int:
        """Examples the method adds to period `period`'s training set (a rehearsal memory),
        which --task-epochs counts in an epoch."""
        return 0

    def loss_term(self, model: tf.keras.Model, inputs, labels: tf.Tensor,
                  logits: tf.Tensor) -> tf.Tensor | None:
        """A term added to the batch's mean cross-entropy, or None."""
        return None

    def gradients(self, model: tf.keras.Model, batch, step: tf.Tensor | None):
        """(gradients, variables, loss, accuracy) of a step formed this method's way, or
        None to leave it to the plain loss and its terms."""
        return None

    def adjust_gradients(self, model: tf.keras.Model, gradients: list, step: tf.Tensor | None,
                         training_loss) -> list:
        """The gradient the update applies, given the batch's (A-GEM and GEM project it off
        the past tasks' memory gradients); `training_loss(model, inputs, labels)` is the
        loss the run trains on, for other examples (a memory's)."""
        return gradients

    def after_update(self, model: tf.keras.Model, loss_gradients: list | None) -> None:
        """Runs inside the step after each update of the weights; `loss_gradients`: the
        plain loss's gradients of the model's trainable variables, if the method needs
        them (else None)."""

    def after_batch(self, inputs, labels: tf.Tensor, outputs: tf.Tensor) -> None:
        """Runs inside the step after the update (and after_update): the batch the step
        trained on, as the network took it, and the network's outputs for it from the
        step's forward pass, before the update, every class's (a buffer keeps them)."""

    def evaluated_model(self, run, step: int) -> tf.keras.Model | None:
        """The network the evaluation at `step` reads in place of the run's model (iCaRL's
        nearest mean of exemplars), made as the evaluation starts; None: the model."""
        return None

    def period_end(self, run, step: int) -> None:
        """The period that ran to `step` has ended (called as the next one starts)."""

    def period_start(self, run, step: int) -> None:
        """A period starts at `step`."""

    def batches(self, run, step: int, batches):
        """The batches the window starting at `step` draws (given: the run's stream)."""
        return batches

    def summary(self, task_names) -> dict:
        """Fields for summary.json."""
        return {}


class Methods:
    """A run's methods together. In the compiled step: the gradient of the batch's loss
    (with every method's loss term, or as the one method that forms it), then each
    method's after_update and after_batch. Between windows: the hooks of every method,
    in order; as an evaluation starts, the network it reads."""

    def __init__(self, methods: list[Method] = ()):
        self.methods = list(methods)
        forming = [m for m in self.methods if type(m).gradients is not Method.gradients]
        if len(forming) > 1:
            raise ValueError(f"{len(forming)} methods form the gradient; a run takes one")
        streams = {m.stream for m in self.methods} - {None}
        if len(streams) > 1:
            raise ValueError(f"methods ask for {len(streams)} training streams; a run has one")
        self.stream = streams.pop() if streams else "switch"
        self.remedies = [m.remedy for m in self.methods if m.remedy]
        # Only the methods with an after_update of their own are called in the step: the
        # protocol's is a docstring, which AutoGraph cannot convert (and warns of).
        self.updating = [m for m in self.methods
                         if type(m).after_update is not Method.after_update]
        self.keeping = [m for m in self.methods if type(m).after_batch is not Method.after_batch]
        if forming and self.keeping:
            raise ValueError("a method keeps the step's batch, which a method that forms the "
                             "gradient its own way does not give")
        self.evaluating = [m for m in self.methods
                           if type(m).evaluated_model is not Method.evaluated_model]
        if len(self.evaluating) > 1:
            raise ValueError(f"{len(self.evaluating)} methods replace the evaluated network; "
                             "a run takes one")

    @property
    def trained_variables(self) -> list[tf.Variable]:
        return [v for m in self.methods for v in m.trained_variables]

    @property
    def state_variables(self) -> list[tf.Variable]:
        return [v for m in self.methods for v in m.state_variables]

    def gradients(self, model: tf.keras.Model, batch, step: tf.Tensor | None = None):
        """(gradients, variables, loss, accuracy) of one step; loss is the cross-entropy."""
        return self._gradients(model, batch, step)[:4]

    def step(self, model: tf.keras.Model, optimizer, batch, step: tf.Tensor | None = None):
        """One update as the methods form it, then their after_update and after_batch
        hooks; returns the batch's (loss, accuracy)."""
        (gradients, variables, loss, accuracy, loss_gradients,
         outputs) = self._gradients(model, batch, step)
        for method in self.methods:
            gradients = method.adjust_gradients(model, gradients, step, self.training_loss)
        optimizer.apply_gradients(zip(gradients, variables))
        for method in self.updating:
            method.after_update(model, loss_gradients)
        for method in self.keeping:
            method.after_batch(*batch, outputs)
        return loss, accuracy

    def _gradients(self, model, batch, step):
        """(gradients, variables, loss, accuracy, the plain loss's gradients or None, the
        network's outputs for the batch or None)."""
        for method in self.methods:
            formed = method.gradients(model, batch, step)
            if formed is not None:
                return (*formed, None, None)
        inputs, labels = batch
        variables = model.trainable_variables
        wanted = any(m.needs_loss_gradients for m in self.methods)
        with tf.GradientTape(persistent=wanted) as tape:
            outputs = model(inputs, training=True)
            logits = self.train_logits(outputs)
            loss = tf.reduce_mean(cross_entropies(logits, labels))
            total = loss
            for method in self.methods:
                term = method.loss_term(model, inputs, labels, logits)
                if term is not None:
                    total = total + term
        gradients = tape.gradient(total, variables)
        loss_gradients = None
        if wanted:
            loss_gradients = (gradients if total is loss else tape.gradient(
                loss, variables, unconnected_gradients=tf.UnconnectedGradients.ZERO))
            del tape
        return (gradients, variables, loss, tf.reduce_mean(correct(logits, labels)),
                loss_gradients, outputs)

    def training_loss(self, model: tf.keras.Model, inputs, labels: tf.Tensor) -> tf.Tensor:
        """The mean cross-entropy a step trains on, for any examples: the logits as the
        methods leave them (without the methods' loss terms)."""
        logits = self.train_logits(model(inputs, training=True))
        return tf.reduce_mean(cross_entropies(logits, labels))

    def train_logits(self, logits: tf.Tensor) -> tf.Tensor:
        """The logits as every method leaves them for the training loss."""
        for method in self.methods:
            logits = method.train_logits(logits)
        return logits

    def period_examples(self, period: int, tasks: list) -> int:
        """The examples of period `period` (the task's, and any method's memory): what an
        epoch of --task-epochs covers."""
        own = len(tasks[period % len(tasks)].train)
        return own + sum(m.memory_examples(period, tasks) for m in self.methods)

    def period_boundary(self, run, step: int) -> None:
        """The hooks at the start of a period: the end of the one before, then the start."""
        if step > 0:
            for method in self.methods:
                method.period_end(run, step)
        for method in self.methods:
            method.period_start(run, step)

    def batches(self, run, step: int, batches):
        for method in self.methods:
            batches = method.batches(run, step, batches)
        return batches

    def evaluated_model(self, run, step: int, model: tf.keras.Model) -> tf.keras.Model:
        """The network the evaluation at `step` reads: the model, or the one method's own."""
        for method in self.evaluating:
            return method.evaluated_model(run, step) or model
        return model

    def summary(self, task_names) -> dict:
        return {key: value for m in self.methods for key, value in m.summary(task_names).items()}


PLAIN = Methods()
