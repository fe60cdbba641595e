"""The fashion task: Fashion-MNIST's files, where its images enter the input, a run and a sweep."""

import hashlib
import gzip
import io
import json
import os

import numpy as np
import pytest

from data import MnistArrays, load_fashion
from data import fashion
from errors import UserError
from experiments import registry, sweep
from tasks import build_tasks
from tests.conftest import write_mnist_dir
from training import run_experiment, smoke_config

SHARED = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))), "shared", "datasets", "fashion-mnist")
# The MD5 of each gunzipped file, from the data set's README (../shared/datasets/fashion-mnist).
MD5 = {"train-images-idx3-ubyte": "f4a8712d7a061bf5bd6d2ca38dc4d50a",
       "train-labels-idx1-ubyte": "9018921c3c673c538a1fc5bad174d6f9",
       "t10k-images-idx3-ubyte": "8181f5470baa50b63fa0f6fddb340f0a",
       "t10k-labels-idx1-ubyte": "15d484375f8d13e6eb1aabb0c3f46965"}


@pytest.mark.skipif(not os.path.isdir(SHARED), reason="needs ../shared/datasets/fashion-mnist")
def test_the_shared_copy_loads_whole_with_every_class_six_and_one_thousand_times():
    for name, md5 in MD5.items():
        with gzip.open(os.path.join(SHARED, name + ".gz")) as f:
            assert hashlib.md5(f.read()).hexdigest() == md5
    arrays = load_fashion("idx", SHARED)
    assert arrays.train_images.shape == (60000, 28, 28) and arrays.test_images.shape == (
        10000, 28, 28)
    assert arrays.train_images.dtype == np.uint8
    assert np.bincount(arrays.train_labels).tolist() == [6000] * 10
    assert np.bincount(arrays.test_labels).tolist() == [1000] * 10


def test_without_a_folder_debians_copy_is_read_and_without_either_one_line_says_where(
        tmp_path, monkeypatch):
    monkeypatch.setattr(fashion, "DEBIAN_DIR", str(tmp_path / "absent"))
    with pytest.raises(UserError, match="needs Fashion-MNIST: give --data-fashion-dir.*"
                                        "dataset-fashion-mnist"):
        load_fashion("idx")
    written = write_mnist_dir(tmp_path / "debian", n_train=30, n_test=10)
    monkeypatch.setattr(fashion, "DEBIAN_DIR", str(tmp_path / "debian"))
    arrays = load_fashion("idx")
    np.testing.assert_array_equal(arrays.test_images, written["t10k-images-idx3-ubyte"])
    with pytest.raises(UserError, match="no train-images-idx3-ubyte.* in --data-fashion-dir "
                                        ".*four Fashion-MNIST IDX files; get them from"):
        load_fashion("idx", str(tmp_path))


def _arrays(seed: int, n: int = 20) -> MnistArrays:
    rng = np.random.default_rng(seed)
    return MnistArrays(rng.integers(1, 256, (n, 28, 28), dtype=np.uint8),
                       (np.arange(n) % 10).astype(np.int32),
                       rng.integers(1, 256, (n, 28, 28), dtype=np.uint8),
                       (np.arange(n) % 10).astype(np.int32))


@pytest.mark.parametrize("style, carried, mnist_at, fashion_at", [
    ("combined", (0, 1), 0, 0), ("channelplex", (0, 2), 0, 1), ("grey", (0, 1), 0, 0)])
def test_channelplex_gives_fashion_a_channel_of_its_own(style, carried, mnist_at, fashion_at):
    """As the original gave the dogs channels of their own: in channelplex the channel tells
    the network which domain it sees; in combined and grey the two share one channel."""
    mnist, clothes = _arrays(0), _arrays(1)
    digits, garments = build_tasks(["id", "fashion"], input_style=style, seed=0,
                                   sources={"mnist": mnist, "fashion": clothes})
    for task, arrays, channel in ((digits, mnist, mnist_at), (garments, clothes, fashion_at)):
        assert task.carried == carried
        images = next(iter(task.test_batches(20)))[0].numpy()
        np.testing.assert_allclose(images[..., channel], arrays.test_images / 255.0,
                                   atol=1e-6)
        assert not np.delete(images, channel, axis=-1).any()


def test_a_run_of_id_and_fashion_logs_both_and_records_the_data(tmp_path):
    mnist_dir, fashion_dir = tmp_path / "mnist", tmp_path / "fashion"
    write_mnist_dir(mnist_dir, n_train=40, n_test=20, seed=0)
    write_mnist_dir(fashion_dir, n_train=50, n_test=30, seed=1)
    config = smoke_config(tasks=("id", "fashion"), task_time=5, max_steps=10, batch=8,
                          test_frequency=5, data_dir=str(mnist_dir),
                          data_fashion_dir=str(fashion_dir), log_dir=str(tmp_path / "log"),
                          run_name="run", input_style="channelplex")
    run_dir = run_experiment(config, progress_stream=io.StringIO())
    with open(os.path.join(run_dir, "config.json")) as f:
        written = json.load(f)
    assert written["data"]["fashion"] == {"train_examples": 50, "test_examples": 30}
    assert "Fashion-MNIST" in written["task_descriptions"]["fashion"]
    with open(os.path.join(run_dir, "metrics.jsonl")) as f:
        tests = [r for r in map(json.loads, f) if r["kind"] == "test"]
    assert [r["step"] for r in tests] == [0, 5, 10]
    assert all(set(r["test_accuracy"]) == {"id", "fashion"} for r in tests)


def test_every_blog_experiment_has_a_fashion_form_of_id_and_fashion(tmp_path):
    for name, experiment in registry.EXPERIMENTS.items():
        if "dog" not in experiment.forms:
            continue
        assert "fashion" in experiment.forms, name
        specs = sweep.expand(experiment, "fashion", seeds=1, log_dir=str(tmp_path),
                             is_quick=False, overrides={"data_fashion_dir": "f"})
        assert all(set(s.config.tasks) <= {"id", "fashion"} and "fashion" in s.config.tasks
                   or s.config.tasks == ("id",) for s in specs), name
        assert {s.config.data_fashion_dir for s in specs} == {"f"}
    [alone] = sweep.expand(registry.get_experiment("baseline-dog"), "fashion", seeds=1,
                           log_dir=str(tmp_path), is_quick=False)
    assert alone.config.tasks == ("fashion",) and alone.config.max_steps == 24000


def test_a_fashion_sweep_without_its_data_stops_before_any_run(tmp_path, monkeypatch, capsys):
    from experiments.__main__ import main

    monkeypatch.setattr(fashion, "DEBIAN_DIR", str(tmp_path / "absent"))
    with pytest.raises(SystemExit, match="needs Fashion-MNIST"):
        main(["run", "switching", "--form", "fashion", "--quick", "--log-dir",
              str(tmp_path / "sweep")])
    assert not (tmp_path / "sweep").exists()
