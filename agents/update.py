"""What every algorithm's update has in common; the algorithms subclass it and differ only in `update`."""

from __future__ import annotations

from typing import Any

import torch

from rlgen.agents.policy import ActorCritic
from rlgen.agents.rollout import Rollout
from rlgen.optim import TrainingOptimizer


class Update:
    """An update rule over rollouts, for the one on-policy loop.

    An algorithm whose update is one gradient step on one loss splits it into `targets` (what the loss regresses
    towards, computed without the policy's parameters) and `loss`, and sets `batchable`: then several seeds can train
    as one batched model (agents/seeds.py), each seed's loss computed by this very code."""

    batchable = False

    @staticmethod
    def needs_critic(cfg: Any) -> bool:
        """Whether the policy needs a value head (the loop builds it only then)."""
        return True

    def __init__(self, cfg: Any, policy: ActorCritic, optimizer: TrainingOptimizer):
        self.cfg, self.policy, self.optimizer = cfg, policy, optimizer

    def update(self, rollout: Rollout) -> dict[str, torch.Tensor]:
        loss, stats = self.loss(rollout, self.targets(rollout, self.policy))
        self.optimizer.step(loss)
        return stats

    def targets(self, rollout: Rollout, policy: Any) -> dict[str, torch.Tensor]:
        """(T, N) tensors the loss regresses towards, computed without gradients (with `policy`'s critic where the
        algorithm has one: `self.policy`, or the stacked policy of a batch of seeds)."""
        raise NotImplementedError

    def loss(self, rollout: Rollout, targets: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """The loss to descend and the iteration's statistics (scalars; "train/loss" among them)."""
        raise NotImplementedError
