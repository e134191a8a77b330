"""Credit assignment as pure functions over (T, N) tensors: time along dim 0, parallel envs along dim 1."""

from __future__ import annotations

import torch

from rlgen.distributed import all_sum, current


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
    not_terminal = 1.0 - terminated.float()
    cut = truncated.to(torch.float32, copy=True)
    cut[-1] = 1.0
    bootstrap = next_values if next_values is not None else torch.zeros_like(rewards)
    # G_t = a_t + k_t·G_{t+1}, with a_t = r_t + γ·(1 − term_t)·cut_t·V(s_{t+1}) and k_t = γ·(1 − term_t)·(1 − cut_t)
    discount = gamma * not_terminal
    return backward_recurrence(rewards + discount * cut * bootstrap, discount * (1.0 - cut))


def backward_recurrence(a: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    """y_t = a_t + k_t·y_{t+1} for t = T−1 … 0, with y_T = 0: the one sequential step of returns and GAE, with
    everything else precomputed, so that each of the T steps is a single tensor operation."""
    out = torch.empty_like(a)
    following = torch.zeros_like(a[0])
    for a_t, k_t, out_t in zip(a.unbind(0)[::-1], k.unbind(0)[::-1], out.unbind(0)[::-1]):
        following = torch.addcmul(a_t, k_t, following, out=out_t)
    return out


def masked_normalize(x: torch.Tensor, mask: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """(x − mean) / std over the entries where mask is true (the discount-and-normalise step of REINFORCE); in a
    data-parallel run, mean and std are those of every rank's entries together.

    Weighted sums instead of boolean indexing, so that a GPU never waits on the host for the mask's count."""
    weight = mask.float()
    count = all_sum(weight.sum()).clamp(min=1.0)
    mean = all_sum((x * weight).sum()) / count
    std = (all_sum(((x - mean) * weight).square().sum()) / count).sqrt()
    return (x - mean) / (std + eps)


def masked_mean(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The mean of x where mask is true. In a data-parallel run each rank returns its share of the mean over every
    rank's entries, times the number of ranks: averaged over the ranks (as their gradients are), that is the
    mean of all entries together, whatever each rank's count."""
    return MaskedMeans(mask)(x)


class MaskedMeans:
    """`masked_mean` of several tensors over one mask, whose weights and count are computed once."""

    def __init__(self, mask: torch.Tensor):
        self.weight = mask.float()
        self.ranks = current().size if current().active else 1
        total = self.weight.sum() if self.ranks == 1 else all_sum(self.weight.sum())
        self.count = total.clamp(min=1.0)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        total = (x * self.weight).sum()
        return total / self.count if self.ranks == 1 else self.ranks * total / self.count


def ranks_mean(x: torch.Tensor) -> torch.Tensor:
    """The mean over the ranks of a per-rank value (the value itself when training alone)."""
    return all_sum(x) / current().size


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
    not_terminal = 1.0 - terminated.float()
    continues = 1.0 - (terminated | truncated).float()
    continues[-1] = 0.0  # the rollout's end: δ_{T−1} already bootstraps from V(s_T)
    deltas = rewards + gamma * not_terminal * next_values - values
    advantages = backward_recurrence(deltas, gamma * lam * continues)
    return advantages, advantages + values
