"""Dataset loaders: MNIST (checked IDX files, bundled, --data-dir or tfds), Fashion-MNIST, dogs,
shapes.

Each name is imported from its module on first use, so that importing one module
of the package (data.shapes' dimensions, say, when experiments are listed) does
not import TensorFlow, which the dog loader needs."""

from lazy import lazy_names

_HOMES = {
    "BUNDLED_MNIST_DIR": "data.mnist_loader", "MnistArrays": "data.mnist_loader",
    "load_mnist": "data.mnist_loader",
    "load_fashion": "data.fashion", "DogArrays": "data.dogs", "load_dogs": "data.dogs",
    "ShapesArrays": "data.shapes", "load_shapes": "data.shapes", "read_idx": "data.idx",
}
__all__ = sorted(_HOMES)
__getattr__ = lazy_names(__name__, _HOMES)
