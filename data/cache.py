"""The .npz cache of prepared arrays (decoded dog images, drawn scenes): paths and safe writes."""

import contextlib
import hashlib
import json
import os
import zipfile
import zlib

import numpy as np
from absl import logging

from errors import first_line


def default_cache_dir() -> str:
    """$XDG_CACHE_HOME/multiple-tasks, or ~/.cache/multiple-tasks."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "multiple-tasks")


def cache_path(cache_dir: str | None, prefix: str, key: dict) -> str:
    """The cache file for arrays made from `key` (a JSON-able description of their making)."""
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:20]
    return os.path.join(cache_dir or default_cache_dir(), f"{prefix}-{digest}.npz")


def read_npz(path: str, names: tuple[str, ...]) -> dict[str, np.ndarray] | None:
    """The named arrays of a cache file, or None if it is missing or damaged (cut short,
    overwritten, an array missing): a damaged file is removed, with a warning, so that the
    data is prepared again and the cache rebuilt."""
    try:
        with np.load(path, allow_pickle=False) as f:
            return {name: f[name] for name in names}
    except FileNotFoundError:
        return None
    except (OSError, KeyError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as e:
        logging.warning("the cache %s is damaged (%s); preparing the data again", path,
                        first_line(e))
        with contextlib.suppress(OSError):
            os.remove(path)
        return None


def write_npz_atomic(path: str, arrays: dict[str, np.ndarray]) -> bool:
    """Writes the arrays beside `path` and renames the file into place, so a reader never
    sees half a cache; on failure removes what it wrote, warns (the next run prepares the
    data again) and returns False."""
    temporary = f"{path}.{os.getpid()}.tmp.npz"
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        np.savez(temporary, **arrays)
        os.replace(temporary, path)
    except OSError as e:
        logging.warning("could not write the cache %s (%s); the next run prepares the data "
                        "again", path, e.strerror or e)
        return False
    finally:
        with contextlib.suppress(OSError):
            os.remove(temporary)  # Left only if the write or the rename failed.
    return True
