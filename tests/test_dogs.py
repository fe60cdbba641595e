"""The dog task's data: three sources, breed choice, the split, the cache, and bad data."""

import io
import json
import os

import numpy as np
import pytest
import tensorflow as tf

from data import load_dogs
from data.dogs import NO_DOG_DATA, choose_breeds, stratified_split
from errors import UserError
from tests.conftest import write_mnist_dir
from tests.dog_fixtures import BREEDS, image_bytes, write_folder_layout, write_kaggle_layout
from training import run_experiment, smoke_config


@pytest.fixture(params=["kaggle", "folder"])
def dog_dir(request, tmp_path):
    writer = write_kaggle_layout if request.param == "kaggle" else write_folder_layout
    return writer(tmp_path / request.param)


def test_both_layouts_load_as_resized_rgb_with_a_stratified_split(dog_dir, tmp_path):
    dogs = load_dogs(dog_dir=dog_dir, size=28, cache_dir=str(tmp_path / "cache"))
    assert dogs.breeds == BREEDS
    assert dogs.train_images.shape[1:] == (28, 28, 3) and dogs.train_images.dtype == np.uint8
    assert len(dogs.train_labels) + len(dogs.test_labels) == 18
    assert sorted(np.bincount(dogs.test_labels)) == [1, 1, 1]  # 10% of 6, at least one each.
    assert dogs.skipped == 0 and not dogs.cache_hit


def test_second_load_hits_the_cache_and_changed_files_miss_it(dog_dir, tmp_path):
    cache = str(tmp_path / "cache")
    first = load_dogs(dog_dir=dog_dir, cache_dir=cache)
    second = load_dogs(dog_dir=dog_dir, cache_dir=cache)
    assert second.cache_hit and second.cache_file == first.cache_file
    assert first.cache_file.endswith(".npz") and os.path.dirname(first.cache_file) == cache
    for name in ("train_images", "train_labels", "test_images", "test_labels"):
        np.testing.assert_array_equal(getattr(first, name), getattr(second, name))
    other_breeds = load_dogs(dog_dir=dog_dir, cache_dir=cache, breeds=["beagle", "borzoi"])
    assert not other_breeds.cache_hit and other_breeds.breeds == ("beagle", "borzoi")
    with np.load(first.cache_file, allow_pickle=False) as f:  # Plain arrays, no pickle.
        assert f["train_images"].dtype == np.uint8


