"""End to end: runs in a temporary directory, checked against the run-log contract."""

import dataclasses
import glob
import io
import json
import os

import numpy as np
import pytest
import tensorflow as tf

from errors import UserError
from schedule import Schedule
from training import RunConfig, run_experiment, smoke_config
from tests.conftest import write_mnist_dir


def _read_jsonl(path):
    with open(path) as f:
        return [json.loads(line) for line in f]


def _event_tags(directory):
    tags = set()
    for path in glob.glob(os.path.join(directory, "events.out.tfevents.*")):
        for event in tf.compat.v1.train.summary_iterator(path):
            tags.update(value.tag for value in event.summary.value)
    return tags


@pytest.fixture
def tiny_config(tmp_path):
    data_dir = tmp_path / "mnist"
    write_mnist_dir(data_dir, n_train=64, n_test=30)
    return smoke_config(tasks=("id", "inv"), task_time=20, max_steps=80, batch=8,
                        test_frequency=10, train_summary_frequency=7,
                        data_dir=str(data_dir), log_dir=str(tmp_path / "log"),
                        run_name="run")


def test_run_log_follows_the_contract(tiny_config):
    run_dir = run_experiment(tiny_config, progress_stream=io.StringIO())
    assert run_dir == os.path.join(tiny_config.log_dir, "run")
    records = _read_jsonl(os.path.join(run_dir, "metrics.jsonl"))
    schedule = Schedule(tiny_config.tasks, tiny_config.task_time)
    for record in records:
        assert isinstance(record["step"], int) and record["kind"] in ("train", "test")
        assert record["active_task"] in tiny_config.tasks

    tests = [r for r in records if r["kind"] == "test"]
    assert [r["step"] for r in tests] == list(range(0, 81, 10))
    for record in tests:
        accuracy = record["test_accuracy"]
        assert set(accuracy) == {"id", "inv"}
        assert all(0.0 <= value <= 1.0 for value in accuracy.values())
        assert record["test_accuracy_all"] == pytest.approx(np.mean(list(accuracy.values())))
    assert [r["active_task"] for r in tests[:5]] == ["id", "id", "inv", "inv", "id"]
    assert tests[-1]["active_task"] == "inv"  # The task trained last.

    trains = [r for r in records if r["kind"] == "train"]
    covered = []
    for record in trains:
        window = range(record["step"] - record["steps"] + 1, record["step"] + 1)
        assert {schedule.task_at(s) for s in window} == {record["active_task"]}
        assert record["loss"] > 0 and 0.0 <= record["train_accuracy"] <= 1.0
        covered += window
    assert covered == list(range(80))  # Every step trains, each logged once.

    with open(os.path.join(run_dir, "config.json")) as f:
        config = json.load(f)
    for field in dataclasses.fields(RunConfig):
        assert field.name in config
    assert config["seed"] == 0 and config["tasks"] == ["id", "inv"]
    assert config["code_version"] and config["tensorflow_version"] == tf.__version__

    with open(os.path.join(run_dir, "summary.json")) as f:
        summary = json.load(f)
    assert summary["status"] == "completed" and summary["steps"] == 80
    assert summary["final_test_accuracy"] == tests[-1]["test_accuracy"]
    assert summary["steps_per_second"] > 0 and summary["wall_time_s"] > 0

    assert {"accuracy", "loss"} <= _event_tags(os.path.join(run_dir, "train"))
    assert "accuracy" in _event_tags(os.path.join(run_dir, "test"))
    for i, name in enumerate(tiny_config.tasks):
        assert "accuracy" in _event_tags(os.path.join(run_dir, f"test_task_{i}_{name}"))


def test_same_seed_gives_the_same_run(tiny_config):
    config = dataclasses.replace(tiny_config, max_steps=30)
    first = run_experiment(config, progress_stream=io.StringIO())
    second = run_experiment(dataclasses.replace(config, run_name="again"),
                            progress_stream=io.StringIO())
    accuracies = [[r.get("test_accuracy") for r in _read_jsonl(os.path.join(d, "metrics.jsonl"))]
                  for d in (first, second)]
    assert accuracies[0] == accuracies[1]


def test_an_existing_run_directory_is_never_overwritten(tiny_config):
    run_dir = os.path.join(tiny_config.log_dir, "run")
    os.makedirs(run_dir)
    with open(os.path.join(run_dir, "metrics.jsonl"), "w") as f:
        f.write("precious\n")
    with pytest.raises(UserError, match="already exists"):
        run_experiment(tiny_config, progress_stream=io.StringIO())
    with open(os.path.join(run_dir, "metrics.jsonl")) as f:
        assert f.read() == "precious\n"


def test_unwritable_log_dir_is_a_clear_error(tiny_config, tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a directory")
    with pytest.raises(UserError, match="choose a writable --log-dir"):
        run_experiment(dataclasses.replace(tiny_config, log_dir=str(blocker / "log")),
                       progress_stream=io.StringIO())


def test_default_run_names_do_not_collide(tiny_config):
    config = dataclasses.replace(tiny_config, run_name=None, max_steps=1, test_frequency=1)
    first = run_experiment(config, progress_stream=io.StringIO())
    second = run_experiment(config, progress_stream=io.StringIO())
    assert first != second and "id-inv_conv-fc_tt20_sgd_s0" in os.path.basename(first)


def test_the_network_learns_mnist(tmp_path):
    """A short run on the bundled MNIST: test accuracy must rise far above chance."""
    config = RunConfig(tasks=("id",), max_steps=150, batch=50, test_frequency=150,
                       log_dir=str(tmp_path), run_name="learn")
    run_dir = run_experiment(config, progress_stream=io.StringIO())
    tests = [r for r in _read_jsonl(os.path.join(run_dir, "metrics.jsonl"))
             if r["kind"] == "test"]
    assert tests[0]["test_accuracy"]["id"] < 0.3
    assert tests[-1]["test_accuracy"]["id"] > 0.7


def test_test_examples_evaluates_a_fixed_subset(tiny_config):
    config = dataclasses.replace(tiny_config, test_examples=7, max_steps=20)
    run_dir = run_experiment(config, progress_stream=io.StringIO())
    tests = [r for r in _read_jsonl(os.path.join(run_dir, "metrics.jsonl")) if r["kind"] == "test"]
    for record in tests:
        for accuracy in record["test_accuracy"].values():
            assert abs(accuracy * 7 - round(accuracy * 7)) < 1e-6  # k correct out of 7.


def test_a_run_with_a_head_per_task(tiny_config):
    config = dataclasses.replace(tiny_config, head="per-task", max_steps=20)
    run_dir = run_experiment(config, progress_stream=io.StringIO())
    records = _read_jsonl(os.path.join(run_dir, "metrics.jsonl"))
    final = [r for r in records if r["kind"] == "test"][-1]
    assert set(final["test_accuracy"]) == {"id", "inv"}
    with open(os.path.join(run_dir, "config.json")) as f:
        assert json.load(f)["head"] == "per-task"
