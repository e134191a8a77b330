"""REINFORCE (Williams, 1992) with discounted, normalised returns and an optional learned value baseline.

The update ascends E[log π(a|s)·Â]: Â is the discounted return G_t, minus V(s_t) when the baseline is on, and
normalised over the iteration (the discount-and-normalise credit assignment of Géron's Hands-On Machine
Learning, ch. 18). The critic, when present, regresses G_t with a squared error.
"""

from __future__ import annotations

import torch
from pydantic import Field

from rlgen.agents.returns import discounted_returns, masked_mean, masked_normalize
from rlgen.agents.rollout import Rollout
from rlgen.agents.update import Update
from rlgen.schema import Strict


class ReinforceConfig(Strict):
    gamma: float = Field(default=0.99, ge=0.0, le=1.0)
    """Discount factor of the returns."""
    normalize: bool = True
    """Normalise the advantages to zero mean and unit variance over the iteration."""
    baseline: bool = False
    """Learn V(s) (the `value` network) and subtract it from the returns."""
    value_coef: float = Field(default=0.5, ge=0.0, le=1e3)
    """Weight of the baseline's squared error in the loss."""
    entropy_coef: float = Field(default=0.0, ge=0.0, le=1e3)
    """Weight of the entropy bonus (0 is plain REINFORCE)."""


class Reinforce(Update):
    cfg: ReinforceConfig
    batchable = True

    @staticmethod
    def needs_critic(cfg: ReinforceConfig) -> bool:
        return cfg.baseline

    def targets(self, rollout: Rollout, policy=None) -> dict[str, torch.Tensor]:
        return {"returns": discounted_returns(rollout.rewards, rollout.terminated, rollout.truncated, self.cfg.gamma)}

    def loss(self, rollout: Rollout, targets: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        cfg, mask, returns = self.cfg, rollout.valid, targets["returns"]  # (T, N)
        logits = self.policy.rollout_logits(rollout)  # (T, N, A)
        logp, entropy = self.policy.log_prob_and_entropy(logits, rollout.actions)
        stats: dict[str, torch.Tensor] = {}
        if cfg.baseline:
            values = self.policy.rollout_values(rollout, bootstrap=False)  # (T, N)
            advantages = returns - values.detach()
            value_loss = masked_mean((values - returns).square(), mask)
            stats["train/value_loss"] = value_loss.detach()
        else:
            advantages, value_loss = returns, torch.zeros((), device=returns.device)
        if cfg.normalize:
            advantages = masked_normalize(advantages, mask)
        policy_loss = -masked_mean(logp * advantages, mask)
        entropy_mean = masked_mean(entropy, mask)
        loss = policy_loss + cfg.value_coef * value_loss - cfg.entropy_coef * entropy_mean
        stats.update(
            {
                "train/loss": loss.detach(),
                "train/policy_loss": policy_loss.detach(),
                "train/entropy": entropy_mean.detach(),
                "train/return_mean": masked_mean(returns, mask),
            }
        )
        return loss, stats
