"""Task transforms, the registry, input styles and the per-task data streams."""

from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from data import MnistArrays
from errors import UserError
from tasks import TASKS, build_tasks, check_task_names, place_channels
from tasks import transforms as T
from tasks.streams import TaskStream

SEED = tf.constant([1, 2], tf.int64)


def _images(n=4, seed=0):
    return tf.constant(np.random.default_rng(seed).random((n, 28, 28)), tf.float32)


def _labels(n=4):
    return tf.constant(np.arange(n) % 10, tf.int32)


def _apply(transform, images, labels=None, seed=SEED):
    labels = _labels(len(images)) if labels is None else labels
    out_images, out_labels = transform(images, labels, seed)
    return out_images.numpy(), out_labels.numpy()


def test_rot180_reverses_the_flat_vector_and_twice_is_identity():
    x = _images()
    once, _ = _apply(T.rotate_180, x)
    np.testing.assert_array_equal(once.reshape(-1, 784), x.numpy().reshape(-1, 784)[:, ::-1])
    twice, _ = _apply(T.rotate_180, tf.constant(once))
    np.testing.assert_array_equal(twice, x.numpy())


def _original_input(images: np.ndarray, style: str) -> np.ndarray:
    """The original's make_chan: uint8 images scaled by 1/255 as TF1's reader did, reshaped to
    [N, 28, 28, 1] and stacked with zero channels to the style's width."""
    x = np.multiply(images.reshape(-1, 784).astype(np.float32), 1.0 / 255.0)
    x = np.reshape(x, [-1, 28, 28, 1])
    zero = np.zeros(x.shape[:3] + (1,))
    return np.concatenate((x, zero, zero) if style == "combined" else (x, zero, zero, zero),
                          axis=-1)


# The original's own task functions on its stacked input, as its task.py wrote them.
ORIGINAL = {
    "id": lambda x: x,
    "ref": lambda x: np.array([i[::-1] for i in x]),
    "inv": lambda x: np.array([[1.0 - cell for cell in row] for row in x]),
}


@pytest.mark.parametrize("style", ["combined", "channelplex"])
@pytest.mark.parametrize("name", sorted(ORIGINAL))
def test_id_ref_and_inv_give_the_original_codes_arrays(name, style):
    mnist = _tiny_mnist(n_test=10)
    tasks = build_tasks(["id", name] if name != "id" else ["id"], sources={"mnist": mnist},
                        input_style=style, seed=0)
    images = next(iter(tasks[-1].test_batches(10)))[0].numpy()
    start, stop = tasks[-1].carried
    expected = ORIGINAL[name](_original_input(mnist.test_images, style))
    np.testing.assert_allclose(images, expected[..., start:stop], atol=1e-6)
    outside = np.delete(expected, np.s_[start:stop], axis=-1)
    assert not outside.any()  # What is not carried is zero in the original's input too.


def test_the_originals_inv_fills_the_empty_channels_with_ones_and_invimage_does_not():
    mnist = _tiny_mnist(n_test=10)
    x = mnist.test_images.astype(np.float32) / 255.0
    for style, channels in (("combined", 3), ("channelplex", 4)):
        inv, invimage = (build_tasks([name], sources={"mnist": mnist}, input_style=style,
                                     seed=0)[0] for name in ("inv", "invimage"))
        assert inv.carried == (0, channels) and invimage.carried == (0, 1)
        images = next(iter(inv.test_batches(10)))[0].numpy()
        np.testing.assert_allclose(images[..., 0], 1.0 - x, atol=1e-6)
        np.testing.assert_array_equal(images[..., 1:], 1.0)
        np.testing.assert_allclose(next(iter(invimage.test_batches(10)))[0].numpy()[..., 0],
                                   1.0 - x, atol=1e-6)


def test_ref_is_upside_down_and_twice_is_identity():
    x = _images()
    once, _ = _apply(T.flip_rows, x)
    np.testing.assert_array_equal(once, x.numpy()[:, ::-1, :])
    np.testing.assert_array_equal(_apply(T.flip_rows, tf.constant(once))[0], x.numpy())


