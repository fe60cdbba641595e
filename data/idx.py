"""A checked reader for the IDX format of the MNIST files, gzipped or not."""

import gzip
import os
import struct
import zlib

import numpy as np

from errors import UserError

# The third byte of an IDX magic number names the element type.
_IDX_DTYPES = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_GZIP_MAGIC = b"\x1f\x8b"


def _read_bytes(path: str) -> bytes:
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as e:
        raise UserError(f"cannot read IDX file {path}: {e.strerror}") from None
    if raw[:2] != _GZIP_MAGIC:
        return raw
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as e:
        raise UserError(
            f"{path} is a damaged gzip file ({e}); replace it with a fresh copy"
        ) from None


def read_idx(path: str, expect_ndim: int | None = None,
             expect_dtype: np.dtype | None = None) -> np.ndarray:
    """Reads an IDX file into a numpy array, checking its header against its size.

    Args:
      path: the file, gzipped (detected by content, not by name) or raw.
      expect_ndim: if given, the number of dimensions the file must declare
        (3 for MNIST images, 1 for labels).
      expect_dtype: if given, the element type the file must declare (uint8 for
        MNIST: a float file read as pixels would train at chance without a word).

    Raises:
      UserError: the file is missing, empty, truncated, too long, not IDX, or not of
        the expected dimensions or element type.
    """
    raw = _read_bytes(path)
    fix = "replace it with the original MNIST file"
    name = os.path.basename(path)
    if len(raw) < 4:
        raise UserError(f"{name} is empty or too short to be an IDX file; {fix}")
    zero1, zero2, type_code, ndim = struct.unpack(">BBBB", raw[:4])
    if zero1 or zero2 or type_code not in _IDX_DTYPES or ndim == 0:
        raise UserError(f"{name} has no IDX magic number (got {raw[:4].hex()}); {fix}")
    if expect_ndim is not None and ndim != expect_ndim:
        raise UserError(
            f"{name} declares {ndim} dimensions where {expect_ndim} were expected; {fix}"
        )
    dtype = _IDX_DTYPES[type_code]
    if expect_dtype is not None and dtype != np.dtype(expect_dtype).newbyteorder(">"):
        raise UserError(f"{name} holds {dtype.name} values (IDX type 0x{type_code:02X}) where "
                        f"{np.dtype(expect_dtype).name} were expected; {fix}")
    header_size = 4 + 4 * ndim
    if len(raw) < header_size:
        raise UserError(f"{name} is truncated inside its header; {fix}")
    shape = struct.unpack(f">{ndim}I", raw[4:header_size])
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    actual = len(raw) - header_size
    if actual != expected:
        problem = "truncated" if actual < expected else "longer than its header says"
        raise UserError(
            f"{name} is {problem}: header {shape} needs {expected} bytes of data, "
            f"found {actual}; {fix}"
        )
    data = np.frombuffer(raw, dtype=dtype, offset=header_size).reshape(shape)
    return data.astype(dtype.newbyteorder("="), copy=False)
