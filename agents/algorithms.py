"""rlgen's on-policy algorithms by name, and the policy network each one needs."""

from __future__ import annotations

import torch

from agents.a2c import A2C
from agents.config import AgentRunConfig
from agents.policy import ActorCritic
from agents.ppo import PPO
from agents.reinforce import Reinforce
from agents.update import Update
from rlgen.rundir import RunDir

UPDATES: dict[str, type[Update]] = {"reinforce": Reinforce, "a2c": A2C, "ppo": PPO}  # where the algorithms differ


def algo_section(cfg: AgentRunConfig):
    """The config section of the run's algorithm (cfg.reinforce, cfg.a2c or cfg.ppo)."""
    return getattr(cfg, cfg.algo)


def build_policy(cfg: AgentRunConfig, obs_dim: int, n_actions: int) -> ActorCritic:
    critic = UPDATES[cfg.algo].needs_critic(algo_section(cfg))
    return ActorCritic(obs_dim, n_actions, cfg.policy, cfg.value if critic else None)


def load_policy(run: RunDir, cfg: AgentRunConfig, device: torch.device, name: str = "model") -> ActorCritic:
    """Rebuild the policy from the run's config and the shapes in its meta.json, then load its weights."""
    info = run.info
    policy = build_policy(cfg, int(info["obs_dim"]), int(info["n_actions"])).to(device)
    run.load_weights(policy, name, device)
    policy.eval()
    return policy