def test_mirror_reflects_one_axis_and_twice_is_identity():
    x = _images()
    once, _ = _apply(T.mirror, x)
    np.testing.assert_array_equal(once, x.numpy()[:, :, ::-1])
    twice, _ = _apply(T.mirror, tf.constant(once))
    np.testing.assert_array_equal(twice, x.numpy())
    assert not np.array_equal(once, _apply(T.rotate_180, x)[0])


def test_invert_is_one_minus_x_and_keeps_labels():
    x, y = _images(), _labels()
    images, labels = _apply(T.invert, x, y)
    np.testing.assert_allclose(images, 1.0 - x.numpy())
    np.testing.assert_array_equal(labels, y.numpy())


def test_noise_is_uniform_fresh_per_seed_and_repeatable():
    x, y = _images(), _labels()
    a, labels = _apply(T.noise, x, y, seed=tf.constant([0, 1], tf.int64))
    b, _ = _apply(T.noise, x, y, seed=tf.constant([0, 2], tf.int64))
    again, _ = _apply(T.noise, x, y, seed=tf.constant([0, 1], tf.int64))
    assert a.shape == x.shape and 0.0 <= a.min() and a.max() < 1.0
    assert not np.array_equal(a, b)
    np.testing.assert_array_equal(a, again)
    np.testing.assert_array_equal(labels, y.numpy())
    assert abs(a.mean() - 0.5) < 0.02


def test_zero_and_one_are_constant_images():
    assert np.all(_apply(T.zero, _images())[0] == 0.0)
    assert np.all(_apply(T.one, _images())[0] == 1.0)


def test_perm_is_one_fixed_bijection_of_labels_per_seed():
    labels = tf.constant(np.arange(10), tf.int32)
    first = T.permute_labels(np.random.default_rng(3))
    mapping = _apply(first, _images(10), labels)[1]
    assert sorted(mapping) == list(range(10))
    for _ in range(3):  # Every call, and a transform made again from the seed, agree.
        np.testing.assert_array_equal(_apply(first, _images(10), labels)[1], mapping)
    remade = T.permute_labels(np.random.default_rng(3))
    np.testing.assert_array_equal(_apply(remade, _images(10), labels)[1], mapping)
    other = T.permute_labels(np.random.default_rng(4))
    assert not np.array_equal(_apply(other, _images(10), labels)[1], mapping)
    x = _images(10)
    np.testing.assert_array_equal(_apply(first, x, labels)[0], x.numpy())


def test_rowperm_moves_whole_rows_by_one_fixed_permutation():
    transform = T.permute_rows(np.random.default_rng(0))
    x = _images(2)
    out, _ = _apply(transform, x)
    source_row = [next(r for r in range(28) if np.array_equal(out[0, i], x.numpy()[0, r]))
                  for i in range(28)]
    assert sorted(source_row) == list(range(28)) and source_row != list(range(28))
    np.testing.assert_array_equal(out[1], x.numpy()[1][source_row])


def test_pixperm_shuffles_all_pixels_the_same_way_for_single_images_and_batches():
    transform = T.permute_pixels(np.random.default_rng(0))
    x = _images(3)
    batch, _ = _apply(transform, x)
    single, _ = _apply(transform, x[1], _labels(1)[0])
    np.testing.assert_array_equal(batch[1], single)
    np.testing.assert_array_equal(np.sort(batch.reshape(3, -1)), np.sort(x.numpy().reshape(3, -1)))
    assert not np.array_equal(batch, x.numpy())


def test_rot_90_and_180_turn_the_image_exactly_and_rot_0_keeps_it():
    x = _images(2)
    np.testing.assert_array_equal(_apply(T.rotate(0), x)[0], x.numpy())
    np.testing.assert_array_equal(_apply(T.rotate(90), x)[0], np.rot90(x.numpy(), 1, axes=(1, 2)))
    np.testing.assert_array_equal(_apply(T.rotate(180), x)[0], _apply(T.rotate_180, x)[0])


