"""An agent's greedy policy as a plain module for `rlgen export` (rlgen/export.py): observations → the actions the
environment takes, checked against the actor that `rlgen evaluate` plays with, on observations the environment
itself produced."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import torch
from torch import nn

from rlgen.agents.distributions import Categorical, SquashedGaussian
from rlgen.agents.evaluate import Actor, evaluation_env
from rlgen.agents.policy import ActorCritic
from rlgen.envs.make import EnvConfig, make_env
from rlgen.errors import RlgenError
from rlgen.export import Exportable

SAMPLES = 64


def sample_observations(env: EnvConfig, n: int = SAMPLES, seed: int = 0) -> np.ndarray:
    """n observations of the environment (gymnasium's own, as evaluations see it) under random actions."""
    cfg = evaluation_env(env)
    one = make_env(cfg.id, observe=cfg.observe, **cfg.kwargs)
    try:
        one.action_space.seed(seed)
        obs, _ = one.reset(seed=seed)
        seen = []
        for _ in range(n):
            seen.append(np.asarray(obs, dtype=np.float32))
            obs, _, terminated, truncated, _ = one.step(one.action_space.sample())
            if terminated or truncated:
                obs, _ = one.reset()
    finally:
        one.close()
    return np.stack(seen)


def _exportable(module: nn.Module, env: EnvConfig, actor: Actor, discrete: bool, squashed: bool) -> Exportable:
    obs = sample_observations(env)
    note = ("the most likely action" if discrete else
            "the mean action, squashed into the bounds" if squashed else "the mean action, clipped to the bounds")
    return Exportable("policy", module, (torch.from_numpy(obs),), ("obs",), ("action",),
                      lambda: (np.asarray(actor(obs)),), note)


class GreedyPolicy(nn.Module):
    """An rlgen policy's greedy action, as the env receives it (normalisation, argmax or clipped mean included)."""

    def __init__(self, policy: ActorCritic):
        super().__init__()
        self.policy = policy

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return self.policy.choose(self.policy.logits(obs), greedy=True)


def policy_exportable(policy: ActorCritic, env: EnvConfig, actor: Actor, run_path: Any) -> Exportable:
    if policy.recurrent:
        raise RlgenError(f"{run_path} has a recurrent policy: its state would be an input and an output of the "
                         "exported model, which rlgen does not export yet; export a feed-forward policy")
    return _exportable(GreedyPolicy(policy), env, actor, isinstance(policy.dist, Categorical),
                       isinstance(policy.dist, SquashedGaussian))


class SB3GreedyPolicy(nn.Module):
    """A stable-baselines3 policy's deterministic action as `model.predict` gives it (clipped to a Box's bounds,
    or a squashed action rescaled to them)."""

    def __init__(self, policy, space: gym.Space, obs_stats: nn.Module | None):
        super().__init__()
        self.policy, self.obs_stats = policy, obs_stats
        self.box = isinstance(space, gym.spaces.Box)
        if self.box:
            self.register_buffer("low", torch.as_tensor(space.low, dtype=torch.float32))
            self.register_buffer("high", torch.as_tensor(space.high, dtype=torch.float32))

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        if self.obs_stats is not None:
            obs = self.obs_stats(obs)
        action = self.policy._predict(obs, deterministic=True)
        if not self.box:
            return action.long()
        if self.policy.squash_output:
            return self.low + (action + 1.0) * 0.5 * (self.high - self.low)
        return torch.maximum(torch.minimum(action, self.high), self.low)


def sb3_exportable(actor, env: EnvConfig, run_path: Any) -> Exportable:
    """`actor`: the run's SB3Actor (its model, and the VecNormalize statistics it was saved with)."""
    model = actor.model
    if hasattr(model.policy, "lstm_actor"):
        raise RlgenError(f"{run_path} is a recurrent (RecurrentPPO) run: its LSTM states would be inputs and outputs "
                         "of the exported model, which rlgen does not export yet")
    space = model.action_space
    module = SB3GreedyPolicy(model.policy, space, actor.stats)
    return _exportable(module, env, actor, not isinstance(space, gym.spaces.Box), bool(model.policy.squash_output))
