"""The DER paper's MNIST benchmarks: Rotated MNIST with drawn angles, the MNIST-360 stream and
its task-free schedule, task-masked accuracy, Mammoth's initial weights and the der-mnist
grid and table."""

import json
import os

import numpy as np
import pytest
import tensorflow as tf

from conftest import write_mnist_dir
from data import MnistArrays, load_mnist
from errors import RunInterrupted, UserError
from experiments.studies import der_mnist
from models import build_model
from seeds import derive_seed
from tasks import TASKS, build_tasks, check_task_names, known_tasks
from tasks import mnist360
from tasks import transforms as T
from tasks.rotation import rotate_images, rotation_sources
from tasks.streams import SequenceStream
from training import config_from_run_dir, run_experiment
from training.config import RunConfig, smoke_config
from training.methods import method_class, needs_of, registered
from training.methods.base import TASK_BOUNDARIES, Method
from training.steps import class_masks, evaluate
from training.task_free import needs_task_boundaries

QUIET = open(os.devnull, "w")
MLP = dict(network=("fc:8", "fc"), init="xavier", dropout=1.0, input_style="grey")


def _turned(degrees, images):
    out, _ = T.rotate(degrees)(tf.constant(images), tf.zeros(len(images), tf.int32), None)
    return out.numpy()


@pytest.mark.parametrize("degrees", [0.0, 13.7, 90.0, 179.99])
def test_numpy_turns_of_each_image_by_its_own_angle_are_the_task_transforms_turn(degrees):
    images = np.random.default_rng(1).integers(0, 256, (3, 28, 28), dtype=np.uint8)
    np.testing.assert_array_equal(rotate_images(images, np.full(3, degrees)),
                                  _turned(degrees, images))
    many = rotation_sources(np.array([degrees, 45.0]))
    np.testing.assert_array_equal(many[0], rotation_sources(degrees))
    np.testing.assert_array_equal(many[1], rotation_sources(45.0))


def test_rotrand_tasks_turn_by_an_angle_drawn_in_0_to_180_from_the_seed_and_name():
    assert TASKS["rotrand-1"].seeded and "rotrand-20" in TASKS and "rotrand-21" not in TASKS
    assert "rotrand-1 .. rotrand-20" in known_tasks()
    images = np.random.default_rng(2).random((2, 28, 28)).astype(np.float32)
    mnist = MnistArrays(train_images=np.zeros((10, 28, 28), np.uint8),
                        train_labels=np.arange(10, dtype=np.int32),
                        test_images=np.zeros((10, 28, 28), np.uint8),
                        test_labels=np.arange(10, dtype=np.int32))
    angles = {}
    for seed in (0, 1):
        tasks = build_tasks(["rotrand-1", "rotrand-2"], sources={"mnist": mnist},
                            input_style="grey", seed=seed)
        for task in tasks:
            rng = np.random.default_rng(derive_seed(seed, task.name))
            angles[seed, task.name] = angle = rng.uniform(0, 180)
            turned, _ = task.transform(tf.constant(images), tf.zeros(2, tf.int32), None)
            np.testing.assert_array_equal(turned.numpy(), _turned(angle, images))
    assert all(0 <= angle < 180 for angle in angles.values())
    assert len(set(angles.values())) == 4  # Each task and seed its own angle.


def _labels(per_digit: int, digits: int = 10) -> np.ndarray:
    return np.tile(np.arange(digits), per_digit).astype(np.int32)


def test_the_mnist360_stream_is_the_pairs_of_digits_turning_as_mammoth_makes_them():
    labels = _labels(27)  # 27 of each digit: chunks of 27 // 6 + 1 = 5, the last 2.
    stream = mnist360.training_stream(labels, 4, np.random.default_rng(0))
    assert mnist360.pairs()[:2] == [(0, 1), (1, 2)] and mnist360.pairs()[8] == (8, 0)
    assert len(mnist360.pairs()) == 27
    assert stream.batch_sizes.sum() == len(stream.rows) and stream.batch_sizes.max() <= 4
    assert 9 not in stream.labels
    # The first pair draws from the last chunks (Mammoth pops them), 0 and 1 in turn.
    zeros, ones = np.flatnonzero(labels == 0), np.flatnonzero(labels == 1)
    assert stream.batch_sizes[0] == 4  # Their 2 + 2 images: one batch, then (1 2).
    assert set(stream.rows[:2]) <= set(zeros[25:]) and set(stream.rows[2:4]) <= set(ones[25:])
    assert list(stream.labels[:6]) == [0, 0, 1, 1, 1, 1]
    # Digit j's n-th image of the whole stream turned by n * 360 / N_j + (j - 1) * 60.
    for digit in range(9):
        turns = stream.degrees[stream.labels == digit]
        expected = (np.arange(len(turns)) * 360 / 27 + (digit - 1) * 60) % 360
        np.testing.assert_allclose(turns, expected)


