"""Small dog-image fixtures written by the tests: Kaggle layout and one folder per breed."""

import csv
import os

import numpy as np
import tensorflow as tf

BREEDS = ("beagle", "borzoi", "chihuahua")


def image_bytes(seed: int, fmt: str = "jpg", shape=(40, 30)) -> bytes:
    """A small random RGB image, encoded as JPEG or PNG."""
    rng = np.random.default_rng(seed)
    pixels = tf.constant(rng.integers(0, 256, (*shape, 3), dtype=np.uint8))
    encoded = tf.io.encode_png(pixels) if fmt == "png" else tf.io.encode_jpeg(pixels)
    return encoded.numpy()


def write_folder_layout(root, breeds=BREEDS, per_breed=6) -> str:
    """root/<breed>/<n>.jpg (the last of each breed a PNG)."""
    for b, breed in enumerate(breeds):
        os.makedirs(os.path.join(root, breed), exist_ok=True)
        for n in range(per_breed):
            fmt = "png" if n == per_breed - 1 else "jpg"
            with open(os.path.join(root, breed, f"{n}.{fmt}"), "wb") as f:
                f.write(image_bytes(100 * b + n, fmt))
    return str(root)


def write_kaggle_layout(root, breeds=BREEDS, per_breed=6) -> str:
    """root/labels.csv (id,breed) and root/train/<id>.jpg, as Kaggle's dog-breed-identification."""
    os.makedirs(os.path.join(root, "train"), exist_ok=True)
    with open(os.path.join(root, "labels.csv"), "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["id", "breed"])
        for b, breed in enumerate(breeds):
            for n in range(per_breed):
                image_id = f"{breed[:3]}{n:04d}"
                writer.writerow([image_id, breed])
                with open(os.path.join(root, "train", f"{image_id}.jpg"), "wb") as g:
                    g.write(image_bytes(100 * b + n))
    return str(root)
