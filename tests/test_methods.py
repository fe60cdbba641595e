"""The training-method seam: the registry, the hooks a method can use, and that a method
registered by name takes part in a run without any other change."""

import io
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from models import build_model
from tests import method_cases
from tests.conftest import write_mnist_dir
from training import run_experiment, smoke_config
from training import methods as registry
from training.methods.base import Method, Methods
from training.steps import make_optimizer, train_steps

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _model():
    return build_model(["fc:8", "fc"], input_shape=(28, 28, 3), num_classes=10, seed=0)


def _batches(n=4, seed=0):
    rng = np.random.default_rng(seed)
    images = tf.constant(rng.random((n, 28, 28, 3)), tf.float32)
    labels = tf.constant(rng.integers(0, 10, n), tf.int32)
    return iter(tf.data.Dataset.from_tensors((images, labels)).repeat())


@pytest.mark.parametrize("settings, names", [
    ({}, []),
    (dict(mode="joint", loss_weighting="uncertainty", pcgrad=True), ["joint"]),
    (dict(mode="alternate"), ["alternate"]),
    (dict(ewc_lambda=1.0, replay_size=20), ["ewc", "replay"]),
    (dict(l2_lambda=0.5), ["l2"]),
    (dict(si_c=1.0), ["si"]),
    (dict(mas_lambda=1.0), ["mas"]),
])
def test_the_config_names_the_methods_and_each_builds_for_a_run(settings, names):
    config = smoke_config(**settings)
    assert registry.methods_for(config) == names
    model = _model()
    for name in names:
        method = registry.method_class(name).for_run(config, model, [None, None])
        assert isinstance(method, Method)


def test_an_unknown_method_names_the_known_ones():
    with pytest.raises(KeyError, match="known: joint, alternate, offline, seen-classes, ewc, "
                                       "l2, si, mas, lwf, replay, agem, gem, rehearsal, er, "
                                       "der, derpp, icarl"):
        registry.method_class("der++")


@pytest.mark.parametrize("case", method_cases.examples(), ids=lambda case: case.label)
def test_each_methods_example_flags_turn_it_on(case):
    """What the tests' flag and exact-resume cases rest on (tests/method_cases.py)."""
    config = method_cases.config_of(*method_cases.RESUME_SETTINGS, *case.flags)
    assert case.method in registry.methods_for(config)


TOY_METHOD = '''"""A toy method: the batch's loss counted 1 + --toy-scale times."""

from lazy import LazyModule
from training.losses import cross_entropies
from training.methods.base import TASK_PERIODS, Method
from training.settings import setting

tf = LazyModule("tensorflow")


class ToyScale(Method):
    name = "toy"
    description = "the batch's loss counted 1 + --toy-scale times"
    settings = {"toy_scale": setting(0.0, "method", "the loss's extra weight; 0: off",
                                     bound="non-negative", zero="off")}
    needs = (TASK_PERIODS,)
    example = ("--toy-scale", "0.5")

    def __init__(self, scale):
        self.scale = scale

    @classmethod
    def for_run(cls, config, model, tasks):
        return cls(config.toy_scale)

    def loss_term(self, model, inputs, labels, logits):
        return self.scale * tf.reduce_mean(cross_entropies(logits, labels))
'''
TOY_PROBE = """
import contextlib, dataclasses, io, json, sys
import pytest
from training import methods
methods.register("toy_scale")
from errors import UserError
from training.config import RunConfig
from training.flags import build_parser, config_from_args, parse_flags
out = {"help": build_parser().format_help(), "loads_tensorflow": "tensorflow" in sys.modules}
config = config_from_args(parse_flags(["task.py", "--tasks", "id", "inv", "--toy-scale", "2"]))
out["field"] = [dataclasses.fields(RunConfig)[-1].name, config.toy_scale, RunConfig().toy_scale]
out["used"] = methods.methods_for(config)
out["refused"] = []
for settings in (dict(toy_scale=-1.0), dict(toy_scale=1.0, mode="joint")):
    try:
        RunConfig(tasks=("id", "inv"), **settings)
    except UserError as e:
        out["refused"].append(str(e))
with contextlib.redirect_stdout(io.StringIO()) as collected:
    pytest.main(["--collect-only", "-q", "tests/test_resume.py"])
out["resume_cases"] = [line for line in collected.getvalue().splitlines() if "toy" in line]
print(json.dumps(out))
"""


