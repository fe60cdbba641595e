"""The shapes scenes, their yes/no tasks, balanced sampling and the task signal."""

import numpy as np
import pytest
import tensorflow as tf

from data.shapes import (DIMENSIONS, FEATURES, MAX_OBJECTS, MIN_OBJECTS, RGB, generate,
                         load_shapes, shape_masks, texture_patterns)
from errors import UserError
from models import build_model
from tasks import TASKS, balanced_indices, build_tasks, check_task_names, task_classes
from tasks.streams import TaskStream


def test_every_scene_has_four_or_five_objects_each_drawn_in_its_colour():
    images, objects = generate(300, 48, 48, seed=1)
    assert images.shape == (300, 48, 48, 3) and images.dtype == np.uint8
    present = (objects >= 0).all(axis=2)
    counts = present.sum(axis=1)
    assert set(counts) == {MIN_OBJECTS, MAX_OBJECTS}
    assert np.array_equal(present, (objects >= 0).any(axis=2))  # Whole objects, or none.
    for image, scene in zip(images[:20], objects[:20]):
        pixels = image.reshape(-1, 3).astype(float) / 255
        for shape, colour, texture in scene[scene[:, 0] >= 0]:
            # The colour at full strength appears somewhere (every texture has "on" pixels).
            assert np.any(np.all(np.abs(pixels - RGB[colour]) < 0.01, axis=1))


def test_feature_counts_are_balanced():
    _, objects = generate(3000, 48, 48, seed=2)
    for d, dimension in enumerate(DIMENSIONS):
        values = objects[:, :, d][objects[:, :, d] >= 0]
        ratios = np.bincount(values, minlength=10) / (len(values) / 10)
        assert 0.85 < ratios.min() and ratios.max() < 1.15, dimension


def test_scenes_are_fixed_by_the_seed():
    a_images, a_objects = generate(50, 40, 56, seed=3)
    b_images, b_objects = generate(50, 40, 56, seed=3)
    c_images, _ = generate(50, 40, 56, seed=4)
    assert np.array_equal(a_images, b_images) and np.array_equal(a_objects, b_objects)
    assert not np.array_equal(a_images, c_images)


def test_shapes_and_textures_are_distinct():
    for patterns in (shape_masks(14), texture_patterns(14)):
        flat = patterns.reshape(10, -1).astype(bool)
        assert all(flat[i].any() for i in range(10))
        assert len({row.tobytes() for row in flat}) == 10


def test_load_shapes_caches_and_labels(tmp_path):
    first = load_shapes(height=32, width=32, train=100, test=40, seed=5, cache_dir=str(tmp_path))
    second = load_shapes(height=32, width=32, train=100, test=40, seed=5, cache_dir=str(tmp_path))
    assert not first.cache_hit and second.cache_hit
    assert np.array_equal(first.train_images, second.train_images)
    assert not np.array_equal(first.train_images[:40], first.test_images)  # Own seeds.
    labels = first.labels("train", "colour", "red")
    expected = [any(obj[1] == 0 for obj in scene) for scene in first.train_objects]
    assert np.array_equal(labels, np.array(expected, np.int32))
    assert first.describe()["image_size"] == [32, 32]


def test_balanced_indices_give_each_class_an_equal_share_in_every_prefix():
    rng = np.random.default_rng(0)
    labels = (rng.random(1000) < 0.3).astype(np.int32)
    picked = balanced_indices(labels, 200, rng, classes=2)
    assert len(picked) == len(set(picked)) == 200
    assert np.bincount(labels[picked]).tolist() == [100, 100]
    assert np.bincount(labels[picked[:51]]).tolist() in ([26, 25], [25, 26])
    as_many = balanced_indices(labels, None, rng, classes=2)
    assert len(as_many) == 2 * (labels == 1).sum()
    more = balanced_indices(labels, 1000, rng, classes=2)  # Repeats the rarer class.
    assert np.bincount(labels[more]).tolist() == [500, 500]


def test_shapes_tasks_are_registered_as_yes_no_questions():
    names = [f"shapes-{d}-{f}" for d in DIMENSIONS for f in FEATURES[d]]
    assert all(name in TASKS for name in names) and len(names) == 30
    assert task_classes(["shapes-texture-dots"]) == 2 and task_classes(["id"]) == 10
    with pytest.raises(UserError, match="cannot share a run"):
        check_task_names(["id", "shapes-colour-red"])
    with pytest.raises(UserError, match="shapes-DIMENSION-FEATURE"):
        check_task_names(["shapes-colour-mauve"])


def test_held_out_set_of_a_shapes_task_is_balanced(tmp_path):
    shapes = load_shapes(height=32, width=32, train=200, test=200, seed=0, cache_dir=str(tmp_path))
    [task] = build_tasks(["shapes-shape-circle"], sources={"shapes": shapes},
                         input_style="combined", seed=0)
    labels = np.concatenate([labels.numpy() for _, labels in task.test_batches(50)])
    assert len(labels) == task.test_size() and labels.mean() == 0.5
    images, _ = next(TaskStream(task, 8))
    assert images.shape == (8, 32, 32, 3)


