"""The continual-learning benchmarks' scenarios: Split and Permuted MNIST tasks, their labels,
the benchmarks' inputs, initial weights and optimizer, training by epochs, offline
training and the class-incremental loss."""

import json
import math
import os

import numpy as np
import pytest
import tensorflow as tf

from data import MnistArrays
from errors import UserError
from experiments.studies import split_mnist, split_mnist_lr_drop
from models import build_model
from plots.runlog import load_run
from tasks import build_tasks
from tasks.streams import UnionStream
from training import run_experiment
from training.config import RunConfig, smoke_config
from training.losses import cross_entropies
from training.methods.base import Methods
from training.methods.seen_classes import SeenClasses
from training.steps import make_optimizer

SPLITS = ("split-01", "split-23", "split-45")


def _mnist(n_train=60, n_test=30, seed=0) -> MnistArrays:
    rng = np.random.default_rng(seed)
    return MnistArrays(
        train_images=rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        train_labels=(np.arange(n_train) % 10).astype(np.int32),
        test_images=rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        test_labels=(np.arange(n_test) % 10).astype(np.int32))


def _all_of(task, split="train"):
    data = getattr(task, split)
    return task.prepare(*data.take(tf.range(len(data))), tf.constant([0, 0], tf.int64))


@pytest.mark.parametrize("labels, expected", [("task", [0, 1]), ("global", [2, 3])])
def test_a_split_task_keeps_its_two_digits_labelled_by_the_labels_setting(labels, expected):
    mnist = _mnist()
    task = build_tasks(["split-23"], sources={"mnist": mnist}, input_style="combined",
                       seed=0, labels=labels)[0]
    assert len(task.train) == 12 and len(task.test) == 6  # Digits 2 and 3 of 60 and 30.
    images, got = _all_of(task)
    assert sorted(set(got.numpy())) == expected
    digits = mnist.train_labels[np.isin(mnist.train_labels, (2, 3))]
    np.testing.assert_array_equal(got.numpy(), np.array(expected)[digits - 2])
    rows = np.flatnonzero(np.isin(mnist.train_labels, (2, 3)))
    np.testing.assert_allclose(images.numpy()[..., 0], mnist.train_images[rows] / 255.0,
                               atol=1e-6)


def test_padded_standardised_grey_inputs_are_the_benchmarks_32x32_mlp_input():
    mnist = _mnist()
    task = build_tasks(["id"], sources={"mnist": mnist}, input_style="grey", seed=0, pad=2,
                       normalize=(0.1, 0.2752))[0]
    images, _ = _all_of(task)
    assert task.image_shape == (32, 32) and images.shape == (60, 32, 32, 1)
    np.testing.assert_allclose(images.numpy()[:, :2], (0 - 0.1) / 0.2752, rtol=1e-6)
    np.testing.assert_allclose(images.numpy()[:, 2:30, 2:30, 0],
                               (mnist.train_images / 255.0 - 0.1) / 0.2752, rtol=1e-5,
                               atol=1e-6)


def test_pytorch_initial_weights_are_uniform_within_one_over_root_fan_in():
    model = build_model(("fc:400", "fc"), input_shape=(32, 32, 1), init="pytorch", seed=3,
                        keep_prob=1.0)
    for variable, fan_in in zip(model.trainable_variables, (1024, 1024, 400, 400)):
        values, bound = variable.numpy(), fan_in ** -0.5
        assert np.abs(values).max() <= bound
        if values.size > 1000:  # A uniform's sd is its bound / sqrt(3).
            assert values.std() == pytest.approx(bound / math.sqrt(3), rel=0.05)


def test_adagrad_steps_as_pytorch_does():
    variable = tf.Variable([1.0, 2.0])
    optimizer = make_optimizer("adagrad", 0.01)
    gradients = [np.array([0.5, -2.0]), np.array([0.1, 1.0])]
    accumulator = np.zeros(2)
    expected = np.array([1.0, 2.0])
    for gradient in gradients:  # torch.optim.Adagrad: sum += g^2; w -= lr g / (sqrt(sum) + eps)
        optimizer.apply_gradients([(tf.constant(gradient, tf.float32), variable)])
        accumulator += gradient ** 2
        expected -= 0.01 * gradient / (np.sqrt(accumulator) + 1e-10)
    np.testing.assert_allclose(variable.numpy(), expected, rtol=1e-5)


