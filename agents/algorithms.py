"""rlgen's on-policy algorithms by name, and the policy network each one needs."""

from __future__ import annotations

import gymnasium as gym
import torch

from rlgen.agents.a2c import A2C
from rlgen.agents.config import AgentRunConfig
from rlgen.agents.obs_norm import ObservationStats, RewardScale
from rlgen.agents.policy import ActorCritic
from rlgen.agents.ppo import PPO
from rlgen.agents.reinforce import Reinforce
from rlgen.agents.update import Update
from rlgen.envs.make import EnvConfig, make_vec_env
from rlgen.rundir import RunDir
from rlgen.seeding import seed_everything

UPDATES: dict[str, type[Update]] = {"reinforce": Reinforce, "a2c": A2C, "ppo": PPO}  # where the algorithms differ


def algo_section(cfg: AgentRunConfig):
    """The config section of the run's algorithm (cfg.reinforce, cfg.a2c or cfg.ppo)."""
    return getattr(cfg, cfg.algo)


def build_policy(cfg: AgentRunConfig, obs_dim: int, action_space: gym.Space) -> ActorCritic:
    critic = UPDATES[cfg.algo].needs_critic(algo_section(cfg))
    stats = ObservationStats(obs_dim, cfg.observation_clip) if cfg.normalize_observations else None
    policy = ActorCritic(obs_dim, action_space, cfg.policy, cfg.value if critic else None, stats)
    if cfg.scale_rewards:
        policy.reward_scale = RewardScale(cfg.env.num_envs, algo_section(cfg).gamma, cfg.reward_clip)
    return policy


def initial_policy(cfg: AgentRunConfig, obs_dim: int, action_space: gym.Space, device: torch.device) -> ActorCritic:
    """The policy a run of `cfg` starts from: built right after seeding everything with the run's seed (a single run
    and the same seed in a batch of seeds start from the same weights)."""
    seed_everything(cfg.seed)
    return build_policy(cfg, obs_dim, action_space).to(device)


def env_shapes(env: EnvConfig) -> tuple[int, gym.Space]:
    """Observation size and action space of the config's environment (one copy, built and closed)."""
    envs = make_vec_env(env.model_copy(update={"num_envs": 1, "compile": False}))
    try:
        return int(envs.single_observation_space.shape[0]), envs.single_action_space
    finally:
        envs.close()


def load_policy(run: RunDir, cfg: AgentRunConfig, device: torch.device, name: str = "model") -> ActorCritic:
    """Rebuild the policy from the run's config, shaped by its environment (not by what meta.json claims), then
    load its weights (checked by name, shape and dtype)."""
    policy = build_policy(cfg, *env_shapes(cfg.env)).to(device)
    run.load_weights(policy, name, device)
    policy.eval()
    return policy
