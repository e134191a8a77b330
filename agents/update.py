"""What every algorithm's update has in common; the algorithms subclass it and differ only in `update`."""

from __future__ import annotations

from typing import Any

import torch

from agents.policy import ActorCritic
from agents.rollout import Rollout
from rlgen.optim import TrainingOptimizer


class Update:
    """An update rule over rollouts, for the one on-policy loop."""

    @staticmethod
    def needs_critic(cfg: Any) -> bool:
        """Whether the policy needs a value head (the loop builds it only then)."""
        return True

    def __init__(self, cfg: Any, policy: ActorCritic, optimizer: TrainingOptimizer):
        self.cfg, self.policy, self.optimizer = cfg, policy, optimizer

    def update(self, rollout: Rollout) -> dict[str, torch.Tensor]:
        raise NotImplementedError