def test_the_mnist360_stream_of_the_bundled_mnist_has_mammoths_length():
    mnist = load_mnist("idx", None, None, train="all")
    stream = mnist360.training_stream(mnist.train_labels, 16, np.random.default_rng(0))
    # Mammoth's MNIST360.LENGTH: every training image of 0-8 is drawn (with replacement).
    assert len(stream.rows) == 54051 == np.isin(mnist.train_labels, range(9)).sum()
    rows, degrees = mnist360.test_set(mnist.test_labels, np.random.default_rng(0))
    assert sorted(rows) == list(np.flatnonzero(mnist.test_labels < 9))
    sevens = mnist.test_labels[rows] == 7
    np.testing.assert_allclose(degrees[sevens], np.arange(sevens.sum()) * 360 / sevens.sum())


def _small_mnist(path) -> str:
    arrays = write_mnist_dir(path, n_train=300, n_test=60, gzipped=False, seed=3)
    for name in ("train-labels-idx1-ubyte", "t10k-labels-idx1-ubyte"):
        assert set(range(9)) <= set(arrays[name])  # Every digit of the stream is there.
    return str(path)


def test_the_mnist360_task_holds_its_turned_stream_and_test_set(tmp_path):
    mnist = load_mnist("idx", _small_mnist(tmp_path / "mnist"), None, train="all")
    [task] = build_tasks(["mnist-360"], sources={"mnist": mnist}, input_style="grey", seed=5,
                         batch=3)
    stream = mnist360.training_stream(mnist.train_labels, 3, np.random.default_rng(
        derive_seed(derive_seed(5, "mnist-360"), "stream")))
    np.testing.assert_array_equal(task.stream_batches, stream.batch_sizes)
    np.testing.assert_array_equal(task.train.images.numpy(), rotate_images(
        mnist.train_images[stream.rows], stream.degrees))
    assert len(task.test) == (mnist.test_labels < 9).sum()
    # Batch k of its stream is the next stream_batches[k] examples, in a compiled loop too.
    stream_of = SequenceStream(task)
    eager = [next(stream_of)[1].numpy() for _ in range(3)]
    starts = np.cumsum([0, *stream.batch_sizes[:3]])
    for k in range(3):
        np.testing.assert_array_equal(eager[k], stream.labels[starts[k]:starts[k + 1]])
    stream_of.position.assign(0)
    compiled = tf.function(lambda: [next(stream_of)[1] for _ in range(3)])()
    assert [c.numpy().tolist() for c in compiled] == [e.tolist() for e in eager]


def _stream_length(data_dir: str, batch: int) -> tuple[int, int]:
    """(examples, batches) of the MNIST-360 stream of the MNIST in `data_dir`."""
    labels = load_mnist("idx", data_dir, None, train="all").train_labels
    stream = mnist360.training_stream(labels, batch, np.random.default_rng(0))
    return len(stream.rows), len(stream.batch_sizes)


def test_mnist360_trains_once_through_its_stream_without_task_boundaries(tmp_path):
    data_dir = _small_mnist(tmp_path / "mnist")
    config = smoke_config(tasks=("mnist-360",), batch=4, test_frequency=40, data_dir=data_dir,
                          log_dir=str(tmp_path), run_name="stream", **MLP)
    run_dir = run_experiment(config, progress_stream=QUIET)
    with open(os.path.join(run_dir, "summary.json")) as f:
        summary = json.load(f)
    with open(os.path.join(run_dir, "config.json")) as f:
        saved = json.load(f)
    assert summary["status"] == "completed"
    examples, batches = _stream_length(data_dir, 4)
    assert summary["steps"] == saved["total_steps"] == saved["period_steps"][0] == batches
    assert saved["stream_examples"] == examples
    with open(os.path.join(run_dir, "metrics.jsonl")) as f:
        lines = [json.loads(line) for line in f]
    assert {line["active_task"] for line in lines} == {"mnist-360"}
    assert [line["step"] for line in lines if line["kind"] == "test"][-1] == summary["steps"]


