"""Ten dog breeds as uint8 arrays with a stratified split: from tfds, Kaggle or a folder, cached.

Three sources, one loader each: tensorflow-datasets `stanford_dogs`, the
original's Kaggle dog-breed-identification layout, and one folder per breed.
The breeds are the first ten by name unless the user names others, so every run
on the same data gets the same ten (the original took ten from an unordered
set). Images are decoded and resized as --dog-decode says (by default as the
original's OpenCV: BGR, no antialiasing). Decoded, resized arrays are cached as
.npz, keyed by the source, the files, the breeds, the size, the decoding and the
split, so a second run starts in seconds.
"""

import dataclasses
import os
from typing import Callable, Iterable, Sequence

import numpy as np
from absl import logging

from data.cache import cache_path, default_cache_dir, read_npz, write_npz_atomic
from data.image_folders import DECODINGS, decode_resized, list_images, read_image
from errors import UserError, first_line

NUM_BREEDS = 10
MIN_IMAGES_PER_BREED = 5
SPLIT_SEED = 0  # The split is part of the data set: every run seed shares one test set.
SOURCES = ("dir", "tfds")
_CACHE_FORMAT = 2  # 2: the key names the decoding (--dog-decode).
NO_DOG_DATA = (
    "the dog task needs dog images: give --data-dog-dir DIR holding Kaggle's "
    "dog-breed-identification layout (labels.csv and train/<id>.jpg) or one folder per "
    "breed (DIR/<breed>/*.jpg), or --dog-source tfds for tensorflow-datasets' "
    "stanford_dogs (downloads when online; --tfds-dir for a prepared copy)")


@dataclasses.dataclass(frozen=True)
class DogArrays:
    """Dog images, uint8 [N, size, size, 3] (BGR or RGB: the decoding's order); labels int32
    index into `breeds`."""

    train_images: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray
    breeds: tuple[str, ...]
    skipped: int = 0
    cache_file: str | None = None
    cache_hit: bool = False

    def describe(self) -> dict:
        """What config.json records about the dog data of a run."""
        return {"breeds": list(self.breeds), "train_examples": len(self.train_labels),
                "test_examples": len(self.test_labels), "skipped_images": self.skipped,
                "cache_file": self.cache_file}


def choose_breeds(available: Iterable[str], requested: Sequence[str] | None) -> tuple[str, ...]:
    """The requested breeds (checked), or the first ten available by name."""
    available = sorted(set(available))
    if not requested:
        if len(available) < 2:
            raise UserError(f"the dog data has {len(available)} breed(s); at least 2 are needed")
        return tuple(available[:NUM_BREEDS])
    unknown = [breed for breed in requested if breed not in available]
    if unknown:
        shown = ", ".join(available[:12]) + (", ..." if len(available) > 12 else "")
        raise UserError(f"--dog-breeds names {', '.join(unknown)}, not in the dog data; "
                        f"known: {shown}")
    if not 2 <= len(set(requested)) == len(requested) <= NUM_BREEDS:
        raise UserError(f"--dog-breeds needs 2 to {NUM_BREEDS} different breeds, "
                        f"got {len(requested)}")
    return tuple(requested)