def test_a_cache_cut_short_is_discarded_and_rebuilt(tmp_path):
    root, cache = write_folder_layout(tmp_path / "dogs"), str(tmp_path / "cache")
    first = load_dogs(dog_dir=root, cache_dir=cache)
    size = os.path.getsize(first.cache_file)
    os.truncate(first.cache_file, size // 2)
    rebuilt = load_dogs(dog_dir=root, cache_dir=cache)
    assert not rebuilt.cache_hit and os.path.getsize(first.cache_file) == size
    np.testing.assert_array_equal(rebuilt.train_images, first.train_images)
    assert load_dogs(dog_dir=root, cache_dir=cache).cache_hit


def test_default_breeds_are_the_first_ten_by_name_and_can_be_chosen():
    names = [f"breed{i:02d}" for i in range(15, -1, -1)]
    assert choose_breeds(names, None) == tuple(f"breed{i:02d}" for i in range(10))
    assert choose_breeds(names, ["breed12", "breed03"]) == ("breed12", "breed03")
    with pytest.raises(UserError, match="not in the dog data; known: breed00"):
        choose_breeds(names, ["poodle"])
    with pytest.raises(UserError, match="2 to 10 different breeds"):
        choose_breeds(names, ["breed01"])


def test_split_is_seeded_stratified_and_disjoint():
    labels = np.repeat(np.arange(4), 20)
    train, test = stratified_split(labels, 0.1)
    assert not set(train) & set(test) and len(train) + len(test) == 80
    assert list(np.bincount(labels[test])) == [2, 2, 2, 2]
    again = stratified_split(labels, 0.1)
    np.testing.assert_array_equal(test, again[1])
    assert not np.array_equal(test, stratified_split(labels, 0.1, seed=1)[1])


def test_corrupt_images_are_skipped_and_counted(tmp_path, caplog):
    root = write_folder_layout(tmp_path / "dogs", per_breed=7)
    with open(os.path.join(root, "beagle", "broken.jpg"), "wb") as f:
        f.write(image_bytes(0)[:40])  # A JPEG cut short.
    with open(os.path.join(root, "borzoi", "empty.jpg"), "wb"):
        pass
    dogs = load_dogs(dog_dir=root, cache_dir=str(tmp_path / "cache"))
    assert dogs.skipped == 2
    assert len(dogs.train_labels) + len(dogs.test_labels) == 21
    assert "skipped 2 unreadable dog image" in caplog.text


def test_a_truncated_jpeg_prints_no_line_of_its_own(tmp_path, capfd):
    root = write_folder_layout(tmp_path / "dogs", per_breed=7)
    for n in range(3):
        with open(os.path.join(root, "beagle", f"cut{n}.jpg"), "wb") as f:
            f.write(image_bytes(n, shape=(64, 64))[:600])  # Its data stops partway down.
    capfd.readouterr()
    dogs = load_dogs(dog_dir=root, cache_dir=str(tmp_path / "cache"))
    assert dogs.skipped == 3
    assert "JPEG" not in capfd.readouterr().err  # TensorFlow's "Premature end of JPEG data".


def test_an_empty_breed_is_a_clear_error(tmp_path):
    root = write_folder_layout(tmp_path / "dogs")
    os.makedirs(os.path.join(root, "akita"))
    with pytest.raises(UserError, match="'akita' has 0 readable images.*--dog-breeds"):
        load_dogs(dog_dir=root, cache_dir=str(tmp_path / "cache"))


def test_a_missing_kaggle_image_counts_as_unreadable(tmp_path):
    root = write_kaggle_layout(tmp_path / "kaggle", per_breed=7)
    os.remove(os.path.join(root, "train", "bea0000.jpg"))
    assert load_dogs(dog_dir=root, cache_dir=str(tmp_path / "c")).skipped == 1


@pytest.mark.parametrize("make, message", [
    (lambda p: None, NO_DOG_DATA.split(":")[0]),
    (lambda p: str(p / "absent"), "is not a directory"),
    (lambda p: str(p), "neither labels.csv nor breed folders"),
])
def test_missing_dog_data_names_the_ways_to_provide_it(tmp_path, make, message):
    with pytest.raises(UserError, match=message) as info:
        load_dogs(dog_dir=make(tmp_path), cache_dir=str(tmp_path / "cache"))
    assert "labels.csv" in str(info.value) and "<breed>" in str(info.value)


def test_a_bad_labels_csv_is_a_clear_error(tmp_path):
    (tmp_path / "labels.csv").write_text("name,kind\nx,y\n")
    with pytest.raises(UserError, match="needs a header `id,breed`"):
        load_dogs(dog_dir=str(tmp_path), cache_dir=str(tmp_path / "cache"))


@pytest.mark.parametrize("row, missing", [("bea9999", "breed"), ("bea9999,", "breed"),
                                          (",beagle", "id")])
def test_a_labels_csv_row_without_a_breed_or_an_id_names_its_line(tmp_path, row, missing):
    root = write_kaggle_layout(tmp_path / "kaggle")
    with open(os.path.join(root, "labels.csv"), "a") as f:
        f.write(row + "\n")
    with pytest.raises(UserError, match=f"labels.csv line 20 has no {missing}; give every row"):
        load_dogs(dog_dir=root, cache_dir=str(tmp_path / "cache"))


def test_a_breed_folder_that_cannot_be_read_is_one_line(tmp_path, monkeypatch):
    root = write_folder_layout(tmp_path / "dogs")
    locked = os.path.join(root, "borzoi")

    def refusing(read):  # As a folder without read permission does (tests may run as root).
        def call(path="."):
            if os.fspath(path) == locked:
                raise PermissionError(13, "Permission denied", locked)
            return read(path)
        return call

    monkeypatch.setattr(os, "scandir", refusing(os.scandir))
    monkeypatch.setattr(os, "listdir", refusing(os.listdir))
    with pytest.raises(UserError, match=f"cannot read the folder {locked} of --data-dog-dir "
                                        r"\(Permission denied\); make it readable"):
        load_dogs(dog_dir=root, cache_dir=str(tmp_path / "cache"))


# Without prepared data tfds names the 120 labels '0'..'119', so the first ten by name are
# labels 0, 1, 10, 100, ..., 106; labels 2 and 3 stand for breeds that must be left out.
_MOCK_LABELS = [0, 1, 10, 100, 101, 102, 103, 104, 105, 106, 2, 3]


def _mock_stanford_dogs(self, split, decoders=None, **kwargs):
    """Stands in for stanford_dogs: 6 JPEG-encoded images of each mock label."""
    del self, split, decoders, kwargs
    labels = np.repeat(np.asarray(_MOCK_LABELS, np.int64), 6)
    images = [image_bytes(i) for i in range(len(labels))]
    return tf.data.Dataset.from_tensor_slices({"image": images, "label": labels})


def test_tfds_stanford_dogs_with_mock_data(tmp_path):
    import tensorflow_datasets as tfds

    with tfds.testing.mock_data(as_dataset_fn=_mock_stanford_dogs):
        dogs = load_dogs("tfds", size=28, cache_dir=str(tmp_path))
        again = load_dogs("tfds", size=28, cache_dir=str(tmp_path))
    assert dogs.breeds == tuple(str(label) for label in _MOCK_LABELS[:10])
    labels = np.concatenate([dogs.train_labels, dogs.test_labels])
    assert list(np.bincount(labels)) == [6] * 10  # Breeds 2 and 3 were filtered out.
    assert dogs.train_images.shape[1:] == (28, 28, 3)
    assert again.cache_hit


def test_a_dog_run_end_to_end(tmp_path):
    data_dir = tmp_path / "mnist"
    write_mnist_dir(data_dir, n_train=40, n_test=20)
    config = smoke_config(tasks=("id", "dog"), max_steps=50, task_time=25, test_frequency=25,
                          batch=4, data_dir=str(data_dir),
                          data_dog_dir=write_kaggle_layout(tmp_path / "dogs"),
                          cache_dir=str(tmp_path / "cache"), log_dir=str(tmp_path / "log"),
                          input_style="channelplex")
    run_dir = run_experiment(config, progress_stream=io.StringIO())
    with open(os.path.join(run_dir, "metrics.jsonl")) as f:
        tests = [json.loads(line) for line in f if '"test"' in line]
    assert [r["step"] for r in tests] == [0, 25, 50]
    assert all(set(r["test_accuracy"]) == {"id", "dog"} for r in tests)
    with open(os.path.join(run_dir, "config.json")) as f:
        recorded = json.load(f)["data"]["dog"]
    assert recorded["breeds"] == list(BREEDS) and recorded["test_examples"] == 3


def _opencv_linear(image: np.ndarray, size: int) -> np.ndarray:
    """OpenCV's INTER_LINEAR resize written out: sample at half-pixel centres, source
    coordinate (x + 0.5) * scale - 0.5 clamped to the image, bilinear weights."""
    def axis(n_in):
        x = np.clip((np.arange(size) + 0.5) * n_in / size - 0.5, 0, n_in - 1)
        low = np.floor(x).astype(int)
        return low, np.minimum(low + 1, n_in - 1), x - low

    (y0, y1, wy), (x0, x1, wx) = axis(image.shape[0]), axis(image.shape[1])
    f = image.astype(np.float64)
    rows = f[y0] * (1 - wy)[:, None, None] + f[y1] * wy[:, None, None]
    return rows[:, x0] * (1 - wx)[None, :, None] + rows[:, x1] * wx[None, :, None]


def test_the_opencv_decoding_is_bgr_and_bilinear_without_antialiasing_as_the_original():
    from data.image_folders import decode_resized

    rng = np.random.default_rng(3)
    pixels = rng.integers(0, 256, (300, 400, 3), dtype=np.uint8)
    png = tf.io.encode_png(tf.constant(pixels)).numpy()
    opencv = decode_resized(png, 28, "opencv")
    # OpenCV's fixed-point weights round within one level of the exact bilinear values.
    assert np.abs(opencv.astype(int) - _opencv_linear(pixels, 28)[..., ::-1].round()).max() <= 1
    smooth = decode_resized(png, 28, "antialiased")
    expected = tf.image.resize(tf.constant(pixels, tf.float32), (28, 28), antialias=True)
    assert np.abs(smooth.astype(int) - expected.numpy().round()).max() <= 1
    # Random pixels downscaled 14-fold: without antialiasing they stay noise, with it they
    # average towards grey.
    assert opencv.std() > 3 * smooth.std()


def test_each_decoding_has_its_own_cache_entry_and_an_unknown_one_names_the_choices(tmp_path):
    root = write_folder_layout(tmp_path / "dogs")
    cache = str(tmp_path / "cache")
    opencv = load_dogs(dog_dir=root, cache_dir=cache)
    smooth = load_dogs(dog_dir=root, cache_dir=cache, decoding="antialiased")
    assert not smooth.cache_hit and smooth.cache_file != opencv.cache_file
    assert load_dogs(dog_dir=root, cache_dir=cache, decoding="antialiased").cache_hit
    with pytest.raises(UserError, match="unknown --dog-decode 'cv3'; use one of: opencv, "
                                        "antialiased"):
        load_dogs(dog_dir=root, cache_dir=cache, decoding="cv3")