def test_a_method_is_its_file_alone(tmp_path):
    """A method module of its own, registered as the package's are found, has its flag in
    task.py's parser and --help, its RunConfig field, its checks and its needs, and an
    exact-resume case, without a change to any other file (and without TensorFlow)."""
    (tmp_path / "toy_scale.py").write_text(TOY_METHOD)
    result = subprocess.run([sys.executable, "-c", TOY_PROBE], cwd=REPO, capture_output=True,
                            text=True, timeout=600, env={**os.environ, "COLUMNS": "400",
                                                         "PYTHONPATH": str(tmp_path)})
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout.splitlines()[-1])
    help_text = " ".join(out["help"].split())
    assert "--toy-scale X the loss's extra weight; 0: off (default: 0.0)" in help_text
    assert "toy (--toy-scale): the batch's loss counted 1 + --toy-scale times" in help_text
    assert not out["loads_tensorflow"]
    assert out["field"] == ["toy_scale", 2.0, 0.0] and out["used"] == ["toy"]
    assert out["refused"][0] == "--toy-scale must be 0 (off) or positive, got -1.0"
    assert "and --toy-scale mitigate forgetting between task periods: they need --mode " \
           "switch" in out["refused"][1]
    assert len(out["resume_cases"]) == 1 and "toy" in out["resume_cases"][0]


class _Counting(Method):
    """Counts the updates, and pulls every weight toward zero by a loss term."""

    def __init__(self, strength=0.0):
        self.updates = tf.Variable(0)
        self.strength = strength

    def loss_term(self, model, inputs, labels, logits):
        if not self.strength:
            return None
        return self.strength * tf.add_n([tf.reduce_sum(tf.square(v))
                                         for v in model.trainable_variables])

    def after_update(self, model, loss_gradients):
        self.updates.assign_add(1)


def test_after_update_runs_after_every_update_inside_the_compiled_loop():
    model, counting = _model(), _Counting()
    optimizer = make_optimizer("sgd", 0.1)
    train_steps(model, optimizer, _batches(), tf.constant(5), Methods([counting]))
    assert int(counting.updates) == 5 and int(optimizer.iterations) == 5


def test_a_loss_term_adds_its_gradient_to_the_batchs():
    model = _model()
    batch = next(_batches())
    plain = Methods().gradients(model, batch)[0]
    pulled = Methods([_Counting(strength=0.5)]).gradients(model, batch)[0]
    for g_plain, g_pulled, v in zip(plain, pulled, model.trainable_variables):
        np.testing.assert_allclose(g_pulled.numpy() - g_plain.numpy(), v.numpy(), rtol=1e-4,
                                   atol=1e-6)  # d/dv 0.5 v^2 = v


def test_two_methods_that_form_the_gradient_are_refused():
    class Forming(Method):
        def gradients(self, model, batch, step):
            return None

    with pytest.raises(ValueError, match="a run takes one"):
        Methods([Forming(), Forming()])


class _Recording(Method):
    """Records the period hooks and the windows it was asked for batches."""

    name = "recording"
    calls: list = []

    @classmethod
    def used(cls, config):
        return True

    @classmethod
    def for_run(cls, config, model, tasks):
        _Recording.calls = []
        return cls()

    def period_end(self, run, step):
        self.calls.append(("end", step))

    def period_start(self, run, step):
        self.calls.append(("start", step))

    def batches(self, run, step, batches):
        self.calls.append(("batches", step))
        return batches

    def summary(self, task_names):
        return {"recorded": len(self.calls)}


