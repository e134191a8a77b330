"""A categorical policy with an optional value head, both built by the core's network builder."""

from __future__ import annotations

import torch
from torch import nn

from rlgen.nets import MLPConfig, build_mlp


class ActorCritic(nn.Module):
    """π(a|s) as logits from `actor`; V(s) from a separate `critic` when the algorithm uses one."""

    def __init__(self, obs_dim: int, n_actions: int, policy: MLPConfig, value: MLPConfig | None):
        super().__init__()
        self.actor = build_mlp(policy, obs_dim, n_actions)
        self.critic = build_mlp(value, obs_dim, 1) if value is not None else None

    def logits(self, obs: torch.Tensor) -> torch.Tensor:
        return self.actor(obs)  # (..., A)

    def value(self, obs: torch.Tensor) -> torch.Tensor:
        if self.critic is None:
            return torch.zeros(obs.shape[:-1], device=obs.device)
        return self.critic(obs).squeeze(-1)  # (...,)

    @torch.no_grad()
    def act(self, obs: torch.Tensor, greedy: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        """Sample (or take the most likely) action; returns (action, log π(action|obs))."""
        logp_all = torch.log_softmax(self.logits(obs), dim=-1)
        if greedy:
            action = logp_all.argmax(dim=-1)
        else:  # Gumbel-max: argmax(log p + Gumbel noise) is a draw from the categorical, with no CPU sync
            gumbel = -torch.log(-torch.log(torch.rand_like(logp_all).clamp_(min=1e-20)))
            action = (logp_all + gumbel).argmax(dim=-1)
        return action, logp_all.gather(-1, action.unsqueeze(-1)).squeeze(-1)


def log_prob_and_entropy(logits: torch.Tensor, actions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """log π(a|s) of the taken actions and the policy's entropy, both shaped like `actions`."""
    logp_all = torch.log_softmax(logits, dim=-1)
    logp = logp_all.gather(-1, actions.long().unsqueeze(-1)).squeeze(-1)
    entropy = -(logp_all.exp() * logp_all).sum(-1)
    return logp, entropy
