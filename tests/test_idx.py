"""The IDX reader and the MNIST loaders: good files, corrupt files, the bundled copy, tfds."""

import gzip
import os
import struct

import numpy as np
import pytest

from data import BUNDLED_MNIST_DIR, load_mnist, read_idx
from data.mnist_loader import load_idx_dir
from errors import UserError
from tests.conftest import idx_bytes, write_mnist_dir


def _write(path, data: bytes) -> str:
    with open(path, "wb") as f:
        f.write(data)
    return str(path)


def test_reads_raw_and_gzipped_files_alike(tmp_path):
    array = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    raw = _write(tmp_path / "a", idx_bytes(array))
    zipped = _write(tmp_path / "b.gz", gzip.compress(idx_bytes(array)))
    np.testing.assert_array_equal(read_idx(raw), array)
    np.testing.assert_array_equal(read_idx(zipped, expect_ndim=3), array)


@pytest.mark.parametrize("data, message", [
    (b"", "empty"),
    (b"\x00\x00", "empty"),
    (b"GIF89a-not-an-idx-file", "no IDX magic"),
    (idx_bytes(np.zeros((5, 4, 4)))[:-3], "truncated"),
    (idx_bytes(np.zeros((5, 4, 4))) + b"extra", "longer than its header"),
    (idx_bytes(np.zeros((5, 4, 4)))[:10], "truncated inside its header"),
])
def test_corrupt_files_are_clear_errors(tmp_path, data, message):
    with pytest.raises(UserError, match=message):
        read_idx(_write(tmp_path / "bad", data))


def test_wrong_number_of_dimensions_is_an_error(tmp_path):
    path = _write(tmp_path / "labels", idx_bytes(np.zeros(5)))
    with pytest.raises(UserError, match="declares 1 dimensions where 3"):
        read_idx(path, expect_ndim=3)


def _float_idx_bytes(array: np.ndarray) -> bytes:
    """The IDX encoding of a float32 array (type 0x0D)."""
    header = struct.pack(">BBBB", 0, 0, 0x0D, array.ndim)
    return header + struct.pack(f">{array.ndim}I", *array.shape) + array.astype(">f4").tobytes()


def test_a_float_idx_file_is_refused_where_uint8_is_expected(tmp_path):
    images = np.random.default_rng(0).random((5, 28, 28), np.float32)
    path = _write(tmp_path / "images", _float_idx_bytes(images))
    np.testing.assert_array_equal(read_idx(path), images)  # Read as it is when not told.
    with pytest.raises(UserError, match=r"holds float32 values \(IDX type 0x0D\) where uint8"):
        read_idx(path, expect_ndim=3, expect_dtype=np.uint8)


def test_an_mnist_copy_of_float_images_is_refused_not_trained_at_chance(mnist_dir):
    images = np.random.default_rng(0).random((20, 28, 28), np.float32)
    _write(os.path.join(mnist_dir, "t10k-images-idx3-ubyte.gz"),
           gzip.compress(_float_idx_bytes(images)))
    with pytest.raises(UserError, match="t10k-images-idx3-ubyte.gz holds float32 values"):
        load_idx_dir(mnist_dir)


@pytest.mark.parametrize("split, shape", [("test", (20, 28, 27)), ("train", (60, 20, 20))])
def test_images_that_are_not_28x28_are_refused(mnist_dir, split, shape):
    name = {"train": "train-images-idx3-ubyte.gz", "test": "t10k-images-idx3-ubyte.gz"}[split]
    _write(os.path.join(mnist_dir, name), gzip.compress(idx_bytes(np.zeros(shape))))
    size = "x".join(map(str, shape[1:]))
    with pytest.raises(UserError, match=f"MNIST {split} images are uint8 {size}, not uint8 28x28"):
        load_idx_dir(mnist_dir)