@pytest.mark.parametrize("degrees", [7, 30, 45, 135, 300])
def test_rot_is_pils_rotate_the_way_rotated_mnist_was_made(degrees):
    from PIL import Image  # Matplotlib's dependency; Lopez-Paz and Ranzato turned with it.

    pixels = np.random.default_rng(degrees).integers(1, 256, (28, 28), dtype=np.uint8)
    expected = np.asarray(Image.fromarray(pixels, mode="L").rotate(degrees)) / 255.0
    turned, _ = _apply(T.rotate(degrees), tf.constant(pixels[None] / 255.0, tf.float32))
    # Where a pixel's source point lies on a pixel edge (at 45 and 135 degrees, whole
    # diagonals), PIL's 16.16 fixed-point arithmetic may round it to either side.
    radians = np.deg2rad(degrees)
    y, x = np.mgrid[0:28, 0:28] + 0.5
    source = np.stack([14 + np.cos(radians) * (x - 14) - np.sin(radians) * (y - 14),
                       14 + np.sin(radians) * (x - 14) + np.cos(radians) * (y - 14)])
    on_edge = (np.abs(source - np.round(source)) < 1e-4).any(axis=0)
    assert on_edge.sum() < 60
    np.testing.assert_allclose(turned[0][~on_edge], expected[~on_edge], atol=1e-6)
    assert (turned[0] == 0).sum() > 0  # The corners the turn leaves empty.


def test_rotated_mnist_tasks_are_named_by_their_angle():
    assert TASKS["rot-45"].arguments == (45,) and "rot-359" in TASKS
    with pytest.raises(UserError, match=r"rot-0 \.\. rot-359"):
        check_task_names(["rot-360"])


def test_transforms_run_inside_tf_data():
    dataset = tf.data.Dataset.from_tensor_slices((_images(6), _labels(6))).batch(3)
    dataset = dataset.map(lambda x, y: T.invert(x, y, SEED))
    assert [b[0].shape for b in dataset] == [(3, 28, 28), (3, 28, 28)]


def test_registry_has_the_original_names_and_rejects_unknown_ones():
    assert {"id", "ref", "inv", "noise", "perm", "zero", "one"} <= set(TASKS)
    with pytest.raises(UserError, match=r"unknown task 'bogus' in --tasks; known: id ref inv"):
        check_task_names(["id", "bogus"])
    with pytest.raises(UserError, match="twice"):
        check_task_names(["id", "id"])
    with pytest.raises(UserError, match="at least one"):
        check_task_names([])


def test_input_styles_place_greyscale_and_colour():
    grey = tf.ones((2, 28, 28))
    combined = place_channels(grey, "combined").numpy()
    assert combined.shape == (2, 28, 28, 3)
    assert combined[..., 0].min() == 1.0 and combined[..., 1:].max() == 0.0
    plex = place_channels(grey, "channelplex").numpy()
    assert plex.shape == (2, 28, 28, 4) and plex[..., 1:].max() == 0.0
    rgb = tf.ones((2, 28, 28, 3))
    assert place_channels(rgb, "combined", rgb=True).numpy().min() == 1.0
    rgb_plex = place_channels(rgb, "channelplex", rgb=True).numpy()
    assert rgb_plex[..., 0].max() == 0.0 and rgb_plex[..., 1:].min() == 1.0
    with pytest.raises(UserError, match="unknown --input-style"):
        place_channels(grey, "sideways")


def _tiny_mnist(n_train=50, n_test=30):
    rng = np.random.default_rng(0)
    return MnistArrays(
        train_images=rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        train_labels=(np.arange(n_train) % 10).astype(np.int32),
        test_images=rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        test_labels=(np.arange(n_test) % 10).astype(np.int32))


def _drawn_labels(stream: TaskStream, count: int) -> list[np.ndarray]:
    return [next(stream)[1].numpy() for _ in range(count)]


