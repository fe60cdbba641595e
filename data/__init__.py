"""Dataset loaders: MNIST (checked IDX files, bundled, --data-dir or tfds), dogs, shapes."""

from data.dogs import DogArrays, load_dogs
from data.idx import read_idx
from data.mnist_loader import BUNDLED_MNIST_DIR, MnistArrays, load_mnist
from data.shapes import ShapesArrays, load_shapes

__all__ = ["BUNDLED_MNIST_DIR", "DogArrays", "MnistArrays", "ShapesArrays", "load_dogs",
           "load_mnist", "load_shapes", "read_idx"]
