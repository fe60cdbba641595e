"""The replay methods' maths (training/methods/er.py, der.py, derpp.py, icarl.py): the reservoir
keeps every example with the same chance; ER trains its batch and a draw as one batch; DER
keeps the logits an example had when stored; DER++ draws twice, independently; iCaRL's
herding order, its sigmoid loss, its memory and its nearest-mean-of-exemplars rule."""

import types

import numpy as np
import pytest
import tensorflow as tf

from data import MnistArrays
from models import build_model
from models.layers import NearestMean
from schedule import Schedule
from tasks import build_tasks
from training.methods.base import Methods
from training.methods.der import DER
from training.methods.derpp import DERPP
from training.methods.er import ER, reservoir_slots
from training.methods.icarl import ICaRL, class_mean, herding
from training.steps import make_optimizer, train_steps


def _model(classes: int = 10, seed: int = 0) -> tf.keras.Model:
    return build_model(["fc:8", "fc"], input_shape=(28, 28, 1), num_classes=classes,
                       keep_prob=1.0, seed=seed)


def _batch(n: int, seed: int, classes: int = 10) -> tuple[tf.Tensor, tf.Tensor]:
    rng = np.random.default_rng(seed)
    return (tf.constant(rng.random((n, 28, 28, 1)), tf.float32),
            tf.constant(rng.integers(0, classes, n), tf.int32))


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _cross_entropy(logits: np.ndarray, labels: np.ndarray) -> float:
    return float(np.mean(-np.log(_softmax(logits))[np.arange(len(labels)), labels]))


CAPACITY, STREAM, BATCH, TRIALS = 6, 60, 7, 1000


def _held_counts(slots_of) -> np.ndarray:
    """How often each of STREAM examples, offered in batches of BATCH, is in a buffer of
    CAPACITY at the stream's end, over TRIALS streams; slots_of(seen, count, trial) gives
    the batch's slots (-1: not kept)."""
    counts = np.zeros(STREAM)
    for trial in range(TRIALS):
        buffer = np.full(CAPACITY, -1)
        for seen in range(0, STREAM, BATCH):
            count = min(BATCH, STREAM - seen)
            for i, slot in enumerate(slots_of(seen, count, trial)):
                if slot >= 0:
                    buffer[slot] = seen + i
        assert (buffer >= 0).all() and len(set(buffer)) == CAPACITY
        counts[buffer] += 1
    return counts


def _chi_square(counts: np.ndarray) -> float:
    expected = TRIALS * CAPACITY / STREAM
    return float(((counts - expected) ** 2 / expected).sum())


def test_the_reservoir_keeps_every_example_seen_with_the_same_chance():
    """Each example ends in the buffer with chance CAPACITY / STREAM (0.1): the chi-square of
    the counts over 60 examples (59 degrees of freedom: mean 59, sd 11) stays under 100,
    which a buffer that keeps the first examples, or the last, exceeds a hundredfold."""
    compiled = tf.function(lambda seen, count, seed: reservoir_slots(seen, count, CAPACITY,
                                                                     seed))

    def reservoir(seen, count, trial):
        return compiled(tf.constant(seen, tf.int64), tf.constant(count, tf.int64),
                        tf.constant([trial, seen], tf.int64)).numpy()

    assert _chi_square(_held_counts(reservoir)) < 100

    def keep_first(seen, count, trial):
        return [n if n < CAPACITY else -1 for n in range(seen, seen + count)]

    def keep_last(seen, count, trial):
        return [n % CAPACITY for n in range(seen, seen + count)]

    assert min(_chi_square(_held_counts(keep_first)), _chi_square(_held_counts(keep_last))) \
        > 10000


def test_a_batch_goes_into_the_reservoir_as_its_examples_would_one_at_a_time():
    """The buffer's first examples fill it in order; a batch's slots are distinct (a slot
    two of its examples draw goes to the later), so storing them in any order leaves what
    storing the examples one at a time, each drawing from 0..n, leaves."""
    assert list(reservoir_slots(tf.constant(0, tf.int64), tf.constant(4, tf.int64), 6,
                                tf.constant([0, 0], tf.int64)).numpy()) == [0, 1, 2, 3]
    seen, count, capacity, collisions = 3, 40, 5, 0
    for seed in range(20):
        uniform = tf.random.stateless_uniform([count], tf.constant([seed, seen], tf.int64),
                                              dtype=tf.float64).numpy()
        one_at_a_time = [n if n < seen else -1 for n in range(capacity)]
        for i, u in enumerate(uniform):
            n = seen + i
            slot = n if n < capacity else int(np.floor(u * (n + 1)))
            if slot < capacity:
                collisions += one_at_a_time[slot] >= seen
                one_at_a_time[slot] = n
        slots = reservoir_slots(tf.constant(seen, tf.int64), tf.constant(count, tf.int64),
                                capacity, tf.constant([seed, seen], tf.int64)).numpy()
        kept = np.flatnonzero(slots >= 0)
        assert len(set(slots[kept])) == len(kept)
        batch = [n if n < seen else -1 for n in range(capacity)]
        for i in kept[::-1]:  # Any order: the slots are distinct.
            batch[slots[i]] = seen + i
        assert batch == one_at_a_time
    assert collisions > 20  # Examples of a batch did draw the same slot.


