"""Procedural 2-D scenes for the ten-task study: 4 or 5 objects of a shape, colour and texture.

The paper ("Scaling Characteristics of Sequential Multitask Learning", 2019)
rendered CLEVR scenes; we draw flat scenes instead. Every object takes one of
ten values in each of three dimensions, drawn uniformly and independently, so
feature counts are balanced in expectation. Objects sit in distinct cells of a
grid (with a random offset inside the cell), so they never overlap and every one
of them is visible. Scenes depend only on the seed and the sizes, and are cached
as .npz.
"""

import dataclasses

import numpy as np
from absl import logging

from data.cache import cache_path, read_npz, write_npz_atomic

DIMENSIONS = ("shape", "colour", "texture")
FEATURES = {
    "shape": ("circle", "square", "triangle", "diamond", "plus", "ring", "cross", "halfdisc",
              "bowtie", "frame"),
    "colour": ("red", "orange", "yellow", "green", "cyan", "blue", "purple", "pink", "white",
               "brown"),
    "texture": ("solid", "hstripes", "vstripes", "diagonal", "antidiagonal", "checks", "dots",
                "grid", "rings", "speckle"),
}
RGB = np.array([(1.0, 0.1, 0.1), (1.0, 0.55, 0.0), (1.0, 1.0, 0.1), (0.1, 0.8, 0.1),
                (0.0, 0.9, 0.9), (0.15, 0.3, 1.0), (0.55, 0.1, 0.9), (1.0, 0.5, 0.75),
                (1.0, 1.0, 1.0), (0.6, 0.35, 0.1)])
MIN_OBJECTS, MAX_OBJECTS = 4, 5
GRID_ROWS = 3  # Cells per column; a wide image gets proportionally more columns.
DIM_SHADE = 0.4  # Brightness of a texture's "off" pixels, relative to the object's colour.
GENERATOR_VERSION = 1  # Bump when drawing changes, so old caches are not reused.

# The CPU-sized default and the paper's sizes (160x120 scenes, 45,000 + 5,000).
SIZES = {
    "cpu": {"height": 48, "width": 48, "train": 10000, "test": 1000},
    "paper": {"height": 120, "width": 160, "train": 45000, "test": 5000},
}


@dataclasses.dataclass(frozen=True)
class ShapesArrays:
    """Scenes as uint8 RGB [N, H, W, 3]; objects int8 [N, 5, 3], feature index per dimension
    of each object (-1 in every dimension for a missing fifth object)."""

    train_images: np.ndarray
    train_objects: np.ndarray
    test_images: np.ndarray
    test_objects: np.ndarray
    seed: int
    cache_file: str | None = None
    cache_hit: bool = False

    def labels(self, split: str, dimension: str, feature: str) -> np.ndarray:
        """1 where a scene of the split holds an object with the feature, else 0 (int32)."""
        objects = self.train_objects if split == "train" else self.test_objects
        column = objects[:, :, DIMENSIONS.index(dimension)]
        return np.any(column == FEATURES[dimension].index(feature), axis=1).astype(np.int32)

    def describe(self) -> dict:
        """What config.json records about the scenes of a run."""
        return {"image_size": list(self.train_images.shape[1:3]),
                "train_examples": len(self.train_images), "test_examples": len(self.test_images),
                "seed": self.seed, "generator_version": GENERATOR_VERSION,
                "cache_file": self.cache_file}


