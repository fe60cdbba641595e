"""The criterion-episode schedule: the epoch mix, mixed-task batches, the criterion stop."""

import io
import json
import os

import numpy as np
import pytest

from data.shapes import load_shapes
from tasks import build_tasks
from training import run_experiment, smoke_config
from tasks.streams import MixStream
from training.episodes import criterion_met, episode_counts, epoch_mix

NAMES = ("shapes-colour-red", "shapes-colour-blue", "shapes-shape-square")


@pytest.fixture(scope="module")
def shapes(tmp_path_factory):
    return load_shapes(height=24, width=24, train=300, test=100, seed=0,
                       cache_dir=str(tmp_path_factory.mktemp("cache")))


def test_episode_counts_give_half_to_the_newest_task_and_share_the_rest():
    assert episode_counts(1, 1000) == [1000]
    assert episode_counts(2, 1000) == [500, 500]
    assert episode_counts(5, 1000) == [125, 125, 125, 125, 500]


def test_epoch_mix_is_half_new_old_equal_and_yes_no_balanced(shapes):
    labels = [shapes.labels("train", "colour", c) for c in ("red", "blue", "green", "white")]
    task_ids, example_ids = epoch_mix(labels, 4, 1200, 2, np.random.default_rng(0))
    assert np.bincount(task_ids).tolist() == [200, 200, 200, 600]
    for task in range(4):
        answers = labels[task][example_ids[task_ids == task]]
        assert answers.mean() == 0.5
    assert not np.all(np.diff(task_ids) >= 0)  # Shuffled together, not task by task.
    again = epoch_mix(labels, 4, 1200, 2, np.random.default_rng(1))
    assert not np.array_equal(example_ids, again[1])  # Images reassigned each epoch.


def test_mixed_batches_prepare_each_example_for_its_own_task(shapes):
    tasks = build_tasks(NAMES, sources={"shapes": shapes}, input_style="combined", seed=0,
                        task_signal=True)
    task_ids = np.array([2, 0, 1, 0, 2, 1, 1, 0], np.int32)
    example_ids = np.arange(8, dtype=np.int64) * 3
    (images, signal), labels = next(MixStream(tasks, 8).use(task_ids, example_ids, seed=0))
    np.testing.assert_array_equal(signal.numpy().argmax(axis=1), task_ids)
    expected = [tasks[t].train.labels.numpy()[e] for t, e in zip(task_ids, example_ids)]
    np.testing.assert_array_equal(labels.numpy(), expected)
    np.testing.assert_allclose(images.numpy(), shapes.train_images[example_ids] / 255.0,
                               rtol=1e-6)


def test_criterion_needs_every_trained_task():
    accuracies = {"a": 0.96, "b": 0.94, "c": 0.1}
    assert criterion_met(accuracies, ["a"], 0.95)
    assert not criterion_met(accuracies, ["a", "b"], 0.95)


def _config(tmp_path, **overrides):
    settings = dict(tasks=NAMES, schedule="episodes", network=("conv3:4", "fc:16", "fc"),
                    init="he", task_signal=True, optimizer="adam", learning_rate=0.001,
                    batch=20, epoch_size=120, shapes_height=24, shapes_width=24,
                    shapes_train=300, shapes_test=100, cache_dir=str(tmp_path / "cache"),
                    log_dir=str(tmp_path / "log"), run_name="run")
    return smoke_config(**{**settings, **overrides})


def _records(run_dir):
    with open(os.path.join(run_dir, "metrics.jsonl")) as f:
        return [json.loads(line) for line in f]


def test_episodes_stop_at_the_criterion(tmp_path):
    run_dir = run_experiment(_config(tmp_path, criterion=0.01), progress_stream=io.StringIO())
    tests = [r for r in _records(run_dir) if r["kind"] == "test"]
    # Judged at the end of each epoch, so every episode trains one epoch and stops.
    assert [(r["episode"], r["epoch"]) for r in tests] == [(1, 0), (1, 1), (2, 1), (3, 1)]
    assert [r["active_task"] for r in tests] == [NAMES[0], NAMES[0], NAMES[1], NAMES[2]]
    assert tests[1]["trials"] == {NAMES[0]: 120, NAMES[1]: 0, NAMES[2]: 0}
    assert tests[2]["trials"] == {NAMES[0]: 180, NAMES[1]: 60, NAMES[2]: 0}
    assert tests[3]["trials"] == {NAMES[0]: 210, NAMES[1]: 90, NAMES[2]: 60}
    assert all(set(r["test_accuracy"]) == set(NAMES) for r in tests)
    with open(os.path.join(run_dir, "summary.json")) as f:
        summary = json.load(f)
    assert [e["epochs"] for e in summary["episodes"]] == [1, 1, 1]
    assert summary["all_episodes_reached_criterion"] and summary["steps"] == 18


def test_an_episode_that_misses_the_criterion_ends_at_max_epochs(tmp_path):
    run_dir = run_experiment(_config(tmp_path, criterion=1.0, max_epochs=2, tasks=NAMES[:2]),
                             progress_stream=io.StringIO())
    tests = [r for r in _records(run_dir) if r["kind"] == "test"]
    judged = [r for r in tests if r["epoch_end"]]
    assert [(r["episode"], r["epoch"]) for r in judged] == [(1, 0), (1, 1), (1, 2), (2, 1), (2, 2)]
    # Six steps an epoch; test_frequency 20 adds an evaluation inside the fourth epoch.
    [between] = [r for r in tests if not r["epoch_end"]]
    assert (between["step"], between["episode"], between["epoch"]) == (20, 2, 2)
    red, blue = between["trials"][NAMES[0]], between["trials"][NAMES[1]]
    assert red + blue == 20 * 20 and red >= 2 * 120 + 60 and blue >= 60  # Mid-epoch mix.
    trains = [r for r in _records(run_dir) if r["kind"] == "train"]
    assert {r["episode"] for r in trains} == {1, 2}
    with open(os.path.join(run_dir, "summary.json")) as f:
        summary = json.load(f)
    assert [e["criterion_reached"] for e in summary["episodes"]] == [False, False]
    assert not summary["all_episodes_reached_criterion"]
