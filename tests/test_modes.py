"""Training modes and forgetting mitigations: joint training and its loss weightings, PCGrad,
alternation, EWC and replay, each shown to do what it claims on a tiny problem."""

import io
import json
import os

import numpy as np
import pytest
import tensorflow as tf

from errors import RunDiverged, UserError
from data import MnistArrays
from models import build_model
from schedule import Schedule
from tasks import build_tasks
from tasks.streams import TaskStream, train_stream
from tests.conftest import write_mnist_dir
from training import RunConfig, run_experiment, smoke_config
from training.losses import cross_entropies
from training.methods.base import Methods
from training.methods.ewc import EWC, dense_stack, diagonal_fisher, fisher_squares
from training.methods.joint import JointTraining, project_conflicting
from training.methods.replay import REPLAY_FRACTION, buffer_at, period_mix
from training.steps import train_steps

SEED = tf.constant([3, 4], tf.int64)


def _model(seed=0):
    """A small dense network without dropout, so that a batch's gradient is deterministic."""
    tf.keras.utils.set_random_seed(seed)
    return build_model(("fc:16", "fc"), input_shape=(28, 28, 3), keep_prob=1.0, seed=seed)


def _batch(seed, n=8, label_offset=0):
    rng = np.random.default_rng(seed)
    images = tf.constant(rng.random((n, 28, 28, 3)), tf.float32)
    labels = tf.constant((np.arange(n) + label_offset) % 10, tf.int32)
    return images, labels


def _flat(gradients):
    return np.concatenate([np.ravel(g) for g in gradients])


def test_pcgrad_removes_every_conflict_between_two_tasks_and_leaves_agreement_alone():
    conflicting = tf.constant([[1.0, 0.0, 2.0], [-1.0, 1.0, 0.0]])
    projected = project_conflicting(conflicting, SEED).numpy()
    g1, g2 = conflicting.numpy()
    assert projected[0] @ g2 >= -1e-6 and projected[1] @ g1 >= -1e-6
    np.testing.assert_allclose(projected[0], g1 - (g1 @ g2) / (g2 @ g2) * g2, rtol=1e-6)
    agreeing = tf.constant([[1.0, 0.5, 0.0], [0.5, 1.0, 0.0]])
    np.testing.assert_allclose(project_conflicting(agreeing, SEED).numpy(), agreeing.numpy())


def test_pcgrad_projects_each_task_off_every_gradient_it_still_conflicts_with():
    rng = np.random.default_rng(0)
    for trial in range(20):
        gradients = rng.normal(size=(3, 5)).astype(np.float32)
        projected = project_conflicting(tf.constant(gradients),
                                        tf.constant([trial, 1], tf.int64)).numpy()
        for t in range(3):
            # The last projection made leaves no conflict with that task's gradient; the
            # components removed are along the other tasks' gradients only.
            residual = projected[t] - gradients[t]
            others = np.delete(gradients, t, axis=0)
            coefficients, *_ = np.linalg.lstsq(others.T, residual, rcond=None)
            np.testing.assert_allclose(others.T @ coefficients, residual, atol=1e-4)
            assert np.all(coefficients >= -1e-4)  # Only conflicting parts taken away.


def test_joint_equal_weighting_sums_the_gradients_of_each_task_alone():
    model = _model()
    batches = (_batch(1), _batch(2, label_offset=3))
    joint, _, loss, _ = JointTraining(2).gradients(model, batches)
    alone = [Methods().gradients(model, batch)[0] for batch in batches]
    np.testing.assert_allclose(_flat(joint), _flat(alone[0]) + _flat(alone[1]), atol=1e-5)
    losses = [float(Methods().gradients(model, b)[2]) for b in batches]
    assert float(loss) == pytest.approx(np.mean(losses), rel=1e-5)


def test_fixed_weights_scale_each_task_and_a_zero_weight_silences_it():
    model = _model()
    batches = (_batch(1), _batch(2, label_offset=3))
    weighted = JointTraining(2, "fixed", (2.0, 0.0)).gradients(model, batches)[0]
    alone = Methods().gradients(model, batches[0])[0]
    np.testing.assert_allclose(_flat(weighted), 2 * _flat(alone), atol=1e-5)