def test_er_trains_its_batch_and_a_draw_of_the_buffer_as_one_batch():
    model = _model()
    er = ER(model, size=20, batch=6, seed=0)
    assert float(er.loss_term(model, *_batch(4, 0), model(_batch(4, 0)[0]))) == 0.0  # Empty.
    stored, stored_labels = _batch(20, 1)
    er.buffer.add(stored, stored_labels)
    images, labels = _batch(4, 2)
    logits = model(images, training=True)
    term = float(er.loss_term(model, images, labels, logits))
    slots = er.buffer.draw(6, er.draw_seed("draw")).numpy()
    assert len(set(slots)) == 6
    joined = np.concatenate([logits.numpy(), model(tf.gather(stored, slots)).numpy()])
    want = _cross_entropy(joined, np.concatenate([labels.numpy(), stored_labels.numpy()[slots]]))
    assert _cross_entropy(logits.numpy(), labels.numpy()) + term == pytest.approx(want, rel=1e-5)
    assert abs(term) > 1e-4


def test_der_keeps_each_examples_logits_as_they_were_when_it_was_stored():
    """The logits kept are the step's forward pass's, before its update, never recomputed:
    eagerly and in the compiled loop alike."""
    first, second = _batch(5, 1), _batch(3, 2)
    model = _model()
    der = DER(model, size=8, batch=4, alpha=0.5, seed=0)
    optimizer = make_optimizer("sgd", 0.5)
    logits_first = model(first[0], training=True).numpy()
    Methods([der]).step(model, optimizer, first)
    logits_second = model(second[0], training=True).numpy()
    assert np.abs(logits_second - model(second[0]).numpy()).max() == 0.0  # No dropout.
    assert np.abs(model(first[0]).numpy() - logits_first).max() > 1e-2  # The update moved.
    Methods([der]).step(model, optimizer, second)
    kept = der.buffer.outputs.numpy()
    np.testing.assert_allclose(kept[:5], logits_first, rtol=1e-6)
    np.testing.assert_allclose(kept[5:8], logits_second, rtol=1e-6)
    np.testing.assert_array_equal(der.buffer.inputs[0].numpy()[:5], first[0].numpy())
    assert int(der.buffer.seen.numpy()) == 8 and der.buffer.labels is None

    compiled_model = _model()
    compiled = DER(compiled_model, size=8, batch=4, alpha=0.5, seed=0)
    batches = iter(tf.data.Dataset.from_tensors(first).concatenate(
        tf.data.Dataset.from_tensors(second)))
    train_steps(compiled_model, make_optimizer("sgd", 0.5), batches, tf.constant(2),
                Methods([compiled]))
    np.testing.assert_allclose(compiled.buffer.outputs.numpy(), kept, rtol=1e-5, atol=1e-6)
    for a, b in zip(compiled_model.get_weights(), model.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_der_matches_the_present_logits_to_the_kept_ones_on_a_draw():
    model = _model()
    der = DER(model, size=20, batch=6, alpha=0.3, seed=0)
    stored, labels = _batch(20, 1)
    kept = np.random.default_rng(0).normal(size=(20, 10)).astype(np.float32)
    der.buffer.add(stored, labels, tf.constant(kept))
    images, labels = _batch(4, 2)
    term = float(der.loss_term(model, images, labels, model(images)))
    slots = der.buffer.draw(6, der.draw_seed("draw")).numpy()
    present = model(tf.gather(stored, slots)).numpy()
    assert term == pytest.approx(0.3 * np.mean((present - kept[slots]) ** 2), rel=1e-5)


def test_derpp_draws_its_two_buffer_batches_independently_and_adds_beta_ce_on_the_second():
    model = _model()
    derpp = DERPP(model, size=50, batch=10, alpha=0.3, beta=0.7, seed=0)
    stored, stored_labels = _batch(50, 3)
    kept = np.random.default_rng(1).normal(size=(50, 10)).astype(np.float32)
    derpp.buffer.add(stored, stored_labels, tf.constant(kept))
    overlaps = []
    for seen in range(50, 250):
        derpp.buffer.seen.assign(seen)
        first = derpp.buffer.draw(10, derpp.draw_seed("draw")).numpy()
        second = derpp.buffer.draw(10, derpp.draw_seed("second draw")).numpy()
        assert len(set(first)) == len(set(second)) == 10
        overlaps.append(len(set(first) & set(second)))
    # Two independent draws of 10 of 50 share 10 * 10 / 50 = 2 on average (sd 1.2, of
    # the mean of 200: 0.08); one draw used twice would share all 10.
    assert 1.6 < np.mean(overlaps) < 2.4
    images, labels = _batch(4, 2)
    term = float(derpp.loss_term(model, images, labels, model(images)))
    first = derpp.buffer.draw(10, derpp.draw_seed("draw")).numpy()
    second = derpp.buffer.draw(10, derpp.draw_seed("second draw")).numpy()
    matched = np.mean((model(tf.gather(stored, first)).numpy() - kept[first]) ** 2)
    ce = _cross_entropy(model(tf.gather(stored, second)).numpy(), stored_labels.numpy()[second])
    assert term == pytest.approx(0.3 * matched + 0.7 * ce, rel=1e-5)


def _mammoth_herding(features: np.ndarray, count: int) -> list[int]:
    """Mammoth's fill_buffer loop, as written there: the norm of the mean's distance, the
    chosen row pushed away by 1e6."""
    features = features.astype(np.float64).copy()
    mean = features.mean(axis=0, keepdims=True)
    running, chosen = np.zeros_like(mean), []
    for i in range(min(count, len(features))):
        cost = np.linalg.norm(mean - (features + running) / (i + 1), axis=1)
        pick = int(cost.argmin())
        chosen.append(pick)
        running += features[pick:pick + 1]
        features[pick] += 1e6
    return chosen


@pytest.mark.parametrize("seed", range(4))
def test_icarl_herding_picks_in_mammoths_order(seed):
    features = np.random.default_rng(seed).normal(size=(15, 4))
    order = herding(features, 6)
    assert list(order) == _mammoth_herding(features, 6)
    nearest_first = np.argsort(np.linalg.norm(features - features.mean(axis=0), axis=1))
    assert list(order) != list(nearest_first[:6])  # Not merely the nearest to the mean.
    assert list(herding(features, 40)) == _mammoth_herding(features, 40)  # All 15, once.
    assert sorted(herding(features, 40)) == list(range(15))


def test_icarl_class_means_are_the_exemplars_mean_or_mammoths_halving():
    rows = np.array([[1.0, 0.0], [3.0, 0.0], [0.0, 4.0], [0.0, 8.0], [10.0, 10.0]])
    np.testing.assert_allclose(class_mean(rows, "exemplars", 2), rows.mean(axis=0))
    halves = (((rows[0] + rows[1]) / 2 + (rows[2] + rows[3]) / 2) / 2 + rows[4]) / 2
    np.testing.assert_allclose(class_mean(rows, "batch-halving", 2), halves)


def test_the_nearest_mean_of_exemplars_answers_the_class_whose_mean_is_nearest():
    layer = NearestMean(4)
    features = tf.constant([[0.0, 0.0], [5.0, 5.0], [1.0, -1.0]])
    logits = tf.constant(np.arange(12, dtype=np.float32).reshape(3, 4))
    np.testing.assert_array_equal(layer([features, logits]).numpy(), logits.numpy())  # None.
    layer.means.assign([[1.0, 1.0], [4.0, 4.0], [0.0, 0.0], [1.0, -1.2]])
    layer.present.assign([1.0, 1.0, 0.0, 1.0])  # Class 2's mean is absent, though nearest.
    answers = layer([features, logits]).numpy()
    np.testing.assert_allclose(answers[:, [0, 1, 3]], -np.array(
        [[2.0, 32.0, 2.44], [32.0, 2.0, 54.44], [4.0, 34.0, 0.04]]), rtol=1e-5)
    assert list(answers.argmax(axis=1)) == [0, 1, 3]
    assert (answers[:, 2] == NearestMean.ABSENT).all()


def _icarl_case(memory: int = 4):
    """An iCaRL on split-01 and split-23 (global labels, 4 classes), a run's view of it,
    and the tasks."""
    rng = np.random.default_rng(0)
    digits = (np.arange(40) % 4).astype(np.int32)
    mnist = MnistArrays(train_images=rng.integers(0, 256, (40, 28, 28), dtype=np.uint8),
                        train_labels=digits, test_images=np.zeros((4, 28, 28), np.uint8),
                        test_labels=np.arange(4, dtype=np.int32))
    names = ["split-01", "split-23"]
    tasks = build_tasks(names, sources={"mnist": mnist}, input_style="grey", seed=0,
                        labels="global")
    model = _model(classes=4)
    icarl = ICaRL(model, tasks, [(0, 1), (2, 3)], memory, batch=2, seed=0)
    run = types.SimpleNamespace(model=model, tasks=tasks, periods=Schedule(tuple(names), 10),
                                config=types.SimpleNamespace(batch=2),
                                schedule=types.SimpleNamespace(finished=lambda step: step == 20))
    return icarl, run, model, tasks


def test_icarls_loss_is_the_sigmoid_loss_with_targets_from_the_copy_on_the_old_classes():
    icarl, run, model, _ = _icarl_case()
    icarl.weight_decay = 0.01
    images, labels = _batch(5, 1, classes=2)
    logits = model(images).numpy()
    icarl.period_start(run, 0)  # Task 0 (classes 0, 1) trains; nothing ended yet.
    bce = lambda z, t: np.mean(np.maximum(z, 0) - z * t + np.log1p(np.exp(-abs(z))))  # noqa
    decay = 0.01 * sum(float(np.sum(w ** 2)) for w in model.get_weights())
    term = float(icarl.loss_term(model, images, labels, tf.constant(logits)))
    want = bce(logits[:, :2], np.eye(4)[labels.numpy()][:, :2]) + decay
    assert term + _cross_entropy(logits, labels.numpy()) == pytest.approx(want, rel=1e-5)

    icarl.herd(run, 10)  # Task 0 ended: the copy is the network as it ended.
    icarl.period_start(run, 10)
    for v in model.trainable_variables:
        v.assign_add(tf.random.stateless_normal(v.shape, [0, 1], stddev=0.2))
    old = model.get_weights()
    images, labels = images, labels + 2  # Task 1's classes.
    logits = model(images).numpy()
    icarl.previous.set_weights([w - 0.1 for w in old])
    targets = np.concatenate([1 / (1 + np.exp(-icarl.previous(images).numpy()[:, :2])),
                              np.eye(4)[labels.numpy()][:, 2:]], axis=1)
    decay = 0.01 * sum(float(np.sum(w ** 2)) for w in old)
    term = float(icarl.loss_term(model, images, labels, tf.constant(logits)))
    assert term + _cross_entropy(logits, labels.numpy()) == pytest.approx(
        bce(logits, targets) + decay, rel=1e-5)


def test_icarl_herds_each_ended_class_and_keeps_the_first_exemplars_of_the_others():
    icarl, run, model, tasks = _icarl_case(memory=8)
    icarl.herd(run, 10)  # split-01 ended: 8 // 2 = 4 exemplars of classes 0 and 1.
    task = tasks[0]
    inputs, labels = task.prepare(*task.train.take(tf.range(len(task.train))),
                                  tf.constant([0, 0], tf.int64))
    features, labels = icarl.features(inputs).numpy(), labels.numpy()
    first = {c: np.flatnonzero(labels == c)[herding(features[labels == c], 4)] for c in (0, 1)}
    assert list(icarl.classes.numpy()) == [0] * 4 + [1] * 4
    assert list(icarl.example_ids.numpy()) == [*first[0], *first[1]]
    assert icarl.memory_examples(1, tasks) == 8 == icarl.memory_examples(2, tasks)
    for v in model.trainable_variables:  # The network moves on as split-23 trains.
        v.assign_add(tf.random.stateless_normal(v.shape, [0, 2], stddev=0.3))
    nearest = icarl.evaluated_model(run, 20)  # The run's end: split-23's classes herded.
    assert int(icarl.herded_at.numpy()) == 20
    assert list(icarl.classes.numpy()) == [0, 0, 1, 1, 2, 2, 3, 3]
    assert list(icarl.example_ids.numpy()[:4]) == [*first[0][:2], *first[1][:2]]
    assert list(icarl.task_ids.numpy()) == [0] * 4 + [1] * 4
    # Each class's mean is its exemplars' mean feature, as the network is now.
    kept, _ = task.prepare(*task.train.take(tf.constant(first[0][:2])),
                           tf.constant([0, 0], tf.int64))
    np.testing.assert_allclose(icarl.means.means.numpy()[0],
                               icarl.features(kept).numpy().mean(axis=0), rtol=1e-5)
    answers = nearest(kept).numpy()
    np.testing.assert_allclose(answers[:, 0], -np.sum(
        (icarl.features(kept).numpy() - icarl.means.means.numpy()[0]) ** 2, axis=1),
        rtol=1e-4)