def test_task_signal_reaches_the_network(tmp_path):
    shapes = load_shapes(height=32, width=32, train=64, test=40, seed=0, cache_dir=str(tmp_path))
    names = ["shapes-colour-red", "shapes-colour-blue", "shapes-colour-green"]
    tasks = build_tasks(names, sources={"shapes": shapes}, input_style="combined", seed=0,
                        task_signal=True)
    (images, signal), _ = next(iter(tasks[2].test_batches(4)))
    np.testing.assert_array_equal(signal.numpy(), np.tile([0, 0, 1], (4, 1)))
    model = build_model(("conv3:4", "fc:8", "fc"), input_shape=(32, 32, 3), num_classes=2,
                        init="he", task_signal=3)
    concat = model.get_layer("layer2_task_signal")
    assert concat.output.shape[-1] == 16 * 16 * 4 + 3
    # Same images, another task: the logits change, so the signal is used.
    other = tf.one_hot([0, 0, 0, 0], 3)
    assert not np.allclose(model((images, signal)).numpy(), model((images, other)).numpy())


def test_an_unwritable_cache_is_a_warning_not_a_failure(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    shapes = load_shapes(height=24, width=24, train=20, test=10, seed=0,
                         cache_dir=str(blocker / "cache"))
    assert shapes.cache_file is None and len(shapes.train_images) == 20


@pytest.mark.parametrize("damage", [lambda data: data[: len(data) // 2], lambda data: b"",
                                    lambda data: b"x" * len(data)])
def test_a_damaged_cache_is_discarded_and_rebuilt(tmp_path, caplog, damage):
    sizes = dict(height=24, width=24, train=20, test=10, seed=0, cache_dir=str(tmp_path))
    first = load_shapes(**sizes)
    with open(first.cache_file, "rb") as f:
        data = f.read()
    with open(first.cache_file, "wb") as f:
        f.write(damage(data))  # Cut short, emptied or overwritten.
    rebuilt = load_shapes(**sizes)
    assert not rebuilt.cache_hit and "is damaged" in caplog.text
    np.testing.assert_array_equal(rebuilt.train_images, first.train_images)
    again = load_shapes(**sizes)  # The cache was written afresh.
    assert again.cache_hit
    np.testing.assert_array_equal(again.test_objects, first.test_objects)


def test_a_failed_cache_write_leaves_no_temporary_file(tmp_path, monkeypatch):
    def savez_on_a_full_disk(path, **arrays):
        with open(path, "wb") as f:
            f.write(b"PK\x03\x04 half a zip")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(np, "savez", savez_on_a_full_disk)
    shapes = load_shapes(height=24, width=24, train=20, test=10, seed=0,
                         cache_dir=str(tmp_path))
    assert shapes.cache_file is None and len(shapes.train_images) == 20
    assert list(tmp_path.iterdir()) == []


def test_tasks_asking_about_the_same_scenes_are_evaluated_together_as_one_by_one(
        tmp_path, monkeypatch):
    from training import steps

    shapes = load_shapes(height=32, width=32, train=64, test=120, seed=0, cache_dir=str(tmp_path))
    names = ["shapes-colour-red", "shapes-shape-circle", "shapes-texture-dots"]
    tasks = build_tasks(names, sources={"shapes": shapes}, input_style="combined", seed=0,
                        task_signal=True, signal_scale=10.0)
    model = build_model(("conv3:4", "fc:8", "fc"), input_shape=(32, 32, 3), num_classes=2,
                        init="he", task_signal=3)
    for limit in (None, 30):
        alone = {task.name: dict(steps.evaluate_task(model, task, limit)) for task in tasks}
        # Together: the images' layers once over the union of the tasks' held-out rows.
        seen = []
        original = steps.Task.test_images_at
        monkeypatch.setattr(steps.Task, "test_images_at",
                            lambda task, rows, size: seen.append(len(rows)) or original(
                                task, rows, size))
        monkeypatch.setattr(steps, "evaluate_task", None)  # Not one task at a time.
        together = steps.evaluate(model, tasks, limit)
        monkeypatch.undo()
        union = np.unique(np.concatenate([task.test_rows(limit) for task in tasks]))
        assert seen == [len(union)] and len(union) < sum(t.test_size(limit) for t in tasks)
        assert list(together) == names
        for name in names:
            assert together[name]["accuracy"] == alone[name]["accuracy"]
            assert together[name]["loss"] == pytest.approx(alone[name]["loss"], rel=1e-5)
        assert len({round(r["loss"], 6) for r in together.values()}) == 3  # Each its own.


def test_a_network_without_a_signal_split_evaluates_each_task_alone(tmp_path, monkeypatch):
    from training import steps

    shapes = load_shapes(height=32, width=32, train=64, test=40, seed=0, cache_dir=str(tmp_path))
    tasks = build_tasks(["shapes-colour-red", "shapes-colour-blue"], sources={"shapes": shapes},
                        input_style="combined", seed=0)
    model = build_model(("conv3:4", "fc"), input_shape=(32, 32, 3), num_classes=2, init="he")
    monkeypatch.setattr(steps.Task, "test_images_at", None)  # The pooled path: not taken.
    results = steps.evaluate(model, tasks)
    assert set(results) == {"shapes-colour-red", "shapes-colour-blue"}
