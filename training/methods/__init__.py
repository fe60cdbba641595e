"""Training methods: what a step trains on and minimises beyond one batch's cross-entropy,
and what happens between steps. A method is one file of this package, found here.

A method is a `training.methods.base.Method` subclass with a `name`. It declares, as
class attributes the registry reads: its `description`; its `settings` (RunConfig
fields with their flags, help, defaults, choices and bounds, which task.py's parser,
--help and docs/flags.md show and RunConfig checks for every run); its `mode` if it is
a --mode; `used(config)`, whether a run uses it (by default: its mode is the run's, or
its first setting is not zero); its `needs` (base.TASK_PERIODS, which includes
base.TASK_BOUNDARIES, base.SWITCH_SCHEDULE, base.SWITCH_MODE), checked in one place for
a run that uses it (a task-free stream refuses a method that needs task boundaries);
the methods it `excludes`; a `check` of its own for what the rest cannot say; its
`order` among a run's methods; and the `example` flags (and `variants`) that turn it
on, from which the tests make its flag and exact-resume checks. Every hook has a
do-nothing default, so a method writes only the hooks it needs. Compiled into the
training step:
  loss_term(model, inputs, labels, logits)   a term added to the batch's loss
  gradients(model, batch, step)              the step's gradient, formed its own way
                                             (at most one method of a run)
  adjust_gradients(model, gradients, step, training_loss)
                                             the gradient the update applies (A-GEM and
                                             GEM project it off the memory's)
  after_update(model, loss_gradients)        after each update of the weights (with the
                                             plain loss's gradients if it asks for them)
  after_batch(inputs, labels, outputs)       then, the batch trained on and the network's
                                             outputs for it before the update (a buffer)
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
  evaluated_model(run, step)                 the network an evaluation reads in place of
                                             the model (at most one method of a run)
  trained_variables, state_variables         trained beside the model; checkpointed
  summary(task_names), remedy                summary.json's fields; advice on divergence

Ported: joint (with its loss weightings and PCGrad), alternate, ewc, replay; added on
the seam: offline, seen-classes, l2, si, mas, lwf, rehearsal, agem, gem, er, der, derpp
and icarl, whose hooks show how the methods that come next would use them:
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
  ER           after_batch puts the batch into a reservoir buffer (state_variables hold
               it); loss_term trains a draw of the buffer with the batch (er.py), no
               period hook, so it runs on a task-free stream
  DER, DER++   as ER, the buffer keeping after_batch's outputs too; loss_term matches
               them on a draw (DER++: and the labels on a second draw) (der.py, derpp.py)
  iCaRL        period_end herds exemplars and keeps a copy of the model; batches and
               memory_examples add them to the period's set as rehearsal; loss_term
               is its sigmoid loss; evaluated_model the nearest mean of exemplars
               (icarl.py)

Every method's file imports without TensorFlow, for the registry imports them all to
make RunConfig, task.py's flags and --help, which must not load it: TensorFlow, and
this project's modules that import it, are `lazy.LazyModule`s at the top of the file
(`tf = LazyModule("tensorflow")`), read only inside functions; annotations are not
evaluated (`from __future__ import annotations`); and a method's class derives from
Method alone, not tf.Module. tests/test_cli.py checks that nothing loads TensorFlow.

Adding a method: write training/methods/NAME.py with its Method subclass and its
declarations (l2.py is a short example), and a test of its maths; the registry,
RunConfig, the flags, --help, the config's checks and the tests' flag and exact-resume
cases pick it up (docs/methods.md, "Adding a method"). A module outside this package
is added by `register`.
"""

import functools
import importlib
import pkgutil

from errors import UserError
from training.methods.base import Method, Methods

_REGISTERED: list[str] = []  # Method modules from outside this package.


def register(module: str) -> None:
    """Adds the methods of a module outside this package (a plugin; a test's toy method), as
    this package's own are found; before the registry is first read, which
    training.config's import does to make RunConfig's fields."""
    if registered.cache_info().currsize:
        raise RuntimeError(f"{module} is registered too late: the methods were read (RunConfig "
                           "was made from them); register it before importing training.config")
    _REGISTERED.append(module)


@functools.cache
def registered() -> dict[str, type]:
    """Every method by name, in their declared order: the Method subclasses with a name of
    their own in this package's modules and the registered ones."""
    modules = [f"{__name__}.{m.name}" for m in pkgutil.iter_modules(__path__)] + _REGISTERED
    found = []
    for module in map(importlib.import_module, modules):
        found += [value for value in vars(module).values()
                  if isinstance(value, type) and issubclass(value, Method)
                  and value.__module__ == module.__name__ and vars(value).get("name")]
    found.sort(key=lambda method: (method.order, method.name))
    names = [method.name for method in found]
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:
        raise ValueError(f"more than one method is named {', '.join(twice)}")
    return {method.name: method for method in found}


def methods_for(config) -> list[str]:
    """The names of the methods a run uses, in their order."""
    return [name for name, method in registered().items() if method.used(config)]


def method_class(name: str) -> type:
    """A registered method's class."""
    methods = registered()
    if name not in methods:
        raise KeyError(f"unknown method {name!r}; known: {', '.join(methods)}")
    return methods[name]


def build_methods(config, model, tasks: list) -> Methods:
    """The methods the config asks for, made for this run's model and tasks."""
    return Methods([method_class(name).for_run(config, model, tasks)
                    for name in methods_for(config)])


def check(config) -> None:
    """Refuses a config, with a one-line UserError, that one of the methods refuses (its own
    check), or in which a method the run uses excludes another it uses or lacks
    something it needs."""
    methods = registered()
    for method in methods.values():
        method.check(config)
    used = [method for method in methods.values() if method.used(config)]
    for method in used:
        for other in used:
            if other.name in method.excludes:
                raise UserError(f"{_on_flag(method)} and {_on_flag(other)} "
                                f"{method.excludes[other.name]}; give one")
    for method in used:
        for need in needs_of(method):
            if not need.holds(config):
                flags = [_on_flag(m) for m in methods.values() if need in needs_of(m)]
                raise UserError(need.refusal.format(
                    flag=_on_flag(method), name=method.name, flags=_spoken(flags),
                    config=config))


def needs_of(method: type) -> list:
    """A method's needs with those they include (a need's `implies`), each once, the
    included first."""
    return list(dict.fromkeys(n for need in method.needs for n in need.with_implied()))


def _on_flag(method: type) -> str:
    """The flag that turns a method on: `--mode joint`, `--ewc-lambda`."""
    return method.flags()[0]


def _spoken(items: list[str]) -> str:
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"
