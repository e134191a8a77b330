"""Partial observation: an agent that sees only some components of an environment's observation (CartPole's cart
position and pole angle, its velocities hidden: the classic test of a policy with memory, as in sb3-contrib's and
rl-baselines3-zoo's CartPoleNoVel). The same selection is applied by every env rlgen builds — training (gymnasium's
or the torch CartPole), evaluation, rendering and the stable-baselines3 bridge — so all of them see the same
masked observations."""

from __future__ import annotations

from typing import Sequence

import gymnasium as gym
import numpy as np

from rlgen.errors import ConfigError


def observed_space(space: gym.spaces.Box, keep: Sequence[int], env_id: str) -> gym.spaces.Box:
    """The Box of the kept components (checked against the env's observation size)."""
    size = space.shape[0]
    outside = [i for i in keep if not 0 <= i < size]
    if outside:
        raise ConfigError(f"env.observe: component {outside[0]} is outside {env_id}'s {size} observation components "
                         f"(0 to {size - 1})")
    index = list(keep)
    return gym.spaces.Box(space.low[index], space.high[index], dtype=space.dtype)


class ObservationSubset(gym.ObservationWrapper):
    """One env's observations reduced to the components `keep` (in that order)."""

    def __init__(self, env: gym.Env, keep: Sequence[int]):
        super().__init__(env)
        self.keep = np.asarray(keep, dtype=np.int64)
        self.observation_space = observed_space(env.observation_space, keep, str(env.spec.id if env.spec else env))

    def observation(self, observation: np.ndarray) -> np.ndarray:
        return observation[self.keep]


class VectorObservationSubset(gym.vector.VectorObservationWrapper):
    """A vector env's observations (N, D) reduced to the components `keep`: (N, len(keep))."""

    def __init__(self, envs: gym.vector.VectorEnv, keep: Sequence[int], env_id: str):
        super().__init__(envs)
        self.keep = np.asarray(keep, dtype=np.int64)
        self.single_observation_space = observed_space(envs.single_observation_space, keep, env_id)
        self.observation_space = gym.vector.utils.batch_space(self.single_observation_space, envs.num_envs)

    def observations(self, observations: np.ndarray) -> np.ndarray:
        return observations[:, self.keep]
