"""Shared fixtures: small IDX files written by the tests; quiet TensorFlow logs and one XLA
compilation cache for the session; a fresh Python to see what a command imports."""

import atexit
import gzip
import os
import shutil
import struct
import subprocess
import sys
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# One XLA compilation cache for the session and the task.py processes the tests start:
# each fresh process would otherwise compile the model's XLA functions again (~3 s).
_XLA_CACHE = tempfile.mkdtemp(prefix="xla-cache-")
atexit.register(shutil.rmtree, _XLA_CACHE, ignore_errors=True)
os.environ.setdefault("TF_XLA_FLAGS", f"--tf_xla_persistent_cache_directory={_XLA_CACHE}")

import numpy as np  # noqa: E402
import pytest  # noqa: E402


def idx_bytes(array: np.ndarray) -> bytes:
    """The IDX encoding of a uint8 array: magic, dimensions, then the raw bytes."""
    array = np.asarray(array, np.uint8)
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim)
    header += struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.tobytes()


def write_mnist_dir(path, n_train=60, n_test=20, gzipped=True, seed=0):
    """Writes four small MNIST-shaped IDX files into `path`; returns the arrays written."""
    rng = np.random.default_rng(seed)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte": rng.integers(0, 10, n_train, dtype=np.uint8),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": rng.integers(0, 10, n_test, dtype=np.uint8),
    }
    os.makedirs(path, exist_ok=True)
    for name, array in arrays.items():
        data = idx_bytes(array)
        if gzipped:
            with open(os.path.join(path, name + ".gz"), "wb") as f:
                f.write(gzip.compress(data))
        else:
            with open(os.path.join(path, name), "wb") as f:
                f.write(data)
    return arrays


@pytest.fixture
def mnist_dir(tmp_path):
    path = tmp_path / "mnist"
    write_mnist_dir(path)
    return str(path)


REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_python(code: str) -> subprocess.CompletedProcess:
    """`code` run by a fresh Python in the repository: its imports are its own, none of this
    session's (what a command loads is seen in its sys.modules)."""
    return subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                          text=True, timeout=600)
