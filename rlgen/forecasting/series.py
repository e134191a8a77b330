"""The time series of Géron's Hands-On Machine Learning (2nd ed., ch. 15): each one the sum of two sine waves of
random frequency and phase plus uniform noise, sampled at `length` evenly spaced times in [0, 1]:

    x(t) = 0.5·sin((t − a₁)·(10·f₁ + 10)) + 0.2·sin((t − a₂)·(20·f₂ + 20)) + 0.1·(u − 0.5)

with f₁, f₂, a₁, a₂ ~ U(0, 1) per series and u ~ U(0, 1) per step. The draws are made in the book's order from
NumPy's legacy generator seeded with `data.seed`, so that seed 42 gives the very series of the book's notebook
(which calls `np.random.seed(42)` before generating them): its naive forecasts score validation MSEs of 0.0202 one
step ahead and 0.257 ten steps ahead, as the notebook prints.

A series is drawn `steps + horizon` long: the first `steps` values are the input, the rest the forecast targets.
Note that the times are spread over [0, 1] whatever the length, as in the book, so a one-step and a ten-step data
set of the same seed are not the same curves.
"""

from __future__ import annotations

import numpy as np
import torch

from rlgen.data import Split, Splits


def generate_series(count: int, length: int, seed: int) -> np.ndarray:
    """(count, length) float32 series, drawn as the book draws them."""
    rng = np.random.RandomState(seed)
    freq1, freq2, offsets1, offsets2 = rng.rand(4, count, 1)
    time = np.linspace(0, 1, length)
    series = 0.5 * np.sin((time - offsets1) * (freq1 * 10 + 10))
    series += 0.2 * np.sin((time - offsets2) * (freq2 * 20 + 20))
    series += 0.1 * (rng.rand(count, length) - 0.5)
    return series.astype(np.float32)


def windows(series: torch.Tensor, steps: int, horizon: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Inputs (N, steps, 1) and targets (N, steps, horizon): after step t, the next `horizon` values,
    targets[:, t, k] = series[:, t + 1 + k]. The forecast proper is the last step's row, targets[:, -1] (the values
    after the input); a sequence-to-sequence model learns from every row (the book's training trick)."""
    inputs = series[:, :steps].unsqueeze(-1)
    targets = series[:, 1:].unfold(1, horizon, 1)  # (N, steps, horizon)
    return inputs, targets


def series_splits(count: int, steps: int, horizon: int, train: int, validation: int, seed: int,
                  device: torch.device | str) -> Splits:
    """The first `train` series train, the next `validation` validate, the rest test (the book's 7,000 / 2,000 /
    1,000 of 10,000)."""
    series = torch.from_numpy(generate_series(count, steps + horizon, seed)).to(device)
    x, y = windows(series, steps, horizon)
    bounds = (0, train, train + validation, count)
    train_split, val_split, test_split = (Split(x[a:b], y[a:b]) for a, b in zip(bounds, bounds[1:]))
    return Splits(train_split, val_split, test_split, f"generated: {count:,} series of {steps} + {horizon} steps, "
                                                      f"seed {seed}")
