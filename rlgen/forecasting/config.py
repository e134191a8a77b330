"""Typed config of a forecaster run."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from rlgen.epochs import EpochTrainConfig
from rlgen.layers import NetConfig
from rlgen.optim import OptimizerConfig
from rlgen.schema import RunBase, Strict


class SeriesConfig(Strict):
    """The generated series (rlgen/forecasting/series.py) and how they are split."""

    series: int = Field(default=10_000, ge=3, le=10**7)
    """How many series are generated."""
    steps: int = Field(default=50, ge=1, le=100_000)
    """Input steps of each series."""
    horizon: int = Field(default=1, ge=1, le=10_000)
    """Values to forecast after the input: 1 (the next value) or more at once (10 in the book)."""
    train: int = Field(default=7_000, ge=1, le=10**7)
    """The first `train` series train the model."""
    validation: int = Field(default=2_000, ge=1, le=10**7)
    """The next ones validate it (they pick the best epoch); the rest are the test split."""
    seed: int | None = Field(default=42, ge=0, le=2**32 - 1)
    """The series' own seed (42: the book's notebook's data), the same for every run so that runs are compared on
    the same series; None: the run's seed."""

    @model_validator(mode="after")
    def _splits_fit(self) -> "SeriesConfig":
        if self.train + self.validation >= self.series:
            raise ValueError(f"data.train {self.train} + data.validation {self.validation} leave no test series of "
                             f"{self.series}: make data.series larger than {self.train + self.validation}")
        if self.steps * (self.series * self.horizon) > 2 * 10**9:
            raise ValueError("data.series × data.steps × data.horizon is more than 2·10⁹ target values")
        return self


class ForecastNetConfig(NetConfig):
    """The forecaster's layers over the input sequence (steps, 1); rlgen adds a dense output layer of `horizon`
    units. Layers that end in a vector give a sequence-to-vector model (the forecast from the last state); layers
    that end in a sequence of the input's length give a sequence-to-sequence model (a forecast after every step,
    all of them trained on, the last one the forecast)."""

    baseline: Literal["last_value"] | None = None
    """Forecast without learning: last_value repeats the last input value (the naive forecast); no layers then."""

    @model_validator(mode="after")
    def _baseline_has_no_layers(self) -> "ForecastNetConfig":
        if self.baseline is not None and self.layers:
            raise ValueError(f"model.baseline {self.baseline} learns nothing: give no model.layers with it")
        return self


class ForecasterRunConfig(RunBase):
    """A forecaster of the generated series: mean squared error of the forecast values."""

    algo: Literal["forecaster"]
    data: SeriesConfig = Field(default_factory=SeriesConfig)
    model: ForecastNetConfig = Field(default_factory=lambda: ForecastNetConfig(layers=[{"type": "flatten"}]))
    optimizer: OptimizerConfig = Field(default_factory=OptimizerConfig)
    train: EpochTrainConfig = Field(default_factory=lambda: EpochTrainConfig(epochs=20, batch_size=32,
                                                                             eval_batch_size=2000))
