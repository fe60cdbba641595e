"""Training methods: what a step trains on and minimises beyond one batch's cross-entropy,
and what happens between steps. One file a method, registered here by name.

A method is a `training.methods.base.Method`; every hook has a do-nothing default,
so a method writes only the hooks it needs. Compiled into the training step:
  loss_term(model, inputs, labels, logits)   a term added to the batch's loss
  gradients(model, batch, step)              the step's gradient, formed its own way
                                             (at most one method of a run)
  adjust_gradients(model, gradients, step, training_loss)
                                             the gradient the update applies (A-GEM and
                                             GEM project it off the memory's)
  after_update(model, loss_gradients)        after each update of the weights (with the
                                             plain loss's gradients if it asks for them)
Between windows of steps, in Python:
  period_end(run, step), period_start(run, step)
                                             as a task period ends and the next starts
                                             (at step 0 only the start); in the episodic
                                             schedule an episode is a period
  batches(run, step, batches)                the batches the window draws: a rehearsal
                                             method mixes in remembered examples
  stream                                     which training stream the run draws (the
                                             active task's, every task's at once, or
                                             the tasks in turn)
  train_logits(logits)                       the logits the training loss reads (compiled)
  memory_examples(period, tasks)             a memory's examples, counted in an epoch
  trained_variables, state_variables         trained beside the model; checkpointed
  summary(task_names), remedy                summary.json's fields; advice on divergence

Ported: joint (with its loss weightings and PCGrad), alternate, ewc, replay; added on
the seam: offline, seen-classes, l2, si, mas, lwf and rehearsal (each its file, its
entry here, its RunConfig fields and its tests), whose hooks show how the methods that come next
would use them:
  offline      only the stream: every task's examples as one set (offline.py)
  seen-classes train_logits sets the logits of classes not yet trained to -inf;
               period_start adds the new task's classes (seen_classes.py)
  SI           after_update accumulates each weight's path integral (the plain loss's
               gradient times the update); period_end turns it into importances;
               loss_term as ewc (si.py)
  MAS          period_end measures importances as the mean absolute gradient of the
               output's squared mean on the task's examples; loss_term as ewc (mas.py)
  online EWC   ewc.py with --ewc-online: period_end adds the new Fisher to one running
               sum and anchors at the latest weights
  rehearsal    memory_examples counts the memory in an epoch; batches mixes the
               task's examples and the memory's into one shuffled set (rehearsal.py)
  LwF          period_end keeps a copy of the model; loss_term distils the copy's
               outputs on the batch's inputs into the model's (lwf.py)
  A-GEM        period_end fills an episodic memory; adjust_gradients projects the
               batch's gradient off a memory batch's when they conflict (agem.py)
  GEM          as A-GEM with one memory gradient per past task and a quadratic
               programme (quadprog) in the projection (gem.py)
  DER++        batches mixes in remembered examples with the logits they had when
               stored (state_variables hold them); loss_term matches those logits and
               labels

The registry is TensorFlow-free (a method's module is imported when a run builds it),
so that --help and config checks list the methods without loading TensorFlow.
"""

import dataclasses
import importlib
from typing import Callable


@dataclasses.dataclass(frozen=True)
class MethodEntry:
    """A registered method: where its class lives, what it does, when a run uses it and the
    RunConfig fields (flags) that turn it on and tune it."""

    home: str  # "module:Class"
    description: str
    used: Callable[[object], bool]  # RunConfig -> whether the run uses the method
    settings: tuple[str, ...]