def test_a_stopped_mnist360_run_resumes_to_the_same_log(tmp_path):
    settings = dict(tasks=("mnist-360",), batch=4, test_frequency=20, checkpoint_every=40,
                    data_dir=_small_mnist(tmp_path / "mnist"), log_dir=str(tmp_path), **MLP)
    whole = run_experiment(smoke_config(**settings, run_name="whole"), progress_stream=QUIET)

    def stop():
        raise KeyboardInterrupt

    with pytest.raises(RunInterrupted):
        run_experiment(smoke_config(**settings, run_name="stopped"), progress_stream=QUIET,
                       on_checkpoint=stop)
    stopped = str(tmp_path / "stopped")
    run_experiment(config_from_run_dir(stopped), progress_stream=QUIET, resume=True)
    def records(run_dir):
        with open(os.path.join(run_dir, "metrics.jsonl")) as f:
            lines = [json.loads(line) for line in f]
        with open(os.path.join(run_dir, "summary.json")) as f:
            summary = json.load(f)
        return ([{k: v for k, v in line.items() if k != "wall_time"} for line in lines],
                summary["final_test_accuracy"])

    assert records(stopped) == records(whole)
    with open(os.path.join(stopped, "summary.json")) as f:
        assert json.load(f)["resumed_from_steps"] == [40]


@pytest.mark.parametrize("settings, refusal", [
    (dict(ewc_lambda=1.0), r"^--ewc-lambda \(ewc\) acts at task boundaries, and the task-free "
                           "stream mnist-360 has none; run ewc on tasks with boundaries"),
    (dict(agem_memory=20), r"--agem-memory \(agem\) acts at task boundaries"),
    (dict(icarl_memory=20), r"--icarl-memory \(icarl\) acts at task boundaries"),
    (dict(loss_classes="seen"), r"--loss-classes \(seen-classes\) acts at task boundaries"),
    (dict(mode="joint"), "train it with --mode switch"),
    (dict(task_epochs=1), "--task-epochs does not apply"),
])
def test_a_task_free_stream_refuses_what_needs_task_boundaries_in_one_line(
        tmp_path, settings, refusal):
    """A method that declares the need is refused by the config, before anything is read;
    the schedule refuses the rest."""
    data_dir = _small_mnist(tmp_path / "mnist")
    with pytest.raises(UserError, match=refusal):
        config = smoke_config(tasks=("mnist-360",), batch=4, log_dir=str(tmp_path),
                              data_dir=data_dir, **MLP, **settings)
        run_experiment(config, progress_stream=QUIET)
    assert os.listdir(tmp_path) == ["mnist"]  # Nothing written.
    with pytest.raises(UserError, match="give it alone"):
        check_task_names(["mnist-360", "id"])


def test_every_method_that_acts_at_task_boundaries_declares_it():
    """A method whose class implements a period hook or draws the periods' batches declares
    TASK_BOUNDARIES (or TASK_PERIODS, which includes it); joint, alternate and offline
    training draw streams of several tasks; the replay buffers learn from the batches as
    they come and need no boundaries, nor does a plain Method."""
    for name, method in registered().items():
        declared = TASK_BOUNDARIES in needs_of(method)
        assert needs_task_boundaries(method) == (declared or method.stream is not None), name
    assert not any(needs_task_boundaries(method_class(name)) for name in ("er", "der", "derpp"))
    assert not needs_task_boundaries(Method)
    assert not needs_task_boundaries(type("LossOnly", (Method,), {"loss_term": print}))


@pytest.mark.parametrize("settings", [dict(er_buffer=30), dict(der_buffer=30),
                                      dict(derpp_buffer=30)], ids=["er", "der", "derpp"])
def test_the_replay_buffers_learn_from_the_mnist360_stream(tmp_path, settings):
    data_dir = _small_mnist(tmp_path / "mnist")
    config = smoke_config(tasks=("mnist-360",), batch=4, test_frequency=1000, data_dir=data_dir,
                          log_dir=str(tmp_path), run_name="stream", **MLP, **settings)
    run_dir = run_experiment(config, progress_stream=QUIET)
    with open(os.path.join(run_dir, "summary.json")) as f:
        summary = json.load(f)
    assert summary["status"] == "completed"
    assert summary["steps"] == _stream_length(data_dir, 4)[1]