def test_uncertainty_weighting_follows_kendall_and_learns_its_weights():
    objective = JointTraining(2, "uncertainty")
    objective.log_variances.assign([0.0, np.log(4.0)])
    terms = objective.weighted(tf.constant([1.0, 2.0])).numpy()
    np.testing.assert_allclose(terms, [1.0, 2.0 / 4 + 0.5 * np.log(4.0)], rtol=1e-6)
    model = _model()
    for pcgrad in (False, True):
        objective.pcgrad = pcgrad
        gradients, variables, _, _ = objective.gradients(model, (_batch(1), _batch(2)),
                                                         tf.constant(0))
        assert variables[-1] is objective.log_variances
        assert np.all(np.abs(gradients[-1].numpy()) > 0)  # The weights are trained too.
    objective.pcgrad = False
    summary = objective.summary(["a", "b"])["learned_loss_weights"]
    assert summary == pytest.approx({"a": 1.0, "b": 0.25})


def test_pcgrad_in_joint_mode_sums_the_projected_task_gradients():
    model = _model()
    images, _ = _batch(1)
    zeros = tf.zeros([8], tf.int32)
    batches = ((images, zeros), (images, zeros + 5))  # Same images, other answers.
    g = [_flat(Methods().gradients(model, b)[0]) for b in batches]
    assert g[0] @ g[1] < 0  # The two tasks conflict.
    surgery = _flat(JointTraining(2, pcgrad=True).gradients(model, batches, tf.constant(0))[0])
    plain = _flat(JointTraining(2).gradients(model, batches)[0])
    g1, g2 = g
    expected = (g1 - (g1 @ g2) / (g2 @ g2) * g2) + (g2 - (g2 @ g1) / (g1 @ g1) * g1)
    np.testing.assert_allclose(surgery, expected, rtol=1e-3, atol=1e-6)
    assert not np.allclose(surgery, plain)


def test_ewc_penalty_is_zero_at_the_anchor_and_grows_quadratically_away_from_it():
    model = _model()
    variables = model.trainable_variables
    ewc = EWC(variables, tasks=2, strength=3.0)
    assert float(ewc.penalty(variables)) == 0.0  # Nothing consolidated yet.
    fisher = [tf.fill(v.shape, 0.5) for v in variables]
    ewc.consolidate(0, fisher, variables)
    ewc.active.assign(1)
    assert float(ewc.penalty(variables)) == 0.0
    size = sum(int(np.prod(v.shape)) for v in variables)
    penalties = []
    for _ in range(2):
        for v in variables:
            v.assign_add(tf.fill(v.shape, 0.15))
        penalties.append(float(ewc.penalty(variables)))
    # 0.5 * strength * sum F (theta - anchor)^2, at 0.15 and then 0.3 from the anchor.
    assert penalties[0] == pytest.approx(0.5 * 3.0 * 0.5 * 0.15 ** 2 * size, rel=1e-3)
    assert penalties[1] == pytest.approx(4 * penalties[0], rel=1e-3)
    ewc.active.assign(0)  # The task training now carries no penalty of its own.
    assert float(ewc.penalty(variables)) == 0.0


def test_ewc_pulls_gradients_back_toward_the_anchor():
    model = _model()
    variables = model.trainable_variables
    ewc = EWC(variables, tasks=2, strength=10.0)
    ewc.consolidate(0, [tf.ones_like(v) for v in variables], variables)
    ewc.active.assign(1)
    anchors = [v.numpy() for v in variables]
    for v in variables:
        v.assign_add(tf.fill(v.shape, 0.01))
    batch = _batch(3)
    with_ewc = Methods([ewc]).gradients(model, batch)[0]
    without = Methods().gradients(model, batch)[0]
    difference = _flat(with_ewc) - _flat(without)
    np.testing.assert_allclose(difference, 10.0 * 0.01, rtol=1e-3)  # lambda * F * offset
    assert np.all(_flat([v.numpy() for v in variables]) > np.concatenate(
        [a.ravel() for a in anchors]))