def test_a_registered_method_takes_part_in_a_run_with_no_other_change(tmp_path, monkeypatch):
    write_mnist_dir(tmp_path / "mnist", n_train=64, n_test=20)
    monkeypatch.setitem(registry.registered(), "recording", _Recording)
    config = smoke_config(data_dir=str(tmp_path / "mnist"), log_dir=str(tmp_path),
                          run_name="run", batch=8)  # id, inv: 20 steps a period, 40 in all.
    run_dir = run_experiment(config, progress_stream=io.StringIO())
    starts = [("start", 0), ("end", 20), ("start", 20)]
    assert [call for call in _Recording.calls if call[0] != "batches"] == starts
    windows = [step for kind, step in _Recording.calls if kind == "batches"]
    assert windows[0] == 0 and 20 in windows and all(0 <= s < 40 for s in windows)
    with open(os.path.join(run_dir, "summary.json")) as f:
        assert json.load(f)["recorded"] == len(_Recording.calls)


def test_help_lists_the_methods_and_the_flags_that_turn_them_on():
    result = subprocess.run([sys.executable, "-c", "from training.flags import build_parser; "
                                                   "build_parser().print_help()"],
                            cwd=REPO, capture_output=True, text=True, check=True,
                            env={**os.environ, "COLUMNS": "400"})
    text = " ".join(result.stdout.split())
    for name, method in registry.registered().items():
        assert f"{name} (" in text and method.description in text
    assert "ewc (--ewc-lambda, --ewc-online" in text and "replay (--replay-size)" in text


def test_l2_pulls_every_weight_toward_its_value_as_the_last_period_ended():
    from training.methods.l2 import L2

    model = _model()
    variables = model.trainable_variables
    l2 = L2(variables, strength=0.5)
    assert float(l2.penalty(variables)) == 0.0  # No period has ended yet.

    class Ended:  # What period_end reads of the run.
        pass

    run = Ended()
    run.model = model
    l2.period_end(run, 20)
    assert float(l2.penalty(variables)) == 0.0  # At the anchor.
    for v in variables:
        v.assign_add(tf.fill(v.shape, 0.1))
    size = sum(int(np.prod(v.shape)) for v in variables)
    # strength * sum (theta - anchor)^2, Hsu et al.'s form (no 1/2).
    assert float(l2.penalty(variables)) == pytest.approx(0.5 * 0.01 * size, rel=1e-4)
    batch = next(_batches())
    with_l2 = Methods([l2]).gradients(model, batch)[0]
    without = Methods().gradients(model, batch)[0]
    for a, b in zip(with_l2, without):
        np.testing.assert_allclose(a.numpy() - b.numpy(), 2 * 0.5 * 0.1, rtol=1e-3)
    l2.period_end(run, 40)  # The anchor moves to the weights as this period ends.
    assert float(l2.penalty(variables)) == 0.0


def _loss_gradients(model, batch):
    from training.losses import cross_entropies

    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(cross_entropies(model(batch[0], training=True), batch[1]))
    return [g.numpy() for g in tape.gradient(loss, model.trainable_variables)]