def stratified_split(labels: np.ndarray, test_fraction: float,
                     seed: int = SPLIT_SEED) -> tuple[np.ndarray, np.ndarray]:
    """Indices (train, test): test_fraction of each class, at least one, chosen by seed."""
    rng = np.random.default_rng(seed)
    train, test = [], []
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        n_test = min(max(1, round(len(members) * test_fraction)), len(members) - 1)
        test.append(members[:n_test])
        train.append(members[n_test:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(test))


def _assemble(breeds: tuple[str, ...], decoded: Iterable[tuple[int, np.ndarray | None]],
              size: int, test_fraction: float) -> DogArrays:
    images, labels, skipped = [], [], 0
    for label, image in decoded:
        if image is None:
            skipped += 1
        else:
            images.append(image)
            labels.append(label)
    labels = np.asarray(labels, np.int32)
    counts = np.bincount(labels, minlength=len(breeds))
    for breed, count in zip(breeds, counts):
        if count < MIN_IMAGES_PER_BREED:
            raise UserError(f"dog breed {breed!r} has {count} readable images, fewer than the "
                            f"{MIN_IMAGES_PER_BREED} needed; add images or pick other breeds "
                            "with --dog-breeds")
    if skipped:
        logging.warning("skipped %d unreadable dog image(s)", skipped)
    images = np.stack(images) if images else np.zeros((0, size, size, 3), np.uint8)
    train, test = stratified_split(labels, test_fraction)
    return DogArrays(images[train], labels[train], images[test], labels[test], breeds, skipped)


def _cached_or_decoded(cache_dir: str, source: dict, breeds: tuple[str, ...], size: int,
                       test_fraction: float, decoding: str,
                       decode: Callable[[], Iterable[tuple[int, np.ndarray | None]]]) -> DogArrays:
    """The dogs of `source` from the cache, or `decode`d, split and cached for later runs."""
    key = {"format": _CACHE_FORMAT, **source, "breeds": breeds, "size": size,
           "decoding": decoding, "test_fraction": test_fraction, "split_seed": SPLIT_SEED}
    cache_file = cache_path(cache_dir, "dogs", key)
    cached = _read_cache(cache_file)
    if cached is not None:
        return cached
    return _write_cache(cache_file, _assemble(breeds, decode(), size, test_fraction))


def _read_cache(path: str) -> DogArrays | None:
    f = read_npz(path, ("train_images", "train_labels", "test_images", "test_labels", "breeds",
                        "skipped"))
    if f is None:
        return None  # Missing or damaged: rebuild it.
    return DogArrays(f["train_images"], f["train_labels"], f["test_images"], f["test_labels"],
                     tuple(str(b) for b in f["breeds"]), int(f["skipped"]), cache_file=path,
                     cache_hit=True)


def _write_cache(path: str, dogs: DogArrays) -> DogArrays:
    written = write_npz_atomic(path, dict(
        train_images=dogs.train_images, train_labels=dogs.train_labels,
        test_images=dogs.test_images, test_labels=dogs.test_labels,
        breeds=np.asarray(dogs.breeds), skipped=np.asarray(dogs.skipped)))
    return dataclasses.replace(dogs, cache_file=path) if written else dogs


def _file_fingerprint(paths: Iterable[str]) -> list:
    fingerprint = []
    for path in paths:
        try:
            stat = os.stat(path)
            fingerprint.append([path, stat.st_size, stat.st_mtime_ns])
        except OSError:
            fingerprint.append([path, -1, -1])
    return fingerprint


def load_dogs_from_dir(root: str, *, breeds: Sequence[str] | None, size: int,
                       test_fraction: float, cache_dir: str, decoding: str) -> DogArrays:
    """The Kaggle layout or an image folder (detected), decoded once and then cached."""
    layout, listing = list_images(root)
    chosen = choose_breeds(listing, breeds)
    paths = [(label, path) for label, breed in enumerate(chosen) for path in listing[breed]]
    source = {"source": layout, "root": os.path.abspath(root),
              "files": _file_fingerprint(path for _, path in paths)}

    def decode():
        logging.info("decoding %d dog images from %s (cached for later runs)", len(paths), root)
        return ((label, read_image(path, size, decoding)) for label, path in paths)

    return _cached_or_decoded(cache_dir, source, chosen, size, test_fraction, decoding, decode)


def load_dogs_from_tfds(tfds_dir: str | None, *, breeds: Sequence[str] | None, size: int,
                        test_fraction: float, cache_dir: str, decoding: str) -> DogArrays:
    """tensorflow-datasets `stanford_dogs` (train and test pooled, then split as the others)."""
    import tensorflow as tf
    import tensorflow_datasets as tfds  # Slow to import; only this path needs it.

    try:
        dataset, info = tfds.load("stanford_dogs", split="train+test", with_info=True,
                                  data_dir=tfds_dir,
                                  decoders={"image": tfds.decode.SkipDecoding()})
    except ImportError as e:  # The environment lacks a module tfds needs: no download helps.
        raise UserError(f"tensorflow-datasets cannot prepare 'stanford_dogs' here "
                        f"({first_line(e)}); install the project's environment again (pipenv "
                        "sync), or give --data-dog-dir") from None
    except Exception as e:  # tfds raises many types: network, missing files, checksums.
        raise UserError(f"tensorflow-datasets could not load 'stanford_dogs' ({first_line(e)}); "
                        "go online once, point --tfds-dir at a prepared tfds data directory, "
                        "or give --data-dog-dir") from None
    names = info.features["label"].names
    chosen = choose_breeds(names, breeds)
    source = {"source": "tfds", "version": str(info.version),
              "data_dir": os.path.abspath(tfds_dir) if tfds_dir else None}

    def decode():
        label_of = {names.index(breed): i for i, breed in enumerate(chosen)}
        wanted = tf.constant(sorted(label_of), tf.int64)
        selected = dataset.filter(lambda ex: tf.reduce_any(tf.equal(ex["label"], wanted)))
        return ((label_of[int(ex["label"])], decode_resized(ex["image"], size, decoding))
                for ex in tfds.as_numpy(selected))

    return _cached_or_decoded(cache_dir, source, chosen, size, test_fraction, decoding, decode)


def load_dogs(source: str = "dir", *, dog_dir: str | None = None,
              breeds: Sequence[str] | None = None, size: int = 28, test_fraction: float = 0.1,
              cache_dir: str | None = None, tfds_dir: str | None = None,
              decoding: str = "opencv") -> DogArrays:
    """Loads the dog task's data from `source`: 'dir' reads `dog_dir`, 'tfds' stanford_dogs;
    `decoding` (DECODINGS) says how an image becomes pixels."""
    if decoding not in DECODINGS:
        raise UserError(f"unknown --dog-decode {decoding!r}; use one of: {', '.join(DECODINGS)}")
    cache_dir = cache_dir or default_cache_dir()
    options = dict(breeds=breeds, size=size, test_fraction=test_fraction, cache_dir=cache_dir,
                   decoding=decoding)
    if source == "tfds":
        return load_dogs_from_tfds(tfds_dir, **options)
    if source != "dir":
        raise UserError(f"unknown --dog-source {source!r}; use one of: {', '.join(SOURCES)}")
    if not dog_dir:
        raise UserError(NO_DOG_DATA)
    return load_dogs_from_dir(dog_dir, **options)
