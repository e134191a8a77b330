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
        # the actor's layers without their Sequential wrappers: on small batches each module call costs as much
        # as the layer's own work, so a rollout step calls only the layers (a plain tuple, not registered again)
        self._actor_layers = tuple(m for m in self.actor.modules() if not isinstance(m, nn.Sequential))

    def logits(self, obs: torch.Tensor) -> torch.Tensor:
        for layer in self._actor_layers:
            obs = layer(obs)
        return obs  # (..., A)

    def value(self, obs: torch.Tensor) -> torch.Tensor:
        if self.critic is None:
            return torch.zeros(obs.shape[:-1], device=obs.device)
        return self.critic(obs).squeeze(-1)  # (...,)

    @torch.no_grad()
    def act(self, obs: torch.Tensor, greedy: bool = False) -> torch.Tensor:
        """The most likely action (greedy) or a draw from π(·|obs), for each observation: (...,)."""
        logits = self.logits(obs)
        if greedy:
            return logits.argmax(dim=-1)
        return (logits + gumbel_noise(*logits.shape, device=logits.device)).argmax(dim=-1)

    def sample(self, obs: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        """A draw from π(·|obs) by Gumbel-max (argmax of log π + Gumbel noise, with no host sync) with the caller's
        Gumbel(0, 1) `noise` shaped like the logits, in as few operations as possible: the rollout step. Call it
        under torch.no_grad()."""
        return (self.logits(obs) + noise).argmax(dim=-1)  # log-softmax only shifts each row: same argmax


def gumbel_noise(*shape: int, device: torch.device) -> torch.Tensor:
    """Gumbel(0, 1) samples, −log(−log U), for drawing categorical actions by Gumbel-max."""
    u = torch.rand(*shape, device=device).clamp_(min=1e-20)
    return u.log_().neg_().log_().neg_()


def log_prob_and_entropy(logits: torch.Tensor, actions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """log π(a|s) of the taken actions and the policy's entropy, both shaped like `actions`."""
    logp_all = torch.log_softmax(logits, dim=-1)
    logp = logp_all.gather(-1, actions.long().unsqueeze(-1)).squeeze(-1)
    entropy = -(logp_all.exp() * logp_all).sum(-1)
    return logp, entropy