def test_si_integrates_minus_the_loss_gradient_times_each_update_and_turns_it_into_importance():
    from training.methods.si import SI

    model = _model()
    variables = model.trainable_variables
    start = [v.numpy() for v in variables]
    si = SI(variables, strength=2.0, damping=0.1)
    optimizer = make_optimizer("sgd", 0.1)
    batches = _batches()
    batch = next(batches)
    g = _loss_gradients(model, batch)
    Methods([si]).step(model, optimizer, batch)
    for w, gradient in zip(si.path, g):  # w = -g * (-0.1 g) = 0.1 g^2
        np.testing.assert_allclose(w.numpy(), 0.1 * gradient ** 2, rtol=1e-4, atol=1e-9)
    path = [w.numpy() for w in si.path]
    si.consolidate(variables)
    for o, w, v, s in zip(si.importance, path, variables, start):
        np.testing.assert_allclose(o.numpy(), w / ((v.numpy() - s) ** 2 + 0.1), rtol=1e-5,
                                   atol=1e-12)
    assert all(not np.any(w.numpy()) for w in si.path)
    importance = [o.numpy() for o in si.importance]
    for v in variables:
        v.assign_add(tf.fill(v.shape, 0.05))
    expected = 2.0 * sum(float(np.sum(o * 0.05 ** 2)) for o in importance)
    assert float(si.penalty(variables)) == pytest.approx(expected, rel=1e-4)
    # With the penalty on, the path still integrates the plain loss's gradient.
    before = [v.numpy() for v in variables]
    last = [p.numpy() for p in si.previous]  # As the last update left them (the shift
    g = _loss_gradients(model, batch)        # above counts in the path too).
    Methods([si]).step(model, optimizer, batch)
    for w, gradient, v, p in zip(si.path, g, variables, last):
        np.testing.assert_allclose(w.numpy(), -gradient * (v.numpy() - p), rtol=1e-3,
                                   atol=1e-9)
    assert any(not np.allclose(v.numpy() - b, -0.1 * gradient)  # The penalty moved them too.
               for v, b, gradient in zip(variables, before, g))


def test_mas_importance_is_the_mean_absolute_gradient_of_the_squared_output():
    from training.methods.mas import MAS, output_sensitivity

    model = _model()
    variables = model.trainable_variables
    rng = np.random.default_rng(3)
    batches = [tf.constant(rng.random((n, 28, 28, 3)), tf.float32) for n in (4, 4, 2)]
    expected = [np.zeros(v.shape) for v in variables]
    for inputs in batches:  # By hand: one batch's mean of squared logits, |its gradient|.
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(model(inputs, training=False)))
        for total, g in zip(expected, tape.gradient(loss, variables)):
            total += np.abs(g.numpy()) / len(batches)
    sensitivity = output_sensitivity(model, iter(batches))
    for got, want in zip(sensitivity, expected):
        np.testing.assert_allclose(got.numpy(), want, rtol=1e-4, atol=1e-9)
    mas = MAS(variables, strength=3.0)
    assert float(mas.penalty(variables)) == 0.0  # No importance yet.
    mas.consolidate(sensitivity, variables)
    mas.consolidate(sensitivity, variables)  # Importance accumulates; the anchor moves.
    for v in variables:
        v.assign_add(tf.fill(v.shape, 0.02))
    want = 3.0 * sum(float(np.sum(2 * e * 0.02 ** 2)) for e in expected)
    assert float(mas.penalty(variables)) == pytest.approx(want, rel=1e-3)


class _Periods:
    """Period hooks' view of a schedule: task t trains in steps [10 t, 10 t + 10)."""

    @staticmethod
    def task_index_at(step):
        return step // 10


def _softmax(x):
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def test_lwf_distils_the_ended_network_s_softened_answers_on_the_old_classes():
    from training.methods.lwf import LwF

    model = build_model(["fc:8", "fc"], input_shape=(28, 28, 1), keep_prob=1.0, seed=0)
    lwf = LwF(model, [(0, 1), (2, 3)], strength=3.0, temperature=2.0)
    run = type("FakeRun", (), {"periods": _Periods(), "model": model})
    images = tf.constant(np.random.default_rng(0).random((5, 28, 28, 1)), tf.float32)
    labels = tf.constant([2, 3, 2, 3, 2])
    lwf.period_start(run, 0)
    assert float(lwf.loss_term(model, images, labels, model(images))) == 0.0  # Nothing ended.
    lwf.period_end(run, 10)
    lwf.period_start(run, 10)
    old = model(images).numpy()
    for v in model.trainable_variables:  # The network moves on; the copy stays.
        v.assign_add(tf.fill(v.shape, 0.05))
    new = model(images).numpy()
    targets = _softmax(old[:, :2] / 2.0)
    want = 3.0 * np.mean(-np.sum(targets * np.log(_softmax(new[:, :2] / 2.0)), axis=-1))
    got = float(lwf.loss_term(model, images, labels, model(images)))
    assert got == pytest.approx(want, rel=1e-5)


