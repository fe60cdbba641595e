"""Dataset loaders: MNIST (checked IDX files, bundled, --data-dir or tfds), dogs, shapes.

Each name is imported from its module on first use, so that importing one module
of the package (data.shapes' dimensions, say, when experiments are listed) does
not import TensorFlow, which the dog loader needs."""

import importlib

_HOMES = {
    "BUNDLED_MNIST_DIR": "data.mnist_loader", "MnistArrays": "data.mnist_loader",
    "load_mnist": "data.mnist_loader", "DogArrays": "data.dogs", "load_dogs": "data.dogs",
    "ShapesArrays": "data.shapes", "load_shapes": "data.shapes", "read_idx": "data.idx",
}
__all__ = sorted(_HOMES)


def __getattr__(name: str):
    if name not in _HOMES:
        raise AttributeError(f"module 'data' has no attribute {name!r}")
    return getattr(importlib.import_module(_HOMES[name]), name)
