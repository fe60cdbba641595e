"""Dog image layouts on disk, read into {breed: [image paths]}, and a checked image decoder."""

import contextlib
import csv
import os
import sys

import numpy as np

from errors import UserError
from runtime import native_logs_wanted

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png")
_LAYOUT_HELP = ("give a Kaggle dog-breed-identification folder (labels.csv with id,breed "
                "and train/<id>.jpg) or one folder of images per breed (<dir>/<breed>/*.jpg)")


def detect_layout(root: str) -> str:
    """'kaggle' if root holds labels.csv, 'folder' if it holds subfolders; else an error."""
    if not os.path.isdir(root):
        raise UserError(f"--data-dog-dir {root} is not a directory; {_LAYOUT_HELP}")
    if os.path.isfile(os.path.join(root, "labels.csv")):
        return "kaggle"
    if any(entry.is_dir() for entry in _entries(root)):
        return "folder"
    raise UserError(f"--data-dog-dir {root} holds neither labels.csv nor breed folders; "
                    f"{_LAYOUT_HELP}")


def list_kaggle(root: str) -> dict[str, list[str]]:
    """Kaggle's layout: labels.csv (`id,breed`) naming images train/<id>.jpg."""
    path = os.path.join(root, "labels.csv")
    try:
        with open(path, newline="") as f:
            rows = list(csv.DictReader(f))
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise UserError(f"cannot read {path} ({e}); {_LAYOUT_HELP}") from None
    if not rows or not {"id", "breed"} <= set(rows[0]):
        raise UserError(f"{path} needs a header `id,breed` and one row per image; "
                        f"{_LAYOUT_HELP}")
    breeds: dict[str, list[str]] = {}
    for line, row in enumerate(rows, start=2):
        if not row["id"] or not row["breed"]:
            raise UserError(f"{path} line {line} has no {'breed' if row['id'] else 'id'}; "
                            "give every row an id and a breed, or remove the row")
        breeds.setdefault(row["breed"], []).append(
            os.path.join(root, "train", f"{row['id']}.jpg"))
    return breeds


def list_folder(root: str) -> dict[str, list[str]]:
    """One folder per breed, holding .jpg, .jpeg or .png images (case ignored)."""
    breeds = {}
    for entry in sorted(_entries(root), key=lambda e: e.name):
        if entry.is_dir() and not entry.name.startswith("."):
            breeds[entry.name] = sorted(
                image.path for image in _entries(entry.path)
                if image.name.lower().endswith(IMAGE_EXTENSIONS))
    return breeds


def _entries(folder: str) -> list[os.DirEntry]:
    """The entries of a folder of the dog data, or an error naming the folder."""
    try:
        with os.scandir(folder) as entries:
            return list(entries)
    except OSError as e:
        raise UserError(f"cannot read the folder {folder} of --data-dog-dir ({e.strerror}); "
                        "make it readable or move it out of the dog data") from None


def list_images(root: str) -> tuple[str, dict[str, list[str]]]:
    """The layout's name and its {breed: [paths]}."""
    layout = detect_layout(root)
    return layout, (list_kaggle if layout == "kaggle" else list_folder)(root)


# How a dog image becomes the network's pixels (--dog-decode): 'opencv', as the original's
# cv2.imread and cv2.resize: channels in BGR order, a bilinear resize without antialiasing
# (half-pixel centres, OpenCV's INTER_LINEAR); 'antialiased': RGB order, an antialiased
# bilinear resize (this tool's reading until 2026-12).
DECODINGS = ("opencv", "antialiased")


def decode_resized(contents: bytes, size: int, decoding: str = "opencv") -> np.ndarray | None:
    """JPEG or PNG bytes -> uint8 [size, size, 3] as `decoding` says (aspect ratio not kept,
    as the original); None if the bytes are not a readable image."""
    import tensorflow as tf  # Here, so that listing images and checking a config stay TF-free.

    try:
        with _native_lines_dropped():
            image = tf.io.decode_image(contents, channels=3, expand_animations=False)
    except (tf.errors.InvalidArgumentError, ValueError):
        return None
    if image.shape[0] == 0 or image.shape[1] == 0:
        return None
    antialiased = decoding == "antialiased"
    resized = tf.image.resize(tf.cast(image, tf.float32), (size, size), antialias=antialiased)
    pixels = tf.cast(tf.clip_by_value(tf.round(resized), 0, 255), tf.uint8).numpy()
    return pixels if antialiased else pixels[..., ::-1]


@contextlib.contextmanager
def _native_lines_dropped():
    """Keeps out of stderr the lines TensorFlow's native decoder prints for a damaged image
    ("Premature end of JPEG data", one an image): the images that do not decode are
    counted and reported in one line. TF_CPP_MIN_LOG_LEVEL=0 or 1 shows them."""
    if native_logs_wanted():
        yield
        return
    sys.stderr.flush()
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def read_image(path: str, size: int, decoding: str = "opencv") -> np.ndarray | None:
    """An image file decoded and resized, or None if it is missing or unreadable."""
    try:
        with open(path, "rb") as f:
            contents = f.read()
    except OSError:
        return None
    return decode_resized(contents, size, decoding)
