"""TF1's `input_data.read_data_sets` rules over IDX files, for running the original task.py.

TensorFlow 2 no longer ships `tensorflow.examples.tutorials.mnist`; this module
gives the original the same data it read there: the training file's first
`validation_size` (5,000) images held out as validation, the other 55,000 as
`train`; images flattened to 784 float32 values in [0, 1]; one-hot labels when
asked; and `next_batch` as TF1 wrote it (a shuffle from numpy's global generator
before the first epoch and at each epoch's end, a batch that crosses the end made
of the old epoch's rest and the new epoch's start).
"""

import collections

import numpy as np

from data.idx import read_idx
from data.mnist_loader import IDX_FILES, _find_idx_file

Datasets = collections.namedtuple("Datasets", ["train", "validation", "test"])


class DataSet:
    """One split, with TF1's epoch bookkeeping and shuffling."""

    def __init__(self, images: np.ndarray, labels: np.ndarray):
        # TF1 multiplied by 1/255 (not divided by 255): the same float32 values as its reader.
        pixels = images.shape[1] * images.shape[2]  # As TF1: an empty split stays [0, 784].
        self._images = np.multiply(images.reshape(len(images), pixels).astype(np.float32),
                                   1.0 / 255.0)
        self._labels = labels
        self._num_examples = len(images)
        self._epochs_completed = 0
        self._index_in_epoch = 0

    @property
    def images(self):
        return self._images

    @property
    def labels(self):
        return self._labels

    @property
    def num_examples(self):
        return self._num_examples

    def _shuffle(self):
        order = np.arange(self._num_examples)
        np.random.shuffle(order)
        self._images, self._labels = self._images[order], self._labels[order]

    def next_batch(self, batch_size: int, fake_data: bool = False, shuffle: bool = True):
        del fake_data
        start = self._index_in_epoch
        if self._epochs_completed == 0 and start == 0 and shuffle:
            self._shuffle()
        if start + batch_size <= self._num_examples:
            self._index_in_epoch += batch_size
            return self._images[start:self._index_in_epoch], self._labels[start:self._index_in_epoch]
        self._epochs_completed += 1
        rest_images, rest_labels = self._images[start:], self._labels[start:]
        if shuffle:
            self._shuffle()
        self._index_in_epoch = batch_size - len(rest_images)
        end = self._index_in_epoch
        return (np.concatenate([rest_images, self._images[:end]]),
                np.concatenate([rest_labels, self._labels[:end]]))


def read_data_sets(train_dir: str, fake_data: bool = False, one_hot: bool = False,
                   validation_size: int = 5000, **unused) -> Datasets:
    """The three splits, as TF1's reader made them from the four IDX files in `train_dir`."""
    del fake_data, unused
    arrays = {key: read_idx(_find_idx_file(train_dir, stem)) for key, stem in IDX_FILES.items()}
    labels = {key: (np.eye(10, dtype=np.float64)[arrays[key]] if one_hot else arrays[key])
              for key in ("train_labels", "test_labels")}
    train_images, train_labels = arrays["train_images"], labels["train_labels"]
    return Datasets(
        train=DataSet(train_images[validation_size:], train_labels[validation_size:]),
        validation=DataSet(train_images[:validation_size], train_labels[:validation_size]),
        test=DataSet(arrays["test_images"], labels["test_labels"]))