def test_permuted_tasks_each_permute_the_pixels_their_own_way():
    mnist = _mnist()
    tasks = build_tasks(["pixperm-1", "pixperm-2"], sources={"mnist": mnist},
                        input_style="grey", seed=0)
    first, second = (_all_of(task)[0].numpy()[0, ..., 0] for task in tasks)
    original = mnist.train_images[0] / 255.0
    for permuted in (first, second):
        np.testing.assert_allclose(np.sort(permuted.ravel()), np.sort(original.ravel()),
                                   atol=1e-6)
    assert not np.allclose(first, second) and not np.allclose(first, original)


def test_the_union_stream_draws_every_example_of_every_task_once_an_epoch():
    tasks = build_tasks(list(SPLITS), sources={"mnist": _mnist()}, input_style="grey",
                        seed=0, task_signal=True)
    total = sum(len(task.train) for task in tasks)  # 36
    stream = UnionStream(tasks, batch_size=4, seed=1)
    seen = []
    for _ in range(total // 4):
        (images, signal), labels = next(stream)
        seen += [(int(np.argmax(s)), img.tobytes()) for s, img in zip(signal.numpy(),
                                                                        images.numpy())]
    expected = [(t, img.tobytes()) for t, task in enumerate(tasks)
                for img in _all_of(task)[0][0].numpy()]  # (images, signal), labels
    assert sorted(seen) == sorted(expected)
    next_epoch = [img.tobytes() for img in next(stream)[0][0].numpy()]
    assert next_epoch != [img for _, img in seen[:4]]  # A fresh order.


def test_seen_classes_train_only_the_classes_trained_so_far():
    model = build_model(("fc:8", "fc"), input_shape=(28, 28, 1), keep_prob=1.0, seed=0)
    seen = SeenClasses([(0, 1), (2, 3)], classes=10)

    class Periods:
        @staticmethod
        def task_index_at(step):
            return 0 if step < 10 else 1

    class FakeRun:
        periods = Periods()

    seen.period_start(FakeRun, 0)
    images = tf.constant(np.random.default_rng(0).random((6, 28, 28, 1)), tf.float32)
    labels = tf.constant([0, 1, 0, 1, 1, 0])
    gradients, variables, loss, _ = Methods([seen]).gradients(model, (images, labels))
    sliced = model(images)[:, :2]  # Hsu et al.: the output cut to the classes seen.
    assert float(loss) == pytest.approx(float(tf.reduce_mean(cross_entropies(sliced, labels))),
                                        rel=1e-5)
    kernel, bias = gradients[-2].numpy(), gradients[-1].numpy()
    assert np.all(kernel[:, 2:] == 0) and np.all(bias[2:] == 0) and np.any(kernel[:, :2])
    seen.period_start(FakeRun, 10)
    assert list(np.flatnonzero(seen.seen.numpy())) == [0, 1, 2, 3]


def test_mas_reads_only_the_outputs_the_training_loss_reads():
    from training.methods.mas import output_sensitivity

    model = build_model(("fc:8", "fc"), input_shape=(28, 28, 1), keep_prob=1.0, seed=0)
    inputs = tf.constant(np.random.default_rng(1).random((5, 28, 28, 1)), tf.float32)
    keep = tf.constant([True] * 4 + [False] * 6)
    got = output_sensitivity(model, [inputs],
                             lambda logits: tf.where(keep, logits, -float("inf")))
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(tf.square(model(inputs)[:, :4]))
    for g, want in zip(got, tape.gradient(loss, model.trainable_variables)):
        np.testing.assert_allclose(g.numpy(), np.abs(want.numpy()), rtol=1e-5, atol=1e-9)


def _write_mnist(path, mnist):
    from conftest import idx_bytes

    os.makedirs(path, exist_ok=True)
    for name, array in (("train-images-idx3-ubyte", mnist.train_images),
                        ("train-labels-idx1-ubyte", mnist.train_labels.astype(np.uint8)),
                        ("t10k-images-idx3-ubyte", mnist.test_images),
                        ("t10k-labels-idx1-ubyte", mnist.test_labels.astype(np.uint8))):
        with open(os.path.join(path, name), "wb") as f:
            f.write(idx_bytes(array))
    return str(path)


def test_training_by_epochs_gives_each_task_its_own_period_and_evaluates_at_switches(
        tmp_path):
    data_dir = _write_mnist(tmp_path / "mnist", _mnist(n_train=70))
    config = smoke_config(
        tasks=SPLITS, task_epochs=2, batch=5, test_frequency=1000, data_dir=data_dir,
        log_dir=str(tmp_path), run_name="epochs", labels="global", loss_classes="seen",
        input_style="grey", image_pad=2, network=("fc:8", "fc"), init="pytorch")
    run_dir = run_experiment(config, progress_stream=open(os.devnull, "w"))
    sizes = [14, 14, 14]  # Digits 0-1, 2-3 and 4-5 of 70 cycling labels.
    lengths = [math.ceil(2 * n / 5) for n in sizes]
    saved = json.load(open(os.path.join(run_dir, "config.json")))
    assert saved["period_steps"] == lengths and saved["total_steps"] == sum(lengths)
    summary = json.load(open(os.path.join(run_dir, "summary.json")))
    assert summary["steps"] == sum(lengths)
    run = load_run(run_dir)
    assert [r["step"] for r in run.tests] == [0, 6, 12, 18]
    assert run.periods() == [(0, 6, "split-01"), (6, 12, "split-23"), (12, 18, "split-45")]


def test_offline_training_runs_epochs_of_every_task_together(tmp_path):
    data_dir = _write_mnist(tmp_path / "mnist", _mnist(n_train=70))
    config = smoke_config(tasks=SPLITS, task_epochs=1, batch=7, mode="offline",
                          test_frequency=1000, data_dir=data_dir, log_dir=str(tmp_path),
                          run_name="offline", network=("fc:8", "fc"))
    run_dir = run_experiment(config, progress_stream=open(os.devnull, "w"))
    summary = json.load(open(os.path.join(run_dir, "summary.json")))
    assert summary["steps"] == 42 // 7
    run = load_run(run_dir)
    assert {r["active_task"] for r in run.trains} == {None} and run.periods() == []


def test_naive_rehearsal_trains_each_task_with_the_memory_shared_among_past_tasks():
    from training.methods.rehearsal import Rehearsal
    from schedule import Schedule

    sizes = [50, 40, 30]
    rehearsal = Rehearsal(memory=20)
    schedule = Schedule(("a", "b", "c"), 10)
    tasks, examples = rehearsal.period_set(schedule, 2, sizes, seed=0)
    # Period 2 (task c, 30 examples): a and b keep 10 each, repeated max(30 // 20, 1) = once.
    assert list(np.bincount(tasks)) == [10, 10, 30]
    assert sorted(examples[tasks == 2]) == list(range(30))
    assert len(set(examples[tasks == 0])) == 10 and examples[tasks == 0].max() < 50
    before_tasks, before = rehearsal.period_set(schedule, 1, sizes, seed=0)
    # Period 1 (task b, 40 examples): a keeps all 20, repeated 40 // 20 = twice.
    assert list(np.bincount(before_tasks)) == [40, 40]
    assert len(set(before[before_tasks == 0])) == 20
    # A share that shrinks keeps a subset of what the task held.
    assert set(examples[tasks == 0]) <= set(before[before_tasks == 0])

    class Sized:
        def __init__(self, n):
            self.train = range(n)

    assert [rehearsal.memory_examples(p, [Sized(n) for n in sizes]) for p in range(3)] == \
        [0, 20 * 2, 20]


@pytest.mark.parametrize("changes, message", [
    (dict(task_epochs=2, schedule="episodes"), "--task-epochs"),
    (dict(task_epochs=2, mode="joint"), "--task-epochs"),
    (dict(loss_classes="seen", head="per-task"), "--loss-classes seen"),
    (dict(input_style="grey", tasks=("id", "dog")), "--input-style grey"),
    (dict(normalize=(0.1, 0.0)), "--normalize"),
    (dict(image_pad=-1), "--image-pad"),
    (dict(ewc_fisher_examples=-1), "--ewc-fisher-examples"),
    (dict(tasks=("pixperm-21",)), "pixperm-1 .. pixperm-20"),
])
def test_bad_benchmark_settings_are_refused_with_the_flag_named(changes, message):
    with pytest.raises(UserError, match=message):
        RunConfig(**{"tasks": SPLITS, **changes})


def test_the_split_mnist_grid_holds_every_method_in_every_scenario_as_the_scripts_set_it():
    points = split_mnist.points("mnist")
    # Every row in each scenario it has: Hsu et al.'s in all three, van de Ven and Tolias's
    # LwF in the two whose published cells are theirs.
    assert len(points) == sum(len(row) for row in split_mnist.METHODS.values())
    assert {p["name"] for p in points if "vdv" in p["name"]} == {"domain-lwf-vdv",
                                                                  "class-lwf-vdv"}
    assert len(points) == 3 * (len(split_mnist.METHODS) - 1) + 2
    by_name = {point["name"]: point for point in points}
    assert by_name["class-l2"]["l2_lambda"] == 100.0 and by_name["domain-l2"]["l2_lambda"] == 0.5
    assert by_name["class-ewc"]["ewc_lambda"] == 2 * 600  # Their penalty has no 1/2.
    assert by_name["task-sgd"]["optimizer"] == "sgd" and by_name["task-sgd"]["head"] == "per-task"
    assert by_name["class-adam"]["loss_classes"] == "seen"
    vdv = by_name["domain-lwf-vdv"]
    assert (vdv["lwf_form"], vdv["task_time"], vdv["image_pad"]) == ("van-de-ven", 2000, 0)
    for point in points:
        RunConfig(**{k: v for k, v in point.items() if k != "name"})  # Every one is valid.


def test_the_logs_rate_grid_drops_the_rate_after_the_first_tasks_first_epoch():
    from data import load_mnist

    digits = load_mnist(train="all").train_labels
    first_task = int(np.isin(digits, (0, 1)).sum())  # split-01, the first task.
    assert split_mnist.TASKS[0] == "split-01"
    assert split_mnist_lr_drop.LOGS_DROP_STEP == math.ceil(first_task / 128)
    points = {p["name"]: p for p in split_mnist_lr_drop.logs_rate_points("mnist")}
    assert points["domain-sgd-lr-drop"]["learning_rate_drops"] == (
        split_mnist_lr_drop.LOGS_DROP_STEP,)
    assert "domain-si-lr-drop" not in points and "task-offline-lr-drop" not in points
    assert set(points) == {f"{s}-{m.lower().replace(' ', '-')}-lr-drop"
                           for s in split_mnist.SCENARIOS for m in split_mnist.AUTHORS_LOGS[s]
                           if m not in ("SI", "Offline")}
    table = split_mnist_lr_drop.logs_rate_table({"domain-sgd-lr-drop": [
        {"final_test_accuracy_all": 0.7}], "domain-sgd": [{"final_test_accuracy_all": 0.6}]})
    assert table["domain"] == {"SGD": {"mean": pytest.approx(70.0), "sd": None, "seeds": 1}}


def test_the_table_gives_percent_mean_and_sample_sd_over_seeds():
    summaries = {"class-adam": [{"final_test_accuracy_all": 0.19},
                                {"final_test_accuracy_all": 0.21}],
                 "task-offline": [{"final_test_accuracy_all": 0.99}]}
    table = split_mnist.table(summaries)
    assert table["class"]["Adam"] == {"mean": pytest.approx(20.0), "sd": pytest.approx(
        math.sqrt(2.0)), "seeds": 2}
    assert table["task"]["Offline"]["sd"] is None and "SGD" not in table["task"]
    text = split_mnist.format_table(table)
    assert "20.00 ± 1.41 (2) | 19.72: +0.28" in text and "99.00 ± — (1) | 99.61: -0.61" in text
    json.dumps(table)  # Plain JSON: no NaN.


PERMUTED = ("id", *(f"pixperm-{k}" for k in range(1, 10)))


@pytest.mark.parametrize("method", [
    {}, dict(optimizer="adagrad"), dict(l2_lambda=0.1), dict(ewc_lambda=1.0),
    dict(ewc_lambda=1.0, ewc_online=True, ewc_fisher_examples=0,
         ewc_fisher_labels="predicted"),
    dict(si_c=1.0), dict(mas_lambda=1.0), dict(lwf_lambda=1.0), dict(rehearsal_memory=30),
    dict(agem_memory=30, agem_batch=8), dict(gem_memory=30), dict(replay_size=30),
    dict(mode="offline"), dict(head="per-task", lwf_lambda=1.0)],
    ids=lambda method: "-".join(f"{k}={v}" for k, v in method.items()) or "plain")
def test_permuted_mnist_of_ten_tasks_runs_with_every_method_that_applies(tmp_path, method):
    data_dir = _write_mnist(tmp_path / "mnist", _mnist(n_train=24, n_test=10))
    config = smoke_config(tasks=PERMUTED, task_epochs=1, batch=8, test_frequency=1000,
                          data_dir=data_dir, log_dir=str(tmp_path), run_name="permuted",
                          input_style="grey", network=("fc:8", "fc"), **method)
    run_dir = run_experiment(config, progress_stream=open(os.devnull, "w"))
    summary = json.load(open(os.path.join(run_dir, "summary.json")))
    assert summary["status"] == "completed"
    assert set(summary["final_test_accuracy"]) == set(PERMUTED)
    if method.get("mode") != "offline":
        saved = json.load(open(os.path.join(run_dir, "config.json")))
        assert len(saved["period_steps"]) == 10 and summary["steps"] == sum(
            saved["period_steps"])


def test_a_head_per_task_is_also_judged_without_the_task_given():
    from tasks.registry import TASKS, class_identities
    from training.steps import evaluate, task_heads

    tasks = build_tasks(["split-01", "split-23"], sources={"mnist": _mnist()},
                        input_style="grey", seed=0, task_signal=True)
    model = build_model(("fc:8", "fc"), input_shape=(28, 28, 1), num_classes=2, heads=2,
                        keep_prob=1.0, seed=1)
    heads = task_heads(model, [class_identities(TASKS[t.name], "task") for t in tasks])
    assert heads[1].numpy().tolist() == [[0, 1], [2, 3]]  # Each head's classes: its digits.
    results = evaluate(model, tasks, heads=heads)
    for index, task in enumerate(tasks):
        (images, signal), labels = _all_of(task, "test")
        every = heads[0]((images, signal)).numpy().reshape(-1, 2, 2)
        own = every[:, index].argmax(-1)
        assert results[task.name]["accuracy"] == pytest.approx(np.mean(own == labels.numpy()))
        guess = every.reshape(-1, 4).argmax(-1)  # Head k, class c: the digit 2k + c.
        truth = 2 * index + labels.numpy()
        assert results[task.name]["accuracy_task_agnostic"] == pytest.approx(
            np.mean(guess == truth))
    assert task_heads(build_model(("fc:8", "fc"), input_shape=(28, 28, 1)), []) is None


def test_the_markdown_table_sets_each_cell_beside_the_authors_logs():
    table = split_mnist.table({"domain-adam": [{"final_test_accuracy_all": 0.60},
                                               {"final_test_accuracy_all": 0.62}]})
    text = split_mnist.markdown_table(table)
    row = next(line for line in text.splitlines() if line.startswith("| Adam |"))
    assert "61.00 ± 1.41 (2) | 59.58 ± 0.59 | +1.42" in row
    assert len(text.splitlines()) == 2 + len(split_mnist.METHODS)
