"""Observation statistics that travel with a run: a running mean and variance of the observations, the way
stable-baselines3's VecNormalize keeps them, as torch buffers so that they are saved beside the weights (safetensors,
never a pickle) and normalise evaluation and rendering exactly as training did.

rlgen's own agents hold them inside the policy (`normalize_observations: true`): every network reads
clip((x − μ)/√(σ² + ε), ±clip). The statistics change only between iterations, after the update, from the rollout
just learned on (summed over the ranks of a data-parallel run), so that acting and learning within one iteration see
the same normalised observations; the first rollout sees them as they are (μ = 0, σ² = 1)."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from rlgen.distributed import all_sum


class ObservationStats(nn.Module):
    """mean, var and count of the observations seen; `normalize` is VecNormalize's: clip((x − μ)/√(σ² + ε), ±clip)."""

    def __init__(self, size: int, clip: float = 10.0, epsilon: float = 1e-8):
        super().__init__()
        self.register_buffer("mean", torch.zeros(size, dtype=torch.float64))
        self.register_buffer("var", torch.ones(size, dtype=torch.float64))
        self.register_buffer("count", torch.zeros((), dtype=torch.float64))
        # the float32 shift and scale that `forward` applies: derived from the statistics, so not saved
        self.register_buffer("shift", torch.zeros(size), persistent=False)
        self.register_buffer("scale", torch.ones(size), persistent=False)
        self.clip, self.epsilon = clip, epsilon
        self.register_load_state_dict_post_hook(lambda module, _: module.refresh())
        self.refresh()

    @classmethod
    def of_vec_normalize(cls, envs) -> "ObservationStats":
        """A copy of a stable-baselines3 VecNormalize's observation statistics."""
        stats = cls(int(np.prod(envs.obs_rms.mean.shape)), float(envs.clip_obs), float(envs.epsilon))
        stats.mean.copy_(torch.as_tensor(envs.obs_rms.mean))
        stats.var.copy_(torch.as_tensor(envs.obs_rms.var))
        stats.count.fill_(float(envs.obs_rms.count))
        stats.refresh()
        return stats

    def normalize(self, obs: np.ndarray) -> np.ndarray:
        mean, var = self.mean.cpu().numpy(), self.var.cpu().numpy()
        return np.clip((obs - mean) / np.sqrt(var + self.epsilon), -self.clip, self.clip).astype(np.float32)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        """The normalised observations, any leading shape (..., D)."""
        return ((obs - self.shift) * self.scale).clamp_(-self.clip, self.clip)

    @torch.no_grad()
    def refresh(self) -> None:
        if self.mean.is_meta:  # a model built on the meta device only to be checked: nothing to derive (and the
            return  # first meta-tensor op loads torch's meta kernels, about a second)
        self.shift.copy_(self.mean)
        self.scale.copy_((self.var + self.epsilon).rsqrt())

    @torch.no_grad()
    def update(self, obs: torch.Tensor) -> None:
        """Merge a batch of observations (M, D) into the statistics (Chan et al.'s parallel update); under DDP the
        batch is every rank's together."""
        obs = obs.to(torch.float64)
        moments = all_sum(torch.cat([obs.new_tensor([len(obs)]), obs.sum(0), (obs * obs).sum(0)]))
        n, size = moments[0], len(self.mean)
        if n == 0:
            return
        batch_mean = moments[1:1 + size] / n
        batch_var = (moments[1 + size:] / n - batch_mean * batch_mean).clamp_(min=0.0)
        total = self.count + n
        delta = batch_mean - self.mean
        m2 = self.var * self.count + batch_var * n + delta * delta * self.count * n / total
        self.mean.add_(delta * n / total)
        self.var.copy_(m2 / total)
        self.count.copy_(total)
        self.refresh()


class RewardScale(nn.Module):
    """VecNormalize's reward scaling: each copy's running discounted return R ← γR + r (zeroed where an episode
    ends) feeds a running variance σ²_R, and the update learns on clip(r / √(σ²_R + ε), ±clip), with no shift.
    Evaluation, the episode returns reported and the rollouts' own rewards stay as the env gave them. The running
    returns and σ²_R are buffers, saved with the weights, so that a resumed run scales as the uninterrupted one."""

    def __init__(self, copies: int, gamma: float, clip: float = 10.0, epsilon: float = 1e-8):
        super().__init__()
        self.stats = ObservationStats(1, clip, epsilon)
        self.register_buffer("running", torch.zeros(copies, dtype=torch.float64))
        self.gamma, self.clip, self.epsilon = gamma, clip, epsilon

    @torch.no_grad()
    def __call__(self, rewards: torch.Tensor, valid: torch.Tensor, ended: torch.Tensor) -> torch.Tensor:
        """The scaled (T, N) rewards of a rollout (rewards, valid and ended (terminated | truncated) masks), after
        merging its discounted returns into σ²_R (every rank's, under DDP)."""
        returns, running = [], self.running
        for reward, real, end in zip(rewards.to(torch.float64), valid, ended):
            running = running * self.gamma + reward * real
            returns.append(running)
            running = running * ~(end & real)
        self.running.copy_(running)
        self.stats.update(torch.stack(returns)[valid].unsqueeze(1))
        scale = float((self.stats.var[0] + self.epsilon).rsqrt())
        return (rewards * scale).clamp(-self.clip, self.clip)