@pytest.mark.parametrize("scenario", ["domain", "class"])
def test_lwf_in_van_de_ven_s_form_weighs_by_the_task_and_distils_every_active_class(scenario):
    """At the third task: (1/3) CE + (2/3) T^2 * mean over batch and active classes of the
    cross-entropy from the ended network's softened answers (zero at the present task's new
    classes) to the present network's over every class trained so far."""
    from training.methods.lwf import LwF
    from training.methods.seen_classes import SeenClasses

    domain = scenario == "domain"
    tasks = [(0, 1)] * 3 if domain else [(0, 1), (2, 3), (4, 5)]
    classes = 2 if domain else 10
    model = build_model(["fc:8", "fc"], input_shape=(28, 28, 1), num_classes=classes,
                        keep_prob=1.0, seed=0)
    lwf = LwF(model, tasks, strength=1.0, temperature=2.0, form="van-de-ven")
    seen = SeenClasses(tasks, classes)
    run = type("FakeRun", (), {"periods": _Periods(), "model": model})
    images = tf.constant(np.random.default_rng(3).random((5, 28, 28, 1)), tf.float32)
    labels = tf.constant([0, 1, 0, 1, 1] if domain else [4, 5, 4, 5, 5])
    for step in (0, 10, 20):  # Tasks 0 and 1 end; task 2, the third, trains.
        if step:
            lwf.period_end(run, step)
        lwf.period_start(run, step)
        seen.period_start(run, step)
    old = model(images).numpy()
    for v in model.trainable_variables:  # The network moves on; the copy stays.
        v.assign_add(tf.random.stateless_normal(v.shape, [1, 2], stddev=0.1))
    logits = model(images)
    if not domain:
        logits = seen.train_logits(logits)  # As the class scenario trains: seen classes only.
    new = model(images).numpy()
    active = [0, 1] if domain else [0, 1, 2, 3, 4, 5]
    distilled = [0, 1] if domain else [0, 1, 2, 3]  # The ended tasks' classes.
    targets = np.zeros((5, len(active)))
    targets[:, :len(distilled)] = _softmax(old[:, distilled] / 2.0)  # Zero at 4, 5.
    log_new = np.log(_softmax(new[:, active] / 2.0))
    distillation = 2.0 ** 2 * np.mean(-targets * log_new)  # Over batch and classes.
    cross_entropy = np.mean(-np.log(_softmax(new[:, active]))[np.arange(5), labels.numpy()])
    want = cross_entropy / 3 + (1 - 1 / 3) * distillation
    term = float(lwf.loss_term(model, images, labels, logits))
    assert term + cross_entropy == pytest.approx(want, rel=1e-5)
    assert distillation > 0 and abs(term) > 1e-3  # Not a vacuous test.


def test_lwf_with_a_head_per_task_distils_each_ended_head_but_the_training_one():
    from training.methods.lwf import LwF

    model = build_model(["fc:8", "fc"], input_shape=(28, 28, 1), num_classes=2, heads=3,
                        keep_prob=1.0, seed=0)
    lwf = LwF(model, [(0, 1)] * 3, strength=1.0, temperature=2.0, heads=3)
    run = type("FakeRun", (), {"periods": _Periods(), "model": model})
    images = tf.constant(np.random.default_rng(1).random((4, 28, 28, 1)), tf.float32)
    labels = tf.constant([0, 1, 0, 1])
    signal = lambda k: tf.one_hot([k] * 4, 3)  # noqa: E731
    lwf.period_end(run, 10)   # Task 0 ended,
    lwf.period_end(run, 20)   # then task 1;
    lwf.period_start(run, 20)  # task 2 trains.
    old = [model((images, signal(k))).numpy() for k in range(3)]
    for v in model.trainable_variables:
        v.assign_add(tf.fill(v.shape, 0.05))
    want = 0.0
    for k in (0, 1):
        new = model((images, signal(k))).numpy()
        want += np.mean(-np.sum(_softmax(old[k] / 2) * np.log(_softmax(new / 2)), axis=-1))
    inputs = (images, signal(2))
    got = float(lwf.loss_term(model, inputs, labels, model(inputs)))
    assert got == pytest.approx(want, rel=1e-5)


