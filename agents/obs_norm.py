"""Observation statistics that travel with a run: a running mean and variance of the observations, the way
stable-baselines3's VecNormalize keeps them, as torch buffers so that they are saved beside the weights (safetensors,
never a pickle) and normalise evaluation and rendering exactly as training did."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn


class ObservationStats(nn.Module):
    """mean, var and count of the observations seen; `normalize` is VecNormalize's: clip((x − μ)/√(σ² + ε), ±clip)."""

    def __init__(self, size: int, clip: float = 10.0, epsilon: float = 1e-8):
        super().__init__()
        self.register_buffer("mean", torch.zeros(size, dtype=torch.float64))
        self.register_buffer("var", torch.ones(size, dtype=torch.float64))
        self.register_buffer("count", torch.zeros((), dtype=torch.float64))
        self.clip, self.epsilon = clip, epsilon

    @classmethod
    def of_vec_normalize(cls, envs) -> "ObservationStats":
        """A copy of a stable-baselines3 VecNormalize's observation statistics."""
        stats = cls(int(np.prod(envs.obs_rms.mean.shape)), float(envs.clip_obs), float(envs.epsilon))
        stats.mean.copy_(torch.as_tensor(envs.obs_rms.mean))
        stats.var.copy_(torch.as_tensor(envs.obs_rms.var))
        stats.count.fill_(float(envs.obs_rms.count))
        return stats

    def normalize(self, obs: np.ndarray) -> np.ndarray:
        mean, var = self.mean.cpu().numpy(), self.var.cpu().numpy()
        return np.clip((obs - mean) / np.sqrt(var + self.epsilon), -self.clip, self.clip).astype(np.float32)
