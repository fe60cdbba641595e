"""MNIST-360 (Buzzega et al. 2020), the DER paper's task-free stream, as Mammoth's code makes
it: which training images come, in which order and batches, turned by which angle, and the
turned test set. TF-free; tasks.build turns the images and makes the task.

The stream (Mammoth's datasets/mnist_360.py, the form the paper ran; docs/der-mnist.md):
  - the digits 0-8 (9 is never shown), each one's training images in file order cut
    into 6 chunks of len // 6 + 1 (the last one shorter);
  - pairs of digits (0 1), (1 2), ..., (7 8), (8 0), three rounds: 27 pairs, each digit
    in two pairs a round, each time with its next chunk (the last chunk first);
  - every batch draws from the pair's two chunks in proportion to what each has left
    (round(left_a / (left_a + left_b) * batch) from the first, the rest from the second,
    each capped by what is left), each example drawn uniformly, with replacement, from
    its chunk; the pair ends (the other chunk's rest unused) when either chunk is spent;
  - digit j's n-th image of the whole stream is turned by (n * 360 / N_j + (j - 1) * 60)
    mod 360 degrees, N_j its training images: each digit turns once round over the run.
The test set: every test image of 0-8, digit j's in a random order, its k-th turned by
k * 360 / T_j degrees (T_j its test images); accuracy is pooled over them all.
"""

import dataclasses

import numpy as np

from errors import UserError

DIGITS = 9  # 0 .. 8: Mammoth's N_CLASSES = 9.
ROUNDS = 3
CHUNKS = 2 * ROUNDS  # A digit comes twice a round: first of one pair, second of the next.
START_STEP_DEGREES = 60  # Digit j starts turned by (j - 1) * 60 degrees.


@dataclasses.dataclass(frozen=True)
class Stream:
    """The training stream: source rows, their labels and angles in stream order, and the
    sizes of its batches in order (summing to the rows')."""

    rows: np.ndarray
    labels: np.ndarray
    degrees: np.ndarray
    batch_sizes: np.ndarray


def pairs() -> list[tuple[int, int]]:
    """The stream's pairs of digits, in order: (0 1), (1 2), ..., (8 0), three rounds."""
    return [(j, (j + 1) % DIGITS) for _ in range(ROUNDS) for j in range(DIGITS)]


def _chunks(rows: np.ndarray) -> list[np.ndarray]:
    """A digit's rows cut as Mammoth cuts them: CHUNKS slices of len // CHUNKS + 1."""
    size = len(rows) // CHUNKS + 1
    return [rows[k * size:(k + 1) * size] for k in range(CHUNKS)]


def _digit_rows(labels: np.ndarray, split: str) -> list[np.ndarray]:
    rows = [np.flatnonzero(labels == digit) for digit in range(DIGITS)]
    missing = [str(digit) for digit, found in enumerate(rows) if not len(found)]
    if missing:
        raise UserError(f"mnist-360 needs {split} images of every digit 0-8; the MNIST given "
                        f"has none of {', '.join(missing)}: use a complete copy")
    return rows


def _batch_split(left: list[int], batch: int) -> tuple[int, int]:
    """How many of a batch each of the pair's chunks gives, as Mammoth's get_train_data."""
    first = min(int(round(left[0] / (left[0] + left[1]) * batch)), left[0])
    return first, min(batch - first, left[1])


def training_stream(labels: np.ndarray, batch: int, rng: np.random.Generator) -> Stream:
    """The stream over training images labelled `labels`, in batches of at most `batch`;
    `rng` draws the examples."""
    by_digit = _digit_rows(labels, "training")
    chunks = [_chunks(rows) for rows in by_digit]
    shown = [0] * DIGITS  # Each digit's images drawn so far: its turn's counter.
    rows, degrees, sizes = [], [], []
    for pair in pairs():
        active = [chunks[digit].pop() for digit in pair]
        left = [len(chunk) for chunk in active]
        while sum(left):  # Both empty: only in tiny data, where Mammoth would divide by 0.
            counts = _batch_split(left, batch)
            for i, (digit, count) in enumerate(zip(pair, counts)):
                rows.append(active[i][rng.integers(len(active[i]), size=count)])
                turns = (shown[digit] + np.arange(count)) * 360.0 / len(by_digit[digit])
                degrees.append((turns + (digit - 1) * START_STEP_DEGREES) % 360)
                shown[digit] += count
                left[i] -= count
            sizes.append(sum(counts))
            if min(left) <= 0:
                break
    rows = np.concatenate(rows).astype(np.int64)
    return Stream(rows, labels[rows].astype(np.int32), np.concatenate(degrees),
                  np.array(sizes, np.int64))


def test_set(labels: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(rows, degrees) of the test set: every test image of 0-8, digit by digit, each
    digit's in an order `rng` draws, its k-th turned by k * 360 / (its images)."""
    by_digit = _digit_rows(labels, "test")
    rows = [rng.permutation(found) for found in by_digit]
    degrees = [np.arange(len(found)) * 360.0 / len(found) for found in by_digit]
    return np.concatenate(rows).astype(np.int64), np.concatenate(degrees)