def _disc_coordinates(size: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel centres of a size x size patch in [-1, 1], v growing downwards."""
    axis = (np.arange(size) + 0.5) / size * 2 - 1
    return np.meshgrid(axis, axis)


def shape_masks(size: int) -> np.ndarray:
    """The ten shapes as boolean masks [10, size, size], in FEATURES['shape'] order."""
    u, v = _disc_coordinates(size)
    r = np.hypot(u, v)
    a, b = np.abs(u), np.abs(v)
    masks = [
        r < 0.95,
        (a < 0.8) & (b < 0.8),
        (v < 0.85) & (a < (v + 0.95) * 0.5),
        a + b < 0.98,
        ((a < 0.3) | (b < 0.3)) & (a < 0.95) & (b < 0.95),
        (r < 0.95) & (r > 0.5),
        ((np.abs(u - v) < 0.4) | (np.abs(u + v) < 0.4)) & (r < 1.15),
        (r < 0.95) & (v > -0.1),
        (a >= b * 0.9) & (a < 0.9),
        (a < 0.9) & (b < 0.9) & ((a > 0.5) | (b > 0.5)),
    ]
    return np.stack(masks)


def texture_patterns(size: int) -> np.ndarray:
    """The ten textures as {0, 1} patterns [10, size, size], in FEATURES['texture'] order."""
    period = max(3, size // 4)
    half = period / 2
    y, x = np.mgrid[0:size, 0:size]
    u, v = _disc_coordinates(size)
    ring = np.hypot(u, v) * size / 2
    speckle = np.random.default_rng(12345).random((size, size)) < 0.5
    patterns = [
        np.ones((size, size), bool),
        y % period < half,
        x % period < half,
        (x + y) % period < half,
        (x - y) % period < half,
        ((x // half).astype(int) + (y // half).astype(int)) % 2 == 0,
        (np.abs(x % period - half) < period / 3) & (np.abs(y % period - half) < period / 3),
        (x % period < 1) | (y % period < 1),
        ring % period < half,
        speckle,
    ]
    return np.stack(patterns).astype(np.float32)


def _layout(height: int, width: int) -> tuple[int, int, int]:
    """Grid rows, grid columns and the object size in pixels."""
    columns = max(2, round(GRID_ROWS * width / height))
    cell = min(height // GRID_ROWS, width // columns)
    return GRID_ROWS, columns, max(5, int(cell * 0.85))


def generate(count: int, height: int, width: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """`count` scenes: (uint8 images [count, H, W, 3], int8 objects [count, 5, 3])."""
    rows, columns, size = _layout(height, width)
    if rows * columns < MAX_OBJECTS:
        raise ValueError(f"a {height}x{width} scene has no room for {MAX_OBJECTS} objects")
    cell_h, cell_w = height // rows, width // columns
    # Every (shape, colour, texture) patch, drawn once: [10, 10, 10, size, size, 3].
    masks, patterns = shape_masks(size), texture_patterns(size)
    shade = DIM_SHADE + (1 - DIM_SHADE) * patterns
    patches = (masks[:, None, None, :, :, None] * RGB[None, :, None, None, None, :]
               * shade[None, None, :, :, :, None])
    patches = np.round(patches * 255).astype(np.uint8)

    rng = np.random.default_rng(seed)
    counts = rng.integers(MIN_OBJECTS, MAX_OBJECTS + 1, size=count)
    features = rng.integers(0, 10, size=(count, MAX_OBJECTS, 3))
    cells = np.argsort(rng.random((count, rows * columns)), axis=1)[:, :MAX_OBJECTS]
    offsets_y = rng.integers(0, cell_h - size + 1, size=(count, MAX_OBJECTS))
    offsets_x = rng.integers(0, cell_w - size + 1, size=(count, MAX_OBJECTS))
    images = np.zeros((count, height, width, 3), np.uint8)
    objects = np.full((count, MAX_OBJECTS, 3), -1, np.int8)
    for n in range(count):
        for k in range(counts[n]):
            shape, colour, texture = features[n, k]
            top = cells[n, k] // columns * cell_h + offsets_y[n, k]
            left = cells[n, k] % columns * cell_w + offsets_x[n, k]
            images[n, top:top + size, left:left + size] = patches[shape, colour, texture]
            objects[n, k] = features[n, k]
    return images, objects


def scenes_memory_floor(count: int, height: int, width: int) -> int:
    """Bytes that `count` scenes take at the least while a run holds them: their uint8
    images twice (drawn as numpy arrays, then copied into the tasks' tensors), so that too
    many scenes are refused before they are drawn."""
    return 2 * count * height * width * 3


def load_shapes(*, height: int, width: int, train: int, test: int, seed: int = 0,
                cache_dir: str | None = None) -> ShapesArrays:
    """Train and held-out scenes (from seeds derived from `seed`), cached as .npz."""
    key = {"height": height, "width": width, "train": train, "test": test, "seed": seed,
           "version": GENERATOR_VERSION}
    path = cache_path(cache_dir, "shapes", key)
    cached = read_npz(path, ("train_images", "train_objects", "test_images", "test_objects"))
    if cached is not None:
        return ShapesArrays(**cached, seed=seed, cache_file=path, cache_hit=True)
    logging.info("drawing %d + %d shapes scenes of %dx%d (cached for later runs)",
                 train, test, height, width)
    train_images, train_objects = generate(train, height, width, seed * 2)
    test_images, test_objects = generate(test, height, width, seed * 2 + 1)
    shapes = ShapesArrays(train_images, train_objects, test_images, test_objects, seed)
    written = write_npz_atomic(path, dict(train_images=train_images, train_objects=train_objects,
                                          test_images=test_images, test_objects=test_objects))
    return dataclasses.replace(shapes, cache_file=path) if written else shapes