def test_damaged_gzip_is_an_error(tmp_path):
    data = gzip.compress(idx_bytes(np.zeros((50, 28, 28))))
    path = _write(tmp_path / "x.gz", data[: len(data) // 2])
    with pytest.raises(UserError, match="damaged gzip"):
        read_idx(path)


def test_missing_file_is_an_error(tmp_path):
    with pytest.raises(UserError, match="cannot read"):
        read_idx(str(tmp_path / "absent"))


def test_bundled_mnist_is_complete():
    mnist = load_mnist()
    assert mnist.train_images.shape == (60000, 28, 28)
    assert mnist.test_images.shape == (10000, 28, 28)
    assert mnist.train_images.dtype == np.uint8
    assert mnist.train_labels.dtype == np.int32
    assert set(np.unique(mnist.test_labels)) == set(range(10))
    assert os.path.isfile(os.path.join(BUNDLED_MNIST_DIR, "README.md"))  # The licence note.


def test_the_original_split_trains_on_the_last_55000_and_keeps_the_test_set():
    every = load_mnist(train="all")
    original = load_mnist(train="original")
    assert len(original.train_labels) == 55000
    np.testing.assert_array_equal(original.train_images, every.train_images[5000:])
    np.testing.assert_array_equal(original.train_labels, every.train_labels[5000:])
    np.testing.assert_array_equal(original.test_images, every.test_images)


def test_the_original_split_of_too_small_an_mnist_and_an_unknown_split_name_the_fix(tmp_path):
    write_mnist_dir(tmp_path, n_train=100)
    with pytest.raises(UserError, match="has only 100; give the full MNIST or --mnist-train all"):
        load_mnist("idx", data_dir=str(tmp_path), train="original")
    with pytest.raises(UserError, match="unknown --mnist-train 'half'; use one of: original, all"):
        load_mnist("idx", data_dir=str(tmp_path), train="half")


@pytest.mark.parametrize("gzipped", [True, False])
def test_data_dir_reads_four_files(tmp_path, gzipped):
    written = write_mnist_dir(tmp_path, gzipped=gzipped)
    mnist = load_mnist("idx", data_dir=str(tmp_path))
    np.testing.assert_array_equal(mnist.train_images, written["train-images-idx3-ubyte"])
    np.testing.assert_array_equal(mnist.test_labels, written["t10k-labels-idx1-ubyte"])


def test_missing_data_dir_names_the_fix(tmp_path):
    with pytest.raises(UserError, match="not a directory; point it at a folder"):
        load_idx_dir(str(tmp_path / "nonexistent"))


def test_missing_file_in_data_dir_names_it(mnist_dir):
    os.remove(os.path.join(mnist_dir, "t10k-labels-idx1-ubyte.gz"))
    with pytest.raises(UserError, match="no t10k-labels-idx1-ubyte"):
        load_idx_dir(mnist_dir)


def test_images_and_labels_must_agree(mnist_dir):
    _write(os.path.join(mnist_dir, "t10k-labels-idx1-ubyte.gz"),
           gzip.compress(idx_bytes(np.zeros(7))))
    with pytest.raises(UserError, match="inconsistent"):
        load_idx_dir(mnist_dir)


def test_labels_outside_0_to_9_are_refused(mnist_dir):
    _write(os.path.join(mnist_dir, "t10k-labels-idx1-ubyte.gz"),
           gzip.compress(idx_bytes(np.full(20, 11))))
    with pytest.raises(UserError, match="outside 0..9"):
        load_idx_dir(mnist_dir)


def test_tfds_source_with_mock_data():
    import tensorflow_datasets as tfds

    with tfds.testing.mock_data(num_examples=12):
        mnist = load_mnist("tfds")
    assert mnist.train_images.shape == (12, 28, 28)
    assert mnist.test_images.shape == (12, 28, 28)
    assert mnist.train_images.dtype == np.uint8
    assert 0 <= mnist.train_labels.min() and mnist.train_labels.max() <= 9


@pytest.fixture
def served(tmp_path):
    """A folder served over HTTP on 127.0.0.1 (no other network): (folder, its URL)."""
    import functools
    import http.server
    import threading

    folder = tmp_path / "served"
    folder.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield folder, f"http://127.0.0.1:{server.server_port}/"
    server.shutdown()
    thread.join()


def test_tfds_downloads_and_prepares_mnist_from_a_local_address(tmp_path, served, monkeypatch):
    """tfds's own preparation path (download, extract, generate, shuffle, write records),
    which mock_data never reaches and which needs etils's importlib_resources: the `mnist`
    builder fed small IDX files from 127.0.0.1."""
    from tensorflow_datasets.image_classification import mnist as tfds_mnist

    folder, url = served
    arrays = write_mnist_dir(folder, n_train=30, n_test=10)
    monkeypatch.setattr(tfds_mnist.MNIST, "URL", url)
    monkeypatch.setattr(tfds_mnist, "_TRAIN_EXAMPLES", 30)
    monkeypatch.setattr(tfds_mnist, "_TEST_EXAMPLES", 10)
    mnist = load_mnist("tfds", tfds_dir=str(tmp_path / "tfds"))
    assert os.path.isdir(tmp_path / "tfds" / "mnist")  # Prepared there, for later runs.

    def rows(images, labels):  # tfds shuffles the examples as it writes them.
        return sorted((int(label), image.tobytes()) for image, label in zip(images, labels))

    assert rows(mnist.train_images, mnist.train_labels) == rows(
        arrays["train-images-idx3-ubyte"], arrays["train-labels-idx1-ubyte"])
    assert rows(mnist.test_images, mnist.test_labels) == rows(
        arrays["t10k-images-idx3-ubyte"], arrays["t10k-labels-idx1-ubyte"])


def test_a_module_tfds_lacks_is_named_with_the_fix_not_go_online(tmp_path, monkeypatch):
    """How the missing importlib_resources showed: no download would have helped."""
    import tensorflow_datasets as tfds

    from data import load_dogs

    def load(*args, **kwargs):
        raise ModuleNotFoundError("No module named 'importlib_resources'",
                                  name="importlib_resources")

    monkeypatch.setattr(tfds, "load", load)
    fix = r"\(No module named 'importlib_resources'\); install the project's environment again"
    with pytest.raises(UserError, match=r"cannot prepare 'mnist' here " + fix) as mnist:
        load_mnist("tfds")
    with pytest.raises(UserError, match=r"cannot prepare 'stanford_dogs' here " + fix) as dogs:
        load_dogs("tfds", size=28, cache_dir=str(tmp_path))
    assert "online" not in str(mnist.value) + str(dogs.value)


def test_unknown_source_is_an_error():
    with pytest.raises(UserError, match="unknown MNIST source"):
        load_mnist("floppy")