def test_icarl_trains_each_later_task_with_the_memory_in_its_epoch(tmp_path):
    """Class-incremental iCaRL by epochs: a later period's epoch holds its task's examples and
    the memory's (memory // classes seen of each class), the first period its own."""
    data_dir = _small_mnist(tmp_path / "mnist")
    config = smoke_config(tasks=("split-01", "split-23"), task_epochs=1, batch=8,
                          labels="global", task_masked_accuracy=True, icarl_memory=20,
                          icarl_class_mean="batch-halving", data_dir=data_dir,
                          log_dir=str(tmp_path), run_name="icarl", test_frequency=1000, **MLP)
    run_dir = run_experiment(config, progress_stream=QUIET)
    with open(os.path.join(run_dir, "config.json")) as f:
        saved = json.load(f)
    labels = load_mnist("idx", data_dir, None, train="all").train_labels
    own = [int(np.isin(labels, pair).sum()) for pair in ((0, 1), (2, 3))]
    memory = sum(min(10, int((labels == c).sum())) for c in (0, 1))
    assert saved["period_steps"] == [-(-own[0] // 8), -(-(own[1] + memory) // 8)]
    with open(os.path.join(run_dir, "summary.json")) as f:
        summary = json.load(f)
    assert summary["status"] == "completed"
    assert summary["final_test_accuracy_task_masked_all"] >= summary["final_test_accuracy_all"]


def test_mnist360_offline_is_joint_training_on_its_streams_examples(tmp_path):
    data_dir = _small_mnist(tmp_path / "mnist")
    config = smoke_config(tasks=("mnist-360",), batch=8, mode="offline", task_epochs=1,
                          data_dir=data_dir, log_dir=str(tmp_path), run_name="joint",
                          test_frequency=1000, **MLP)
    run_dir = run_experiment(config, progress_stream=QUIET)
    with open(os.path.join(run_dir, "summary.json")) as f:
        assert json.load(f)["steps"] == -(-_stream_length(data_dir, 8)[0] // 8)


def _constant_model(bias: list[float]) -> tf.keras.Model:
    """A model whose logits are `bias` whatever the image."""
    images = tf.keras.Input((28, 28, 1))
    dense = tf.keras.layers.Dense(len(bias), kernel_initializer="zeros",
                                  bias_initializer=tf.keras.initializers.Constant(bias))
    return tf.keras.Model(images, dense(tf.keras.layers.Flatten()(images)))


def test_task_masked_accuracy_reads_each_tasks_classes_alone_from_the_shared_head():
    labels = np.array([0, 1, 2, 3] * 5, np.int32)
    mnist = MnistArrays(train_images=np.zeros((20, 28, 28), np.uint8), train_labels=labels,
                        test_images=np.zeros((20, 28, 28), np.uint8), test_labels=labels)
    names = ["split-01", "split-23"]
    tasks = build_tasks(names, sources={"mnist": mnist}, input_style="grey", seed=0,
                        labels="global")
    # Digit 3 beats every class, 1 beats 0: class-IL says 3 to all; task-IL 1 and 3.
    model = _constant_model([0.0, 1.0, 0.5, 2.0] + [-1.0] * 6)
    results = evaluate(model, tasks, masks=class_masks(names, "global"))
    assert results["split-01"]["accuracy"] == 0.0
    assert results["split-01"]["accuracy_task_masked"] == 0.5
    assert results["split-23"]["accuracy"] == results["split-23"]["accuracy_task_masked"] == 0.5
    assert "accuracy_task_masked" not in evaluate(model, tasks)["split-01"]


def test_a_class_incremental_run_logs_its_task_masked_accuracy_beside(tmp_path):
    config = smoke_config(tasks=("split-01", "split-23"), task_epochs=1, batch=8,
                          labels="global", task_masked_accuracy=True, test_frequency=1000,
                          data_dir=_small_mnist(tmp_path / "mnist"), log_dir=str(tmp_path),
                          run_name="masked", **MLP)
    run_dir = run_experiment(config, progress_stream=QUIET)
    with open(os.path.join(run_dir, "metrics.jsonl")) as f:
        tests = [r for r in map(json.loads, f) if r["kind"] == "test"]
    assert all(set(r["test_accuracy_task_masked"]) == {"split-01", "split-23"} for r in tests)
    with open(os.path.join(run_dir, "summary.json")) as f:
        summary = json.load(f)
    assert summary["final_test_accuracy_task_masked_all"] >= summary["final_test_accuracy_all"]
    with pytest.raises(UserError, match="drop it"):
        smoke_config(task_masked_accuracy=True, head="per-task")


def test_xavier_weights_are_glorot_uniform_with_zero_biases():
    model = build_model(("fc:100", "fc:100", "fc"), input_shape=(28, 28, 1), init="xavier",
                        keep_prob=1.0, seed=4)
    dense = [layer for layer in model.layers if layer.weights]
    assert [layer.weights[0].shape for layer in dense] == [(784, 100), (100, 100), (100, 10)]
    for layer in dense:
        kernel, bias = (w.numpy() for w in layer.weights)
        bound = np.sqrt(6 / sum(kernel.shape))
        assert np.abs(kernel).max() <= bound and np.abs(kernel).max() > 0.9 * bound
        assert not bias.any()


def test_the_der_grid_is_every_runnable_cell_at_mammoths_best_args():
    points = {p["name"]: p for p in der_mnist.points("mnist")}
    # 33 cells of the methods before the replay ones; ER, DER and DER++ at 3 buffers on 4
    # benchmarks, iCaRL at 3 on Sequential MNIST.
    assert len(points) == 33 + 3 * 3 * 4 + 3
    for point in der_mnist.points("mnist") + der_mnist.quick_points("mnist"):
        RunConfig(**{k: v for k, v in point.items() if k != "name"})
    seq = points["seq-mnist-none-sgd"]
    assert seq["batch"] == 10 and seq["learning_rate"] == 0.03 and seq["task_masked_accuracy"]
    assert (seq["labels"], seq["loss_classes"], seq["init"]) == ("global", "all", "xavier")
    assert points["seq-mnist-none-lwf"]["loss_classes"] == "seen"
    assert points["perm-mnist-none-sgd"]["tasks"] == tuple(f"pixperm-{k}" for k in range(1, 21))
    assert points["rot-mnist-none-sgd"]["tasks"][0] == "rotrand-1"
    assert points["perm-mnist-none-oewc"]["ewc_lambda"] == 2 * 0.7  # Mammoth's e_lambda, x2.
    assert points["rot-mnist-500-agem"]["agem_memory"] == 500
    assert points["rot-mnist-500-agem"]["learning_rate"] == 0.3
    assert points["seq-mnist-5120-gem"]["gem_margin"] == 1.0
    assert points["mnist-360-none-sgd"]["batch"] == 4
    assert points["mnist-360-none-joint"]["mode"] == "offline"
    assert not any("lwf" in name for name in points if name.startswith(("perm", "rot")))
    derpp = points["seq-mnist-500-derpp"]
    assert [derpp[k] for k in ("derpp_buffer", "derpp_batch", "derpp_alpha", "derpp_beta",
                               "learning_rate", "batch")] == [500, 10, 1.0, 0.5, 0.03, 10]
    assert points["mnist-360-1000-der"]["tasks"] == ("mnist-360",)
    assert (points["mnist-360-200-er"]["batch"], points["mnist-360-200-er"]["er_batch"]) == (1, 16)
    assert points["seq-mnist-5120-icarl"]["icarl_memory"] == 5120
    assert points["seq-mnist-5120-icarl"]["icarl_class_mean"] == "batch-halving"
    assert not any("icarl" in name for name in points if not name.startswith("seq"))


def test_the_der_table_has_every_column_and_buffer_and_reads_task_il_from_the_same_runs():
    summaries = {"seq-mnist-none-sgd": [
        {"final_test_accuracy_all": 0.19, "final_test_accuracy_task_masked_all": 0.9},
        {"final_test_accuracy_all": 0.21, "final_test_accuracy_task_masked_all": 0.92}],
        "mnist-360-none-sgd": [{"final_test_accuracy_all": 0.2}]}
    table = der_mnist.table(summaries)
    assert list(table) == ["seq-mnist-class", "seq-mnist-task", "perm-mnist", "rot-mnist",
                           "mnist-360"]
    assert list(table["seq-mnist-class"]) == ["none", "200", "500", "5120"]
    assert list(table["mnist-360"]) == ["none", "200", "500", "1000"]
    assert table["seq-mnist-class"]["none"]["SGD"] == pytest.approx(
        {"mean": 20.0, "sd": np.std([19, 21], ddof=1), "seeds": 2})
    assert table["seq-mnist-task"]["none"]["SGD"]["mean"] == pytest.approx(91.0)
    assert table["mnist-360"]["none"]["SGD"]["sd"] is None
    assert table["perm-mnist"]["200"] == {}
    text = der_mnist.format_table(table)
    assert "20.00 ± 1.41 (2)" in text
    assert "not in this runner yet: PNN, MER, FDR, GSS, HAL" in text


def test_the_pages_best_args_tables_are_mammoths_as_the_grid_reads_them():
    page = open(os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                             "docs", "der-mnist.md")).read()
    for benchmark in der_mnist.BENCHMARKS:
        assert der_mnist.best_args_markdown(benchmark) in page, benchmark
    assert der_mnist.BEST_ARGS["seq-mnist"]["der"][500] == dict(
        lr=0.03, batch_size=10, minibatch_size=128, alpha=1.0)
    assert der_mnist.BEST_ARGS["mnist-360"]["sgd"][der_mnist.NONE] == dict(lr=0.1, batch_size=4)
