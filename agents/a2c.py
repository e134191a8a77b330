"""Advantage actor-critic (Mnih et al., 2016, synchronous version) with GAE(λ) advantages."""

from __future__ import annotations

import torch
from pydantic import Field

from rlgen.agents.policy import ActorCritic
from rlgen.agents.returns import gae, masked_mean, masked_normalize
from rlgen.agents.rollout import Rollout
from rlgen.agents.update import Update
from rlgen.schema import Strict


class A2CConfig(Strict):
    gamma: float = Field(default=0.99, ge=0.0, le=1.0)
    """Discount factor."""
    gae_lambda: float = Field(default=1.0, ge=0.0, le=1.0)
    """GAE λ: 1 gives Monte Carlo returns bootstrapped at the rollout's end, 0 one-step TD."""
    value_coef: float = Field(default=0.5, ge=0.0, le=1e3)
    """Weight of the critic's squared error."""
    entropy_coef: float = Field(default=0.0, ge=0.0, le=1e3)
    """Weight of the entropy bonus."""
    normalize_advantages: bool = False
    """Normalise advantages over the rollout."""


def critic_targets(policy: ActorCritic, rollout: Rollout, gamma: float, lam: float):
    """V(s_t) and GAE advantages / λ-returns for a rollout, without gradients: values (T, N), advantages, returns."""
    with torch.no_grad():
        all_values = policy.rollout_values(rollout)  # (T+1, N): V(s_0) … V(s_{T−1}) and V(last_obs)
        values, next_values = all_values[:-1], all_values[1:]
        advantages, returns = gae(rollout.rewards, values, next_values, rollout.terminated, rollout.truncated, gamma, lam)
    return values, advantages, returns


class A2C(Update):
    cfg: A2CConfig
    batchable = True

    def targets(self, rollout: Rollout, policy) -> dict[str, torch.Tensor]:
        _, advantages, returns = critic_targets(policy, rollout, self.cfg.gamma, self.cfg.gae_lambda)
        return {"advantages": advantages, "returns": returns}

    def loss(self, rollout: Rollout, targets: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        cfg, mask = self.cfg, rollout.valid
        advantages, returns = targets["advantages"], targets["returns"]
        if cfg.normalize_advantages:
            advantages = masked_normalize(advantages, mask)
        logp, entropy = self.policy.log_prob_and_entropy(self.policy.rollout_logits(rollout), rollout.actions)
        values = self.policy.rollout_values(rollout, bootstrap=False)
        policy_loss = -masked_mean(logp * advantages, mask)
        value_loss = masked_mean((returns - values).square(), mask)
        entropy_mean = masked_mean(entropy, mask)
        loss = policy_loss + cfg.value_coef * value_loss - cfg.entropy_coef * entropy_mean
        return loss, {"train/loss": loss.detach(), "train/policy_loss": policy_loss.detach(),
                      "train/value_loss": value_loss.detach(), "train/entropy": entropy_mean.detach()}
