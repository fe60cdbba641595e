"""Dataset loaders: checked MNIST IDX files (bundled or --data-dir) and tensorflow-datasets."""

from data.idx import read_idx
from data.mnist_loader import BUNDLED_MNIST_DIR, MnistArrays, load_mnist

__all__ = ["BUNDLED_MNIST_DIR", "MnistArrays", "load_mnist", "read_idx"]
