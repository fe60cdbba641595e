"""Seeds derived from a run's seed, one for each purpose; TensorFlow-free, so that listing
or planning experiments does not import it."""

import zlib

import numpy as np


def derive_seed(run_seed: int, *names: str) -> int:
    """A stable 31-bit seed for one purpose of one run (names such as 'id', 'train')."""
    keys = [run_seed] + [zlib.crc32(name.encode()) for name in names]
    return int(np.random.SeedSequence(keys).generate_state(1)[0] >> 1)