METHODS: dict[str, MethodEntry] = {
    "joint": MethodEntry(
        "training.methods.joint:JointTraining",
        "every step sums the losses of one batch of each task, weighted equally, by fixed "
        "weights or by learned uncertainty (Kendall et al. 2018), optionally with PCGrad's "
        "gradient surgery (Yu et al. 2020)",
        lambda config: config.mode == "joint",
        ("mode", "loss_weighting", "loss_weights", "pcgrad")),
    "alternate": MethodEntry(
        "training.methods.alternate:Alternate", "a different task every step, in turn",
        lambda config: config.mode == "alternate", ("mode",)),
    "offline": MethodEntry(
        "training.methods.offline:Offline",
        "every task's training examples as one set, shuffled each epoch: the upper bound "
        "that continual learning is measured against",
        lambda config: config.mode == "offline", ("mode",)),
    "seen-classes": MethodEntry(
        "training.methods.seen_classes:SeenClasses",
        "the training loss over the classes of the tasks trained so far, the other logits "
        "left out (class-incremental training, as Hsu et al. 2018)",
        lambda config: config.loss_classes == "seen" and config.mode == "switch",
        ("loss_classes",)),
    "ewc": MethodEntry(
        "training.methods.ewc:EWC",
        "elastic weight consolidation (Kirkpatrick et al. 2017): each task's weights held "
        "near their value at its period's end, by its diagonal Fisher information",
        lambda config: config.ewc_lambda > 0,
        ("ewc_lambda", "ewc_online", "ewc_fisher_examples", "ewc_fisher_labels")),
    "l2": MethodEntry(
        "training.methods.l2:L2",
        "L2 to the previous task's weights (the baseline of Hsu et al. 2018): every weight "
        "pulled toward its value as the latest period ended",
        lambda config: config.l2_lambda > 0, ("l2_lambda",)),
    "si": MethodEntry(
        "training.methods.si:SI",
        "synaptic intelligence (Zenke et al. 2017): each weight held near its value at the "
        "last period's end by how much its path moved the loss while tasks trained",
        lambda config: config.si_c > 0, ("si_c", "si_damping")),
    "mas": MethodEntry(
        "training.methods.mas:MAS",
        "memory aware synapses (Aljundi et al. 2018): each weight held near its value at the "
        "last period's end by how much the network's output moves with it",
        lambda config: config.mas_lambda > 0, ("mas_lambda",)),
    "lwf": MethodEntry(
        "training.methods.lwf:LwF",
        "learning without forgetting (Li and Hoiem 2016, or van de Ven and Tolias 2018's "
        "form): the earlier tasks' answers on the new task's images distilled from the "
        "network as the last period ended",
        lambda config: config.lwf_lambda > 0,
        ("lwf_lambda", "lwf_temperature", "lwf_form")),
    "replay": MethodEntry(
        "training.methods.replay:Replay",
        "a buffer of past tasks' training examples replayed as half of every batch",
        lambda config: config.replay_size > 0, ("replay_size",)),
    "agem": MethodEntry(
        "training.methods.agem:AGEM",
        "averaged gradient episodic memory (Chaudhry et al. 2019): a step that would raise "
        "the loss on a batch of past tasks' remembered examples is projected so it does not",
        lambda config: config.agem_memory > 0, ("agem_memory", "agem_batch")),
    "gem": MethodEntry(
        "training.methods.gem:GEM",
        "gradient episodic memory (Lopez-Paz and Ranzato 2017): each step projected, by a "
        "quadratic programme, so that no past task's remembered examples' loss rises",
        lambda config: config.gem_memory > 0, ("gem_memory", "gem_margin")),
    "rehearsal": MethodEntry(
        "training.methods.rehearsal:Rehearsal",
        "naive rehearsal (Hsu et al. 2018): a fixed memory of past tasks' training examples, "
        "trained on together with the new task's as one shuffled set",
        lambda config: config.rehearsal_memory > 0, ("rehearsal_memory",)),
}


def methods_for(config) -> list[str]:
    """The names of the methods a run uses, in registry order."""
    return [name for name, entry in METHODS.items() if entry.used(config)]


def method_class(name: str) -> type:
    """A registered method's class (its module imported now)."""
    if name not in METHODS:
        raise KeyError(f"unknown method {name!r}; known: {', '.join(METHODS)}")
    module, _, cls = METHODS[name].home.partition(":")
    return getattr(importlib.import_module(module), cls)