def test_lwf_with_a_head_per_task_takes_every_head_in_one_pass_with_the_same_gradients():
    from training.methods.lwf import LwF

    model = build_model(["fc:8", "fc:6", "fc"], input_shape=(28, 28, 1), num_classes=2,
                        heads=3, keep_prob=1.0, seed=0)
    lwf = LwF(model, [(0, 1)] * 3, strength=2.0, temperature=2.0, heads=3)
    assert lwf.every is not None  # The signal enters only the heads.
    run = type("FakeRun", (), {"periods": _Periods(), "model": model})
    lwf.period_end(run, 10)
    lwf.period_end(run, 20)
    lwf.period_start(run, 20)
    for v in model.trainable_variables:
        v.assign_add(tf.random.stateless_normal(v.shape, [0, 1], stddev=0.1))
    images = tf.constant(np.random.default_rng(2).random((6, 28, 28, 1)), tf.float32)
    inputs, labels = (images, tf.one_hot([2] * 6, 3)), tf.constant([0, 1] * 3)

    def loss_and_gradients():
        with tf.GradientTape() as tape:
            loss = lwf.loss_term(model, inputs, labels, model(inputs))
        return loss, tape.gradient(loss, model.trainable_variables)

    loss, gradients = loss_and_gradients()
    lwf.every = None  # A pass a head, as for a network whose signal enters below them.
    want_loss, want_gradients = loss_and_gradients()
    assert float(loss) == pytest.approx(float(want_loss), rel=1e-6)
    for got, want in zip(gradients, want_gradients):
        np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-5, atol=1e-7)
    assert LwF(build_model(["fc:8", "fc"], input_shape=(28, 28, 1), num_classes=2, heads=3,
                           task_signal=3, keep_prob=1.0, seed=0),
               [(0, 1)] * 3, 1.0, 2.0, heads=3).every is None


def test_agem_projects_only_a_gradient_that_conflicts_with_the_memory_s():
    from training.methods.agem import project_off

    g = [tf.constant([1.0, 2.0]), tf.constant([[-1.0]])]
    agreeing = [tf.constant([1.0, 0.0]), tf.constant([[0.0]])]
    assert all(np.array_equal(a.numpy(), b.numpy()) for a, b in
               zip(project_off(g, agreeing), g))
    reference = [tf.constant([0.0, -1.0]), tf.constant([[1.0]])]  # g . r = -3, r . r = 2
    projected = [p.numpy() for p in project_off(g, reference)]
    np.testing.assert_allclose(projected[0], [1.0, 2.0 - 1.5])
    np.testing.assert_allclose(projected[1], [[-1.0 + 1.5]])
    assert float(np.dot(np.concatenate([p.ravel() for p in projected]), [0.0, -1.0, 1.0])) \
        == pytest.approx(0.0)


def test_gem_s_programme_projects_onto_every_past_task_s_half_space():
    from training.methods.gem import EPSILON, project_by_qp

    g = np.array([1.0, 1.0, -2.0])
    memory = np.array([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]])  # Conflicts with the first only.
    projected = project_by_qp(memory, g, margin=0.0)
    # One active constraint: g - (g . G1 / (|G1|^2 + eps)) G1, the dual with eps on its
    # diagonal (the authors' code), nearly A-GEM's projection.
    np.testing.assert_allclose(projected, [1.0, 1.0, -2.0 + 2.0 / (1.0 + EPSILON)],
                               rtol=1e-6)
    assert np.all(memory @ projected >= -1e-2)
    # The margin floors every dual variable: the agreeing task's gradient is added half.
    stronger = project_by_qp(memory, g, margin=0.5)
    np.testing.assert_allclose(stronger, [1.5, 1.0, -2.0 + 2.0 / (1.0 + EPSILON)], rtol=1e-6)


