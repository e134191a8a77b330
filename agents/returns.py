"""Credit assignment as pure functions over (T, N) tensors: time along dim 0, parallel envs along dim 1."""

from __future__ import annotations

import torch


def discounted_returns(
    rewards: torch.Tensor,
    terminated: torch.Tensor,
    truncated: torch.Tensor,
    gamma: float,
    next_values: torch.Tensor | None = None,
) -> torch.Tensor:
    """G_t = r_t + γ·G_{t+1}, restarting at every episode end.

    rewards, terminated, truncated: (T, N). next_values: (T, N), V(s_{t+1}) for each step, or None.
    - terminated at t: G_t = r_t (nothing follows a terminal state).
    - truncated at t (time limit), or t = T-1 (the rollout was cut): the episode goes on unseen, so
      G_t = r_t + γ·V(s_{t+1}) when a critic gives `next_values`, else G_t = r_t (the Monte Carlo return so far).
    """
    T = rewards.shape[0]
    not_terminal = 1.0 - terminated.float()
    cut = truncated.float().clone()
    cut[-1] = 1.0
    bootstrap = next_values if next_values is not None else torch.zeros_like(rewards)
    returns = torch.empty_like(rewards, dtype=torch.float32)
    following = torch.zeros_like(rewards[0], dtype=torch.float32)  # G_{t+1}
    for t in range(T - 1, -1, -1):
        tail = (1.0 - cut[t]) * following + cut[t] * bootstrap[t]
        following = rewards[t] + gamma * not_terminal[t] * tail
        returns[t] = following
    return returns


def masked_normalize(x: torch.Tensor, mask: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """(x − mean) / std over the entries where mask is true (the discount-and-normalise step of REINFORCE).

    Weighted sums instead of boolean indexing, so that a GPU never waits on the host for the mask's count."""
    weight = mask.float()
    count = weight.sum().clamp(min=1.0)
    mean = (x * weight).sum() / count
    std = (((x - mean) * weight).square().sum() / count).sqrt()
    return (x - mean) / (std + eps)


def masked_mean(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    mask = mask.float()
    return (x * mask).sum() / mask.sum().clamp(min=1.0)


def gae(
    rewards: torch.Tensor,
    values: torch.Tensor,
    next_values: torch.Tensor,
    terminated: torch.Tensor,
    truncated: torch.Tensor,
    gamma: float,
    lam: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Generalised advantage estimation (Schulman et al., 2016) over (T, N) tensors; returns (advantages, returns).

    values: V(s_t); next_values: V(s_{t+1}), the final observation's value where an episode ended.
    δ_t = r_t + γ·(1 − terminated_t)·V(s_{t+1}) − V(s_t): a truncated episode bootstraps from its final state, a
    terminated one does not. A_t = δ_t + γλ·A_{t+1}, restarting after every episode end and at the rollout's end.
    The returns are the λ-returns A_t + V(s_t), the critic's regression target.
    """
    T = rewards.shape[0]
    not_terminal = 1.0 - terminated.float()
    continues = 1.0 - (terminated | truncated).float()
    deltas = rewards + gamma * not_terminal * next_values - values
    advantages = torch.empty_like(deltas)
    following = torch.zeros_like(deltas[0])  # A_{t+1}
    for t in range(T - 1, -1, -1):
        tail = following * continues[t] if t < T - 1 else 0.0
        following = deltas[t] + gamma * lam * tail
        advantages[t] = following
    return advantages, advantages + values
