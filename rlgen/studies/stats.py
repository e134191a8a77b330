"""Summary statistics of a few seeds' results: mean, standard deviation, the interquartile mean (Agarwal et al.,
2021: the mean of the middle 50 %, robust to a seed that failed and far less noisy than the median), and percentile
bootstrap confidence intervals of either."""

from __future__ import annotations

import math
from typing import Callable

import numpy as np

BOOTSTRAP_RESAMPLES = 10_000
BOOTSTRAP_SEED = 0  # the same numbers give the same interval every time


def iqm(values: np.ndarray, axis: int = -1) -> np.ndarray | float:
    """Interquartile mean: the mean of the values between the 25th and 75th percentiles, where a value on a boundary
    counts in proportion to the part of it inside (so n = 4k and n = 4k + 2 both give exactly the middle half)."""
    x = np.sort(np.asarray(values, dtype=float), axis=axis)
    n = x.shape[axis]
    cut = n / 4
    positions = np.arange(n)  # value i spans [i, i + 1]; the middle half is [n/4, 3n/4]
    weights = np.clip(np.minimum(positions + 1, n - cut) - np.maximum(positions, cut), 0.0, 1.0)
    shape = [1] * x.ndim
    shape[axis] = n
    return np.sum(x * weights.reshape(shape), axis=axis) / (n / 2)


def bootstrap_ci(values, statistic: Callable[..., np.ndarray] = np.mean, confidence: float = 0.95,
                 resamples: int = BOOTSTRAP_RESAMPLES, seed: int = BOOTSTRAP_SEED) -> tuple[float, float]:
    """Percentile bootstrap interval of `statistic` (a function of an array and `axis`): resample the values with
    replacement `resamples` times and take the middle `confidence` of the statistic's values. One value: (v, v);
    none: (nan, nan)."""
    x = np.asarray(values, dtype=float)
    if x.size == 0:
        return math.nan, math.nan
    rng = np.random.default_rng(seed)
    draws = x[rng.integers(0, x.size, size=(resamples, x.size))]
    stats = statistic(draws, axis=1)
    tail = (1 - confidence) / 2
    low, high = np.quantile(stats, [tail, 1 - tail])
    return float(low), float(high)


def describe(values) -> dict[str, float]:
    """n, mean, std (n − 1), its 95 % bootstrap interval, the IQM and its interval."""
    x = np.asarray([v for v in values if v is not None and math.isfinite(v)], dtype=float)
    if x.size == 0:
        return {"n": 0, "mean": math.nan, "std": math.nan, "ci_low": math.nan, "ci_high": math.nan,
                "iqm": math.nan, "iqm_ci_low": math.nan, "iqm_ci_high": math.nan}
    low, high = bootstrap_ci(x)
    iqm_low, iqm_high = bootstrap_ci(x, iqm)
    return {"n": int(x.size), "mean": float(x.mean()), "std": float(x.std(ddof=1)) if x.size > 1 else 0.0,
            "ci_low": low, "ci_high": high, "iqm": float(iqm(x)), "iqm_ci_low": iqm_low, "iqm_ci_high": iqm_high}
