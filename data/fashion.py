"""Fashion-MNIST as uint8 arrays: from its IDX files (--data-fashion-dir, else Debian's copy) or
tensorflow-datasets. Not bundled: its licence asks for attribution, and it is 30 MB."""

import os

from data.mnist_loader import SOURCES, IdxDataset, MnistArrays, load_idx_dir, load_tfds
from errors import UserError

FASHION = IdxDataset("Fashion-MNIST", "--data-fashion-dir", "--fashion-source", "fashion_mnist")
# Where Debian's package dataset-fashion-mnist installs the four files.
DEBIAN_DIR = "/usr/share/datasets/fashion-mnist"
WHERE = ("tensorflow-datasets' fashion_mnist (--fashion-source tfds), Debian's package "
         f"dataset-fashion-mnist (which installs them in {DEBIAN_DIR}), or data/fashion of "
         "zalandoresearch/fashion-mnist on GitHub")


def fashion_dir(data_dir: str | None) -> str:
    """The folder the IDX files are read from: `data_dir`, else Debian's copy; a UserError
    that says where to get them when there is neither (checked before a sweep starts)."""
    if data_dir is not None:
        return data_dir
    if not os.path.isdir(DEBIAN_DIR):
        raise UserError("the fashion task needs Fashion-MNIST: give --data-fashion-dir, a "
                        f"folder of its four IDX files; get them from {WHERE}")
    return DEBIAN_DIR


def load_fashion(source: str = "idx", data_dir: str | None = None,
                 tfds_dir: str | None = None) -> MnistArrays:
    """Loads all 60,000 training and 10,000 test images of Fashion-MNIST from `source`: 'idx'
    reads `data_dir`, or Debian's copy when none is given; 'tfds' tensorflow-datasets'."""
    if source == "tfds":
        return load_tfds(tfds_dir, FASHION)
    if source != "idx":
        raise UserError(f"unknown Fashion-MNIST source {source!r}; use one of: "
                        f"{', '.join(SOURCES)}")
    return load_idx_dir(fashion_dir(data_dir), FASHION, fix=f"; get them from {WHERE}")
