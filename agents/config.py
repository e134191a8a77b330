"""Typed configs of agent runs: one section per component, one run config per algorithm."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from agents.a2c import A2CConfig
from agents.ppo import PPOConfig
from agents.reinforce import ReinforceConfig
from envs.make import EnvConfig
from rlgen.nets import MLPConfig
from rlgen.optim import OptimizerConfig
from rlgen.schema import Strict

DEVICE_PATTERN = r"^(auto|cpu|cuda(:\d+)?)$"


class AgentTrainConfig(Strict):
    """Budget, rollout shape and evaluation schedule of the on-policy loop."""

    total_steps: int = Field(default=300_000, ge=1)
    """Environment steps (real transitions) to train for at most."""
    rollout: Literal["episodes", "steps"] = "episodes"
    """episodes: each iteration plays one fresh episode per env copy; steps: `rollout_steps` steps per copy, with
    episodes carrying on between iterations."""
    rollout_steps: int = Field(default=128, ge=1)
    """Steps per env copy per iteration when `rollout` is steps."""
    eval_every_steps: int = Field(default=10_000, ge=1)
    """Evaluate greedily after at least this many environment steps since the last evaluation."""
    eval_episodes: int = Field(default=100, ge=1)
    """Episodes per periodic evaluation (on gymnasium's own env)."""
    eval_seed_offset: int = 10_000
    """Evaluation episode k resets with seed + eval_seed_offset + k, away from the training envs' seeds."""
    target_return: float | None = 475.0
    """Stop once a periodic evaluation's mean return reaches this (None: train the whole budget)."""


class AgentRunConfig(Strict):
    """Fields shared by every agent run."""

    seed: int = Field(default=0, ge=0)
    """Seeds Python, NumPy, torch and the environments."""
    device: str = Field(default="auto", pattern=DEVICE_PATTERN)
    """auto | cpu | cuda | cuda:N."""
    env: EnvConfig = Field(default_factory=EnvConfig)
    policy: MLPConfig = Field(default_factory=lambda: MLPConfig(output_gain=0.01))
    """The policy network (observation → action logits)."""
    value: MLPConfig = Field(default_factory=lambda: MLPConfig(output_gain=1.0))
    """The value network (observation → V(s)), built only when the algorithm uses a critic."""
    optimizer: OptimizerConfig = Field(default_factory=OptimizerConfig)
    train: AgentTrainConfig = Field(default_factory=AgentTrainConfig)


class ReinforceRunConfig(AgentRunConfig):
    algo: Literal["reinforce"]
    reinforce: ReinforceConfig = Field(default_factory=ReinforceConfig)


class A2CRunConfig(AgentRunConfig):
    algo: Literal["a2c"]
    a2c: A2CConfig = Field(default_factory=A2CConfig)


class PPORunConfig(AgentRunConfig):
    algo: Literal["ppo"]
    ppo: PPOConfig = Field(default_factory=PPOConfig)


AGENT_CONFIGS: dict[str, type[AgentRunConfig]] = {
    "reinforce": ReinforceRunConfig,
    "a2c": A2CRunConfig,
    "ppo": PPORunConfig,
}