def test_train_batches_are_seeded_shaped_and_reshuffled_each_epoch():
    mnist = _tiny_mnist()
    (task,) = build_tasks(["invimage"], sources={"mnist": mnist}, input_style="channelplex",
                          seed=5)
    images, labels = next(TaskStream(task, 10))
    assert task.carried == (0, 1)  # Greyscale only: the other channels are never used.
    assert images.shape == (10, 28, 28, 1) and images.dtype == tf.float32
    assert labels.dtype == tf.int32
    assert 0.0 <= images.numpy().min() and images.numpy().max() <= 1.0
    (again,) = build_tasks(["invimage"], sources={"mnist": mnist}, input_style="channelplex",
                           seed=5)
    first = _drawn_labels(TaskStream(task, 10), 10)
    np.testing.assert_array_equal(first, _drawn_labels(TaskStream(again, 10), 10))
    epoch1, epoch2 = np.concatenate(first[:5]), np.concatenate(first[5:])
    assert sorted(epoch1) == sorted(epoch2) and not np.array_equal(epoch1, epoch2)


@pytest.mark.parametrize("batch", [3, 7, 10])
def test_a_training_stream_is_its_epochs_in_turn_cut_into_batches(batch):
    """Every epoch is the whole training set in a fresh order, and batches run on across the
    epochs' ends, also when a batch is larger than the set (7 examples here; with the
    tiny set's labels 0-6, a label names its example)."""
    (task,) = build_tasks(["id"], sources={"mnist": _tiny_mnist(n_train=7)},
                          input_style="combined", seed=3)
    epochs = 10
    labels = np.concatenate(_drawn_labels(TaskStream(task, batch), epochs * 7 // batch))
    orders = labels[:len(labels) // 7 * 7].reshape(-1, 7)
    assert len(orders) >= epochs - 1
    for order in orders:
        assert sorted(order) == list(range(7))
    assert len({tuple(order) for order in orders}) > len(orders) // 2


def test_a_checkpoint_of_a_training_stream_holds_its_counter_not_every_index(tmp_path):
    """Each epoch's order is a function of (seed, epoch), so a checkpoint of the stream holds
    its batch counter, not the cached order of every index (14 MB and a second per
    MNIST task when tf.data's shuffle buffer was saved)."""
    (task,) = build_tasks(["id"], sources={"mnist": _tiny_mnist(n_train=50_000)},
                          input_style="combined", seed=0)
    stream = TaskStream(task, 10)
    next(stream)
    prefix = tf.train.Checkpoint(data=stream).write(str(tmp_path / "stream"))
    size = sum(path.stat().st_size for path in tmp_path.glob(f"{Path(prefix).name}*"))
    assert size < 100_000  # 50,000 int64 indices alone would be 400,000 bytes.
    expected = _drawn_labels(stream, 3)
    restored = TaskStream(task, 10)
    tf.train.Checkpoint(data=restored).read(prefix).assert_consumed()
    np.testing.assert_array_equal(_drawn_labels(restored, 3), expected)


def test_a_stream_draws_the_same_batches_inside_a_compiled_loop_as_eagerly():
    """The runner draws batches inside its compiled training loop; the epoch-order cache is
    refreshed there as the stream crosses epochs (7 examples, batches of 3)."""
    (task,) = build_tasks(["noise"], sources={"mnist": _tiny_mnist(n_train=7)},
                          input_style="combined", seed=2)

    @tf.function
    def draw(stream, count):
        images = tf.TensorArray(tf.float32, size=count)
        labels = tf.TensorArray(tf.int32, size=count)
        for i in tf.range(count):
            batch_images, batch_labels = next(stream)
            images, labels = images.write(i, batch_images), labels.write(i, batch_labels)
        return images.stack(), labels.stack()

    compiled = TaskStream(task, 3)
    first_images, first_labels = draw(compiled, tf.constant(4))
    images, labels = draw(compiled, tf.constant(5))  # Carries on from batch 4.
    eager = TaskStream(task, 3)
    expected = [next(eager) for _ in range(9)]
    np.testing.assert_array_equal(np.concatenate([first_labels, labels]),
                                  [batch[1].numpy() for batch in expected])
    np.testing.assert_allclose(np.concatenate([first_images, images]),
                               [batch[0].numpy() for batch in expected], atol=1e-7)
    assert int(compiled.position.numpy()) == 9


def test_noise_task_differs_per_batch_but_its_test_set_is_fixed():
    (task,) = build_tasks(["noise"], sources={"mnist": _tiny_mnist()}, input_style="combined", seed=0)
    stream = TaskStream(task, 10)
    batches = [next(stream)[0].numpy() for _ in range(2)]
    assert not np.array_equal(batches[0], batches[1])
    test1 = np.concatenate([b[0].numpy() for b in task.test_batches(7)])
    test2 = np.concatenate([b[0].numpy() for b in task.test_batches(7)])
    assert test1.shape == (30, 28, 28, 1)
    np.testing.assert_array_equal(test1, test2)


def test_tasks_share_one_copy_of_the_data():
    first, second = build_tasks(["id", "perm"], sources={"mnist": _tiny_mnist()}, input_style="combined",
                                seed=0)
    assert first.train.images is second.train.images
    assert first.train.images.dtype == tf.uint8


def test_batch_pipelines_run_without_the_autotuner():
    """tf.data's autotuner thread can hold an iterator's destructor for up to a minute (seen
    as 50 s at the end of a run); the test batches, the one pipeline left, turn it off."""
    (task,) = build_tasks(["id"], sources={"mnist": _tiny_mnist()}, input_style="combined", seed=0)
    assert task.test_batches(10).options().autotune.enabled is False


def test_tasks_carry_only_the_channels_some_task_of_the_run_fills():
    from tasks import carried_channels
    from tasks.input_style import filled_channels

    grey, rgb = filled_channels("combined"), filled_channels("combined", rgb=True)
    assert carried_channels("combined", [grey, grey]) == (0, 1)
    assert carried_channels("combined", [grey, rgb]) == (0, 3)
    assert carried_channels("channelplex", [filled_channels("channelplex", rgb=True)]) == (1, 4)
    assert carried_channels("combined", [grey, filled_channels("combined",
                                                               whole_input=True)]) == (0, 3)


@pytest.mark.parametrize("style", ["combined", "channelplex"])
@pytest.mark.parametrize("names", [["id"], ["id", "inv"], ["ref", "invimage", "noise"],
                                   ["inv", "one", "zero", "perm"]])
def test_the_carried_channels_are_the_full_input_whose_other_channels_are_zero(names, style):
    """What each task fills, constants included, is carried: the full input outside the carried
    channels is zero for every task of the run, so the network may skip it."""
    mnist = _tiny_mnist()
    compact = build_tasks(names, sources={"mnist": mnist}, input_style=style, seed=5)
    full = build_tasks(names, sources={"mnist": mnist}, input_style=style, seed=5,
                       all_channels=True)
    for small, whole in zip(compact, full):
        start, stop = small.carried
        small_images = next(iter(small.test_batches(10)))[0].numpy()
        whole_images = next(iter(whole.test_batches(10)))[0].numpy()
        assert whole.carried is None and whole_images.shape[-1] == (3 if style == "combined"
                                                                    else 4)
        np.testing.assert_array_equal(whole_images[..., start:stop], small_images)
        assert not np.delete(whole_images, np.s_[start:stop], axis=-1).any()

@pytest.mark.parametrize("split", ["train", "test"])
def test_a_split_task_whose_digits_the_data_lacks_is_one_line_not_a_crash(split):
    mnist = _tiny_mnist()
    labels = getattr(mnist, f"{split}_labels")
    labels[np.isin(labels, (2, 3))] = 4  # No 2 or 3 left in this split.
    kind = {"train": "training", "test": "test"}[split]
    with pytest.raises(UserError, match=f"task 'split-23' has no {kind} examples "
                                        r"\(digits 2 and 3\) in the mnist data given"):
        build_tasks(["id", "split-23"], sources={"mnist": mnist}, input_style="combined",
                    seed=0)
