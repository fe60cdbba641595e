"""Turns of square-pixel images as PIL's Image.rotate makes them, as index maps; TF-free.

A turn by some degrees counter-clockwise about the image centre, with PIL's default
resampling: each output pixel takes the nearest source pixel of the inverse turn, or
zero where that falls outside the image. Rotated MNIST was made so (Lopez-Paz and
Ranzato with PIL; Mammoth with torchvision's rotate, which calls PIL's on its images).
"""

import numpy as np


def rotation_sources(degrees, height: int = 28, width: int = 28) -> np.ndarray:
    """The flat source index of every output pixel of a turn by `degrees` (a number, or an
    array of N angles): shape [height * width], or [N, height * width]; the index
    height * width stands for a zero pixel outside the image."""
    radians = np.deg2rad(np.asarray(degrees, np.float64))[..., None, None]
    cos, sin = np.round(np.cos(radians), 15), np.round(np.sin(radians), 15)  # As PIL rounds.
    # Pixel centres relative to the image centre, then the source point of each.
    y, x = np.mgrid[0:height, 0:width] + 0.5
    dy, dx = y - height / 2, x - width / 2
    source_x = np.floor(width / 2 + cos * dx - sin * dy).astype(np.int64)
    source_y = np.floor(height / 2 + sin * dx + cos * dy).astype(np.int64)
    inside = (source_x >= 0) & (source_x < width) & (source_y >= 0) & (source_y < height)
    source = np.where(inside, source_y * width + source_x, height * width)
    return source.reshape(*source.shape[:-2], height * width)


def rotate_images(images: np.ndarray, degrees: np.ndarray, chunk: int = 2048) -> np.ndarray:
    """Each of `images` ([N, H, W], any dtype) turned by its own angle (`degrees`, [N]), as
    a new array; in chunks of `chunk` images, so that the index maps stay small."""
    count, height, width = images.shape
    degrees = np.broadcast_to(np.asarray(degrees, np.float64), (count,))
    turned = np.empty_like(images)
    for start in range(0, count, chunk):
        part = images[start:start + chunk].reshape(-1, height * width)
        padded = np.concatenate([part, np.zeros_like(part[:, :1])], axis=1)
        sources = rotation_sources(degrees[start:start + chunk], height, width)
        turned[start:start + chunk] = np.take_along_axis(padded, sources, axis=1).reshape(
            -1, height, width)
    return turned


def drawn_angle(rng: np.random.Generator, low: float = 0.0, high: float = 180.0) -> float:
    """An angle in degrees drawn uniformly in [low, high) from `rng`: a rotrand task's turn,
    drawn from its own generator (the run seed and the task's name)."""
    return float(rng.uniform(low, high))
