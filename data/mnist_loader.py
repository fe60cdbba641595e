"""MNIST and data sets in its format (Fashion-MNIST) as uint8 arrays: from IDX files (the bundled
MNIST, --data-dir, --data-fashion-dir) or tensorflow-datasets."""

import dataclasses
import os

import numpy as np

from data.idx import read_idx
from errors import UserError, first_line

BUNDLED_MNIST_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "mnist")
IDX_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
SOURCES = ("idx", "tfds")
IMAGE_SHAPE = (28, 28)
# --mnist-train: how many of the training file's first images are held out, unused.
# TF1's read_data_sets, which the original read MNIST with, kept the first 5,000 as a
# validation set that the original never used, and trained on the other 55,000.
TRAIN_SPLITS = {"original": 5000, "all": 0}




@dataclasses.dataclass(frozen=True)
class IdxDataset:
    """A data set in MNIST's four IDX files: its name in messages, the flags that point at it,
    and its tensorflow-datasets name."""

    name: str
    dir_flag: str
    source_flag: str
    tfds_name: str


MNIST = IdxDataset("MNIST", "--data-dir", "--mnist-source", "mnist")


@dataclasses.dataclass(frozen=True)
class MnistArrays:
    """MNIST (or a data set in its format) held compactly: images uint8 [N, 28, 28], labels
    int32 [N] in 0..9."""

    train_images: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray
    dataset: str = dataclasses.field(default="MNIST", compare=False)  # Its name in messages.

    def __post_init__(self):
        for split in ("train", "test"):
            images = getattr(self, f"{split}_images")
            labels = getattr(self, f"{split}_labels")
            if images.ndim != 3 or len(images) != len(labels):
                raise UserError(
                    f"{self.dataset} {split} split is inconsistent: images {images.shape}, "
                    f"labels {labels.shape}; use the four files of one {self.dataset} copy"
                )
            if len(labels) == 0:
                raise UserError(f"{self.dataset} {split} split is empty; use a complete copy")
            if images.shape[1:] != IMAGE_SHAPE or images.dtype != np.uint8:
                raise UserError(
                    f"{self.dataset} {split} images are {images.dtype.name} "
                    f"{'x'.join(map(str, images.shape[1:]))}, not uint8 28x28; use the four "
                    f"files of a genuine {self.dataset} copy")
            if labels.min() < 0 or labels.max() > 9:
                raise UserError(
                    f"{self.dataset} {split} labels lie outside 0..9; use a genuine "
                    f"{self.dataset} copy"
                )

    def without_first(self, count: int, split_name: str = "original") -> "MnistArrays":
        """The same arrays without the first `count` training examples."""
        if count >= len(self.train_labels):
            raise UserError(
                f"--mnist-train {split_name} holds out the first {count} training images, as "
                f"TF1's reader did, but this MNIST has only {len(self.train_labels)}; give the "
                "full MNIST or --mnist-train all")
        return dataclasses.replace(self, train_images=self.train_images[count:],
                                   train_labels=self.train_labels[count:])

    def describe(self) -> dict:
        """What config.json records about the MNIST data of a run."""
        return {"train_examples": len(self.train_labels), "test_examples": len(self.test_labels)}


def _find_idx_file(data_dir: str, stem: str, dataset: IdxDataset = MNIST,
                   fix: str = ", or leave it out to use the bundled copy") -> str:
    for name in (stem, stem + ".gz"):
        path = os.path.join(data_dir, name)
        if os.path.isfile(path):
            return path
    raise UserError(f"no {stem}[.gz] in {dataset.dir_flag} {data_dir}; point {dataset.dir_flag} "
                    f"at a folder holding the four {dataset.name} IDX files{fix}")


def load_idx_dir(data_dir: str, dataset: IdxDataset = MNIST,
                 fix: str = ", or leave it out to use the bundled copy") -> MnistArrays:
    """Reads a data set's four IDX files (each gzipped or not) from a directory; `fix` ends
    the message of a missing folder or file (another place the data can come from)."""
    if not os.path.isdir(data_dir):
        raise UserError(f"{dataset.dir_flag} {data_dir} is not a directory; point it at a "
                        f"folder holding the four {dataset.name} IDX files{fix}")
    arrays = {}
    for key, stem in IDX_FILES.items():
        array = read_idx(_find_idx_file(data_dir, stem, dataset, fix),
                         expect_ndim=3 if "images" in key else 1, expect_dtype=np.uint8)
        arrays[key] = array if "images" in key else array.astype(np.int32)
    return MnistArrays(**arrays, dataset=dataset.name)


def load_tfds(tfds_dir: str | None, dataset: IdxDataset = MNIST) -> MnistArrays:
    """Loads the data set's tensorflow-datasets builder (downloads it when online)."""
    import tensorflow_datasets as tfds  # Slow to import; only this path needs it.

    try:
        train, test = tfds.load(dataset.tfds_name, split=["train", "test"], as_supervised=True,
                                data_dir=tfds_dir)
        (train_images, train_labels), (test_images, test_labels) = (
            _to_arrays(tfds.as_numpy(split.batch(10000))) for split in (train, test))
    except ImportError as e:  # The environment lacks a module tfds needs: no download helps.
        raise UserError(f"tensorflow-datasets cannot prepare 'mnist' here ({first_line(e)}); "
                        "install the project's environment again (pipenv sync), or use "
                        "--mnist-source idx") from None
    except Exception as e:  # tfds raises many types: network, missing files, checksums.
        raise UserError(
            f"tensorflow-datasets could not load {dataset.tfds_name!r} ({first_line(e)}); go "
            f"online once, point --tfds-dir at a prepared tfds data directory, or use "
            f"{dataset.source_flag} idx"
        ) from None
    return MnistArrays(train_images=train_images, train_labels=train_labels,
                       test_images=test_images, test_labels=test_labels, dataset=dataset.name)


def _to_arrays(batches) -> tuple[np.ndarray, np.ndarray]:
    images, labels = [], []
    for image_batch, label_batch in batches:
        images.append(np.asarray(image_batch, np.uint8).reshape(-1, 28, 28))
        labels.append(np.asarray(label_batch, np.int32))
    if not images:
        raise ValueError("a split has no examples")
    return np.concatenate(images), np.concatenate(labels)


def load_mnist(source: str = "idx", data_dir: str | None = None,
               tfds_dir: str | None = None, train: str = "all") -> MnistArrays:
    """Loads MNIST from `source`: 'idx' reads `data_dir` (default: the bundled copy); `train`
    names the training images kept (TRAIN_SPLITS: 'original' drops the first 5,000)."""
    if train not in TRAIN_SPLITS:
        raise UserError(f"unknown --mnist-train {train!r}; use one of: {', '.join(TRAIN_SPLITS)}")
    if source == "idx":
        arrays = load_idx_dir(data_dir or BUNDLED_MNIST_DIR)
    elif source == "tfds":
        arrays = load_tfds(tfds_dir)
    else:
        raise UserError(f"unknown MNIST source {source!r}; use one of: {', '.join(SOURCES)}")
    return arrays.without_first(TRAIN_SPLITS[train], train) if TRAIN_SPLITS[train] else arrays