def _gem_case(names, per_task_heads: bool, labels="task"):
    """A GEM on `names` (MNIST tasks of random images whose top rows are blank, padded to
    32x32 and standardised: constant features), a dense network for them, and the loss
    a run trains on (the classes seen, for global labels)."""
    from data import MnistArrays
    from tasks import build_tasks, task_classes
    from training.methods.ewc import dense_stack
    from training.methods.gem import GEM
    from training.methods.seen_classes import SeenClasses

    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (60, 28, 28), dtype=np.uint8)
    images[:, :4] = 0
    digits = (np.arange(60) % 10).astype(np.int32)
    mnist = MnistArrays(train_images=images, train_labels=digits, test_images=images[:10],
                        test_labels=digits[:10])
    tasks = build_tasks(names, sources={"mnist": mnist}, input_style="grey", seed=0,
                        task_signal=per_task_heads, labels=labels, pad=2,
                        normalize=(0.1, 0.3))
    classes = task_classes(names, labels)
    model = build_model(("fc:8", "fc:6", "fc"), input_shape=(32, 32, 1), num_classes=classes,
                        heads=len(names) if per_task_heads else 1, keep_prob=1.0, seed=0)
    methods = []
    if labels == "global":
        seen = SeenClasses([(0, 1), (2, 3), (4, 5)], classes)
        seen.seen.assign([c < 4 for c in range(classes)])
        methods.append(seen)
    gem = GEM(tasks, memory=20, margin=0.5, seed=0, layers=dense_stack(model))
    assert gem.layers is not None
    # Tasks 0 and 1 remembered, 7 and 5 examples; task 2 trains.
    gem.task_ids.assign([0] * 7 + [1] * 5)
    gem.example_ids.assign(np.r_[np.arange(7), np.arange(5) * 2].astype(np.int64))
    gem.active.assign(2)
    return gem, model, Methods(methods).training_loss


def _dense(blocks, tasks: int) -> np.ndarray:
    """[tasks, parameters]: GEM's task-gradient blocks as one row a task."""
    from training.methods.gem import combination

    eye = tf.eye(tasks)
    return np.stack([np.concatenate([combination(block, eye[k]).numpy().ravel()
                                     for block in blocks]) for k in range(tasks)])


@pytest.mark.parametrize("per_task_heads, labels", [(True, "task"), (False, "global")],
                         ids=["head-per-task", "class-incremental"])
def test_gem_s_one_pass_over_the_memory_gives_each_task_s_own_gradient(per_task_heads, labels):
    """The memory's task gradients of a dense network from one pass (the constant features
    factored out of the first layer) equal a pass a task (any network's way), to float
    rounding, with a head per task and with the classes seen."""
    gem, model, training_loss = _gem_case(["split-01", "split-23", "split-45"], per_task_heads,
                                          labels)
    constrained = tf.constant([True, True, False])
    seed = tf.constant([0, 5], tf.int64)
    one_pass = _dense(gem.task_gradients(model, seed, training_loss, constrained), 3)
    assert bool(gem.fixed.numpy()) and bool(gem.cached.numpy())
    varying = gem.cache[1].numpy()
    assert 0 < len(varying) < 32 * 32  # The padding and the blank rows are constants.
    again = _dense(gem.task_gradients(model, seed, training_loss, constrained), 3)  # Cached.
    layers, gem.layers = gem.layers, None
    by_task = _dense(gem.task_gradients(model, seed, training_loss, constrained), 3)
    gem.layers = layers
    assert np.array_equal(one_pass, again)
    assert not by_task[2].any() and not one_pass[2].any()
    assert np.abs(by_task[:2]).max(axis=1).min() > 0
    np.testing.assert_allclose(one_pass, by_task, rtol=1e-5, atol=1e-6 * np.abs(by_task).max())


