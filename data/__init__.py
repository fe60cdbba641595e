"""Dataset loaders: MNIST (checked IDX files, bundled or --data-dir, or tfds) and dog breeds."""

from data.dogs import DogArrays, load_dogs
from data.idx import read_idx
from data.mnist_loader import BUNDLED_MNIST_DIR, MnistArrays, load_mnist

__all__ = ["BUNDLED_MNIST_DIR", "DogArrays", "MnistArrays", "load_dogs", "load_mnist", "read_idx"]