@pytest.mark.parametrize("network", [("fc:16", "fc"), ("conv:4", "fc")])
def test_the_fishers_compiled_function_is_traced_once_a_chunk_size_not_once_a_period(network):
    """A run makes the Fisher at every period's end in chunks of two sizes: the function
    takes tensors alone, so it is traced for the first sizes and never again (a retracing
    at each period cost the time and printed TensorFlow's warning)."""
    model = build_model(network, input_shape=(28, 28, 3), keep_prob=1.0, seed=0)
    squares = fisher_squares(model, False, lambda logits: logits)
    images, labels = _batch(4, n=7)
    for _ in range(6):  # Six periods' ends, each of a chunk of 5 and a chunk of 2.
        diagonal_fisher([(images[:5], labels[:5]), (images[5:], labels[5:])], squares)
    assert squares.experimental_get_tracing_count() <= 2


@pytest.mark.parametrize("network", [("fc:16", "fc"), ("conv:4", "fc")])
@pytest.mark.parametrize("predicted", [False, True])
def test_the_fisher_is_the_mean_squared_gradient_of_each_example(predicted, network):
    tf.keras.utils.set_random_seed(0)
    model = build_model(network, input_shape=(28, 28, 3), keep_prob=1.0, seed=0)
    assert (dense_stack(model) is not None) == (network[0] == "fc:16")  # Closed form or not.
    images, labels = _batch(4, n=5)
    chunks = [(images[:3], labels[:3]), (images[3:], labels[3:])]  # Chunks sum as one.
    fisher = diagonal_fisher(chunks, fisher_squares(model, predicted))
    expected = [np.zeros(v.shape) for v in model.trainable_variables]
    for i in range(5):
        logits = model(images[i:i + 1])
        label = np.argmax(logits.numpy(), axis=-1) if predicted else labels[i:i + 1]
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(cross_entropies(model(images[i:i + 1]), label))
        for total, g in zip(expected, tape.gradient(loss, model.trainable_variables)):
            total += g.numpy() ** 2 / 5
    for got, want in zip(fisher, expected):
        np.testing.assert_allclose(got.numpy(), want, rtol=1e-4, atol=1e-8)


def test_online_ewc_sums_the_fishers_into_one_slot_and_keeps_the_latest_anchor():
    model = _model()
    variables = model.trainable_variables
    ewc = EWC(variables, tasks=3, strength=2.0, online=True)
    ones = [tf.ones_like(v) for v in variables]
    ewc.consolidate(0, ones, variables)
    for v in variables:
        v.assign_add(tf.fill(v.shape, 0.5))
    ewc.consolidate(1, [2.0 * o for o in ones], variables)
    assert len(ewc.fisher) == 1 and np.allclose(_flat(ewc.fisher[0]), 3.0)
    np.testing.assert_allclose(_flat(ewc.anchors[0]), _flat(variables))
    for v in variables:
        v.assign_add(tf.fill(v.shape, 0.1))
    size = sum(int(np.prod(v.shape)) for v in variables)
    # (lambda / 2) * sum F (theta - theta*)^2 = 1 * 3 * 0.01 per weight.
    np.testing.assert_allclose(float(ewc.penalty(variables)), 0.03 * size, rtol=1e-4)


def _tiny_tasks(names=("id", "inv", "perm")):
    rng = np.random.default_rng(0)
    mnist = MnistArrays(
        train_images=rng.integers(0, 256, (40, 28, 28), dtype=np.uint8),
        train_labels=(np.arange(40) % 10).astype(np.int32),
        test_images=rng.integers(0, 256, (10, 28, 28), dtype=np.uint8),
        test_labels=(np.arange(10) % 10).astype(np.int32))
    return build_tasks(list(names), sources={"mnist": mnist}, input_style="combined", seed=0)