def test_gem_prepares_a_memory_that_draws_random_numbers_afresh_each_step():
    """A task whose preparation draws random numbers (noise) is not cached: each step's
    memory is prepared with that step's seed, and the gradients still equal a pass a task's."""
    gem, model, training_loss = _gem_case(["noise", "id", "ref"], per_task_heads=False)
    constrained = tf.constant([True, True, False])
    seed = tf.constant([0, 5], tf.int64)
    one_pass = _dense(gem.task_gradients(model, seed, training_loss, constrained), 3)
    assert bool(gem.cached.numpy()) and not bool(gem.fixed.numpy())
    other = _dense(gem.task_gradients(model, seed + [0, 1], training_loss, constrained), 3)
    assert not np.allclose(one_pass[0], other[0]) and np.allclose(one_pass[1], other[1])
    gem.layers = None
    by_task = _dense(gem.task_gradients(model, seed, training_loss, constrained), 3)
    np.testing.assert_allclose(one_pass, by_task, rtol=1e-5, atol=1e-6 * np.abs(by_task).max())


@pytest.mark.parametrize("seed", range(6))
def test_gem_s_projection_equals_quadprog_s_on_the_whole_vectors(seed):
    """project (the programme's products in TensorFlow, quadprog on them alone, a first
    layer's gradients as Rows) against project_by_qp (the authors' computation, all in
    float64) on random gradients of 1 to 4 constrained tasks among 5, the others' rows
    zero."""
    from training.methods.gem import Rows, _dot, project, project_by_qp

    rng = np.random.default_rng(seed)
    tasks, features, units = 5, 6, 3
    constrained = rng.random(tasks) < 0.6
    constrained[rng.integers(tasks)] = True
    varying = np.sort(rng.choice(features, 4, replace=False))
    constants = np.where(np.isin(np.arange(features), varying), 0.0, rng.normal(size=features))
    live = constrained[:, None]
    first = Rows(tf.constant(rng.normal(size=(tasks, 4, units)) * live[..., None], tf.float32),
                 tf.constant(varying), tf.constant(constants, tf.float32),
                 tf.constant(rng.normal(size=(tasks, units)) * live, tf.float32))
    memory = [first, first.sums, tf.constant(rng.normal(size=(tasks, 2, 2)) * live[..., None],
                                             tf.float32)]
    gradients = [tf.constant(rng.normal(size=shape), tf.float32)
                 for shape in ((features, units), (units,), (2, 2))]
    dots = tf.add_n([_dot(m, g) for m, g in zip(memory, gradients)])
    flat_memory = _dense(memory, tasks)
    flat_gradient = np.concatenate([g.numpy().ravel() for g in gradients])
    np.testing.assert_allclose(dots.numpy(), flat_memory @ flat_gradient, rtol=1e-5,
                               atol=1e-5)
    for margin in (0.0, 0.5):
        got = np.concatenate([p.numpy().ravel() for p in project(
            memory, gradients, dots, tf.constant(constrained), margin)])
        want = project_by_qp(flat_memory[constrained], flat_gradient, margin)
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
        assert np.all(flat_memory[constrained] @ got >= -1e-2)


def test_a_method_run_prints_no_tensorflow_warning(tmp_path):
    """The methods' hooks convert cleanly in the compiled step: a run with several methods
    writes its progress to stderr and nothing of TensorFlow's (AutoGraph warned of the
    protocol's empty after_update until the step called only the methods that have one)."""
    data_dir = tmp_path / "mnist"
    write_mnist_dir(data_dir, n_train=40, n_test=20)
    result = subprocess.run(
        [sys.executable, "task.py", "--tasks", "id", "inv", "--task-time", "4", "--max-steps",
         "8", "--batch", "4", "--test-frequency", "4", "--mnist-train", "all", "--data-dir",
         str(data_dir), "--log-dir", str(tmp_path / "log"), "--ewc-lambda", "1", "--si-c",
         "1", "--mas-lambda", "1", "--lwf-lambda", "1", "--replay-size", "10"],
        cwd=REPO, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    for noise in ("WARNING", "AutoGraph", "could not transform", "Traceback"):
        assert noise not in result.stderr, result.stderr
