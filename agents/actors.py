"""Any trained agent as an actor: a function from a batch of observations to a batch of actions."""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch

from rlgen.rundir import RunDir

Actor = Callable[[np.ndarray], np.ndarray]


def load_actor(run: RunDir, cfg, device: torch.device, greedy: bool = True) -> Actor:
    """Rebuild a run's agent from its config and best weights; greedy takes the most likely action."""
    if cfg.algo.startswith("sb3_"):
        from agents.sb3_bridge import load_sb3_model

        model = load_sb3_model(run, cfg, device)
        return lambda obs: model.predict(obs, deterministic=greedy)[0]
    from agents.loop import load_policy

    policy = load_policy(run, cfg, device)

    def act(obs: np.ndarray) -> np.ndarray:
        action, _ = policy.act(torch.as_tensor(obs, dtype=torch.float32, device=device), greedy=greedy)
        return action.cpu().numpy()

    return act