def test_alternate_mode_trains_a_different_task_every_step():
    tasks = _tiny_tasks(("id", "inv"))
    stream = train_stream(tasks, "alternate", 4)
    alone = [TaskStream(task, 4) for task in tasks]
    alone = [[next(stream) for _ in range(3)] for stream in alone]
    for i in range(6):
        images, labels = next(stream)
        expected_images, expected_labels = alone[i % 2][i // 2]
        np.testing.assert_array_equal(images.numpy(), expected_images.numpy())
        np.testing.assert_array_equal(labels.numpy(), expected_labels.numpy())


def test_joint_mode_draws_one_batch_of_every_task_each_step():
    tasks = _tiny_tasks(("id", "inv"))
    stream = train_stream(tasks, "joint", 4)
    first = next(stream)
    assert len(first) == 2
    for (images, labels), task in zip(first, tasks):
        expected_images, expected_labels = next(TaskStream(task, 4))
        np.testing.assert_array_equal(images.numpy(), expected_images.numpy())


def test_switch_mode_draws_the_active_tasks_batches_each_stream_carrying_on():
    tasks = _tiny_tasks(("id", "inv"))
    stream = train_stream(tasks, "switch", 4)
    alone = [[next(single) for _ in range(2)] for single in (TaskStream(t, 4) for t in tasks)]
    for active, (expected_images, expected_labels) in zip(
            (0, 1, 0, 1), (alone[0][0], alone[1][0], alone[0][1], alone[1][1])):
        stream.active.assign(active)
        images, labels = next(stream)
        np.testing.assert_array_equal(images.numpy(), expected_images.numpy())
        np.testing.assert_array_equal(labels.numpy(), expected_labels.numpy())


def test_the_replay_buffer_shares_its_room_among_past_tasks_keeping_what_was_there():
    schedule = Schedule(("id", "inv", "perm"), task_time=10)
    sizes = [40, 40, 40]
    assert buffer_at(schedule, 0, 12, sizes, seed=0) == {}
    after_one = buffer_at(schedule, 1, 12, sizes, seed=0)
    after_two = buffer_at(schedule, 2, 12, sizes, seed=0)
    after_three = buffer_at(schedule, 4, 12, sizes, seed=0)  # id again in period 3.
    assert set(after_one) == {0} and len(after_one[0]) == 12
    assert set(after_two) == {0, 1} and all(len(kept) == 6 for kept in after_two.values())
    assert set(after_three) == {0, 1, 2} and all(len(k) == 4 for k in after_three.values())
    np.testing.assert_array_equal(after_two[0], after_one[0][:6])  # A prefix stays.
    np.testing.assert_array_equal(after_three[0], after_two[0][:4])


def test_replay_mixes_past_tasks_into_half_of_every_batch_and_never_the_training_task():
    schedule = Schedule(("id", "inv", "perm"), task_time=10)
    sizes, batch = [40, 40, 40], 8
    assert period_mix(schedule, 0, 12, sizes, batch, seed=0) is None
    task_ids, example_ids = period_mix(schedule, 2, 12, sizes, batch, seed=0)
    assert len(task_ids) == len(example_ids) == 10 * batch
    rows = task_ids.reshape(10, batch)
    replayed = int(batch * REPLAY_FRACTION)
    assert np.all(rows[:, :batch - replayed] == 2)  # The training task, perm...
    assert set(rows[:, batch - replayed:].ravel()) == {0, 1}  # ...and both past tasks.
    buffer = buffer_at(schedule, 2, 12, sizes, seed=0)
    for t in (0, 1):
        assert set(example_ids[task_ids == t]) <= set(buffer[t])
    again = period_mix(schedule, 2, 12, sizes, batch, seed=0)
    np.testing.assert_array_equal(example_ids, again[1])  # Rebuilt exactly on resume.
    own = example_ids[task_ids == 2]
    assert len(set(own)) == len(own)  # 40 of perm's examples, each once an epoch.


@pytest.mark.parametrize("settings, message", [
    (dict(mode="sideways"), "unknown --mode"),
    (dict(loss_weighting="uncertainty"), "add --mode joint"),
    (dict(pcgrad=True), "add --mode joint"),
    (dict(mode="joint", loss_weighting="fixed"), "--loss-weights goes with"),
    (dict(mode="joint", loss_weighting="fixed", loss_weights=(1.0,)), "needs 2"),
    (dict(mode="joint", loss_weighting="fixed", loss_weights=(1.0, -1.0)), "non-negative"),
    (dict(ewc_lambda=-1.0), "--ewc-lambda must be"),
    (dict(replay_size=-5), "--replay-size must be"),
    (dict(replay_size=1), "too few examples"),
    (dict(mode="joint", ewc_lambda=10.0), "need --mode switch"),
    (dict(schedule="episodes", replay_size=100), "need --mode switch"),
    (dict(schedule="episodes", mode="joint"), "needs the switch schedule"),
])
def test_mode_settings_are_checked(settings, message):
    with pytest.raises(UserError, match=message):
        RunConfig(tasks=("id", "inv"), **settings)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "mnist"
    write_mnist_dir(path, n_train=64, n_test=30)
    return str(path)


@pytest.mark.parametrize("settings", [
    dict(mode="joint", loss_weighting="uncertainty", pcgrad=True),
    dict(mode="alternate"),
    dict(ewc_lambda=1.0, replay_size=20),
    dict(l2_lambda=0.5, si_c=0.5, mas_lambda=0.5),
])
def test_each_mode_runs_end_to_end(data_dir, tmp_path, settings):
    config = smoke_config(data_dir=data_dir, log_dir=str(tmp_path), run_name="run", batch=8,
                          **settings)
    run_dir = run_experiment(config, progress_stream=io.StringIO())
    with open(os.path.join(run_dir, "metrics.jsonl")) as f:
        records = [json.loads(line) for line in f]
    with open(os.path.join(run_dir, "summary.json")) as f:
        summary = json.load(f)
    assert summary["status"] == "completed"
    active = {r["active_task"] for r in records}
    assert active == ({"id", "inv"} if config.mode == "switch" else {None})
    if config.loss_weighting == "uncertainty":
        assert set(summary["learned_loss_weights"]) == {"id", "inv"}
    if config.ewc_lambda:
        assert summary["ewc_consolidated"] == ["id"]  # At the switch; inv ran to the end.


def test_a_switch_run_compiles_its_training_loop_once_for_all_its_tasks(data_dir, tmp_path):
    """One stream serves every task (a switch on the active one), so a new task does not
    trace the model and its gradient again (0.6 s a task for conv fc)."""
    before = train_steps.experimental_get_tracing_count()
    config = smoke_config(data_dir=data_dir, log_dir=str(tmp_path), run_name="run", batch=8,
                          tasks=("id", "inv", "perm"), task_time=10, max_steps=30,
                          test_frequency=30)
    run_experiment(config, progress_stream=io.StringIO())
    assert train_steps.experimental_get_tracing_count() - before == 1


def test_a_run_that_ewc_makes_diverge_names_the_lambda(data_dir, tmp_path):
    config = smoke_config(data_dir=data_dir, log_dir=str(tmp_path), run_name="run", batch=8,
                          ewc_lambda=1e12)
    with pytest.raises(RunDiverged, match="lower --ewc-lambda"):
        run_experiment(config, progress_stream=io.StringIO())


def test_the_closed_form_fisher_of_a_dense_stack_equals_every_example_s_gradient():
    from training.methods.ewc import _dense_squared_gradients, _squared_gradients

    model = build_model(("fc:6", "fc:5", "fc"), input_shape=(28, 28, 1), num_classes=3,
                        heads=2, keep_prob=1.0, seed=2)
    layers = dense_stack(model)
    assert layers is not None
    rng = np.random.default_rng(5)
    inputs = (tf.constant(rng.random((7, 28, 28, 1)), tf.float32),
              tf.one_hot(rng.integers(0, 2, 7), 2))
    labels = tf.constant(rng.integers(0, 3, 7), tf.int32)
    keep = tf.constant([True, True, False])  # As a class-incremental run's seen classes.
    masked = lambda logits: tf.where(keep, logits, -float("inf"))  # noqa: E731
    for predicted in (False, True):
        fast = _dense_squared_gradients(layers, inputs, tf.minimum(labels, 1), predicted,
                                        masked)
        exact = _squared_gradients(model, inputs, tf.minimum(labels, 1), predicted, masked)
        for f, e in zip(fast, exact):
            np.testing.assert_allclose(f.numpy(), e.numpy(), rtol=1e-4, atol=1e-7)
