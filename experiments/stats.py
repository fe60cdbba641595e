"""The statistics the studies share: a measure over seeds, the difference of two with its
standard error, Welch's t, the 90% bootstrap interval of a difference and the margins that
say agreement with it, and least-squares slopes with their standard error or a bootstrap
interval.

Where the report says two things agree, it says so with an interval inside a margin
(equivalence) or above one (near or above): never with a test that merely fails to find a
difference.
"""

import dataclasses
import math
import statistics
import warnings

import numpy as np

# Equivalence within +-MARGIN: the 90% interval of a difference inside it, two one-sided
# tests at 5%. Two points of accuracy: well under a switch's forgetting, above the test
# sets' noise.
MARGIN = 0.02
RESAMPLES = 2000  # Bootstrap resamples of a difference of means.
SLOPE_RESAMPLES = 2000  # Resamples of the replications for a slope's interval.


@dataclasses.dataclass
class Measure:
    """Values over seeds: their mean, standard error and number."""

    values: list[float]

    @property
    def n(self) -> int:
        return len(self.values)

    @property
    def mean(self) -> float:
        return statistics.fmean(self.values)

    @property
    def sd(self) -> float:
        return statistics.stdev(self.values) if self.n > 1 else 0.0

    @property
    def se(self) -> float:
        return self.sd / math.sqrt(self.n)

    def percent(self) -> str:
        """mean ± s.e. (n), in percent."""
        return f"{100 * self.mean:z.2f} ± {100 * self.se:z.2f} (n={self.n})"


def describe(values: np.ndarray) -> dict:
    """Mean, sample sd (0 for one value), range and number of `values`."""
    return {"mean": float(np.mean(values)), "sd": float(np.std(values, ddof=1))
            if len(values) > 1 else 0.0, "min": float(np.min(values)),
            "max": float(np.max(values)), "n": len(values)}


def welch_t(a: dict, b: dict) -> float:
    """Welch's t of mean(b) - mean(a), from two `describe` results."""
    difference = b["mean"] - a["mean"]
    se = math.sqrt(a["sd"] ** 2 / a["n"] + b["sd"] ** 2 / b["n"])
    return difference / se if se > 0 else (0.0 if difference == 0 else math.inf)


def greater(a: Measure, b: Measure) -> tuple[float, float, bool]:
    """(a - b, its standard error, whether a exceeds b by more than two standard errors)."""
    difference = a.mean - b.mean
    se = math.sqrt(a.se ** 2 + b.se ** 2)
    return difference, se, difference > 2 * se


def difference_interval(a, b, seed: int = 0) -> tuple[float, float]:
    """The 90% percentile-bootstrap interval of mean(b) - mean(a), each side's values
    resampled with replacement (seeded, so that a table is made again the same)."""
    a, b = np.asarray(a), np.asarray(b)
    rng = np.random.default_rng(seed)
    means_a = rng.choice(a, (RESAMPLES, len(a))).mean(axis=1)
    means_b = rng.choice(b, (RESAMPLES, len(b))).mean(axis=1)
    low, high = np.percentile(means_b - means_a, [5, 95])
    return float(low), float(high)


def equivalent(interval: tuple[float, float], margin: float = MARGIN) -> bool:
    """Whether a difference's 90% interval lies inside +-margin: the two are the same within
    it (two one-sided tests at 5%)."""
    low, high = interval
    return -margin < low and high < margin


def not_below(interval: tuple[float, float], margin: float) -> bool:
    """Whether a difference's 90% interval lies above -margin: near or above (one-sided test
    at 5%)."""
    return interval[0] > -margin


def holds_zero(interval: tuple[float, float]) -> bool:
    """Whether a difference's interval holds zero: no difference shown (which is not
    sameness: see `equivalent`)."""
    return interval[0] <= 0 <= interval[1]


def within_band(measured: Measure, figure: float, rounding: float) -> tuple[bool, float, float]:
    """(inside, difference in points, band in points) of a measured accuracy and a published
    figure in percent read to `rounding`: the band is the rounding and two of the measure's
    sds (how far one run may stray from the mean), the figure being one run's."""
    difference = 100 * measured.mean - figure
    band = rounding + 2 * 100 * measured.sd
    return abs(difference) <= band, difference, band


def trend(points: list[tuple[float, float]]) -> tuple[float, float]:
    """The least-squares slope of y on x over `points` (x, y), with its standard error."""
    x, y = np.array(points, dtype=float).T
    dx = x - x.mean()
    slope = float(dx @ (y - y.mean()) / (dx @ dx))
    residuals = y - y.mean() - slope * dx
    return slope, float(math.sqrt(residuals @ residuals / (len(x) - 2) / (dx @ dx)))


def _log_slope(x: np.ndarray, y: np.ndarray, log_y: bool) -> float:
    """The least-squares slope of y (or log y) against log x, over the finite points."""
    keep = np.isfinite(y) & (y > 0 if log_y else True)
    if keep.sum() < 2:
        return float("nan")
    return float(np.polyfit(np.log(x[keep]), np.log(y[keep]) if log_y else y[keep], 1)[0])


def column_means(matrices: np.ndarray, log_y: bool) -> np.ndarray:
    """Each column's mean over every replication and row of [replication, row, column]
    matrices (the geometric mean for log_y), ignoring NaN."""
    values = np.log(matrices) if log_y else matrices
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # A column of NaN only: its mean NaN.
        mean = np.nanmean(values.transpose(2, 0, 1).reshape(matrices.shape[2], -1), axis=1)
    return np.exp(mean) if log_y else mean


def slope_with_interval(matrices: np.ndarray, log_y: bool,
                        first: int = 1) -> tuple[float, float, float]:
    """The slope of the column means against log x (x = first, first + 1, ... by column: the
    exponent of a power law when log_y), and its 95% interval by resampling the
    replications (a fixed seed)."""
    x = np.arange(first, first + matrices.shape[2], dtype=float)
    slope = _log_slope(x, column_means(matrices, log_y), log_y)
    rng = np.random.default_rng(0)
    draws = []
    for _ in range(SLOPE_RESAMPLES):
        resampled = matrices[rng.integers(0, len(matrices), len(matrices))]
        draws.append(_log_slope(x, column_means(resampled, log_y), log_y))
    low, high = np.nanpercentile(draws, [2.5, 97.5])
    return slope, float(low), float(high)
