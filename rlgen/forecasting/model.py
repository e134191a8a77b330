"""The forecaster: the config's layers over the input sequence, then a dense layer to `horizon` values.

    x: (B, steps, 1)  →  body  →  (B, F): one forecast           (sequence to vector)
                              →  (B, steps, F): one per step      (sequence to sequence)
    targets y: (B, steps, horizon), y[:, t] the `horizon` values after step t; the forecast's are y[:, -1]

Both are judged on `mse`, the mean squared error of the forecast after the last input step over its `horizon`
values (the book's `last_time_step_mse` for sequence-to-sequence models); a sequence-to-sequence model trains on the
mean over every step's forecast (its `loss`).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from rlgen.epochs import EpochModel, Losses
from rlgen.errors import ConfigError
from rlgen.forecasting.config import ForecastNetConfig
from rlgen.layers import build_layers, output_layer


class Forecaster(EpochModel):
    monitor = ("mse", "min")

    def __init__(self, net: ForecastNetConfig, steps: int, horizon: int):
        super().__init__()
        self.horizon = horizon
        self.naive = net.baseline == "last_value"
        self.learns = not self.naive
        self.body, shape = build_layers(net, (steps, 1))
        if len(shape) == 2 and shape[0] != steps and not self.naive:
            raise ConfigError(f"model.layers end in a sequence of {shape[0]} steps; a sequence-to-sequence forecaster "
                              f"needs one forecast per input step ({steps}): keep the length (stride 1, causal or "
                              f"same padding), or end in a vector")
        self.sequence_output = len(shape) == 2 and not self.naive
        self.head = output_layer(net, shape[-1], horizon) if not self.naive else None

    def forecasts(self, x: torch.Tensor) -> torch.Tensor:
        """(B, steps, horizon) for a sequence-to-sequence model, else (B, horizon)."""
        if self.naive:
            return x[:, -1].expand(-1, self.horizon)  # the last value, repeated
        return self.head(self.body(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The forecast after the last input step: (B, horizon)."""
        out = self.forecasts(x)
        return out[:, -1] if self.sequence_output else out

    def losses(self, x: torch.Tensor, y: torch.Tensor) -> Losses:
        out = self.forecasts(x).float()
        if self.sequence_output:
            return {"loss": F.mse_loss(out, y), "mse": F.mse_loss(out[:, -1].detach(), y[:, -1])}
        mse = F.mse_loss(out, y[:, -1])
        return {"loss": mse, "mse": mse.detach()}
