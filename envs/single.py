"""One copy of a torch vector env behind gymnasium's single-env API (numpy in and out), so that
`gymnasium.make("rlgen/…")` works; batched training uses the vector envs directly."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import torch


class SingleTorchEnv(gym.Env):
    """`vec` (a one-copy torch vector env whose own time limit lies beyond gymnasium's TimeLimit, which cuts the
    episode) as a gymnasium Env; subclasses say how one action becomes a batch of one (`batched`)."""

    metadata = {"render_modes": []}

    def __init__(self, vec: gym.vector.VectorEnv):
        self._vec = vec
        self.observation_space = vec.single_observation_space
        self.action_space = vec.single_action_space

    def batched(self, action) -> torch.Tensor:
        raise NotImplementedError

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        obs, info = self._vec.reset(seed=seed)
        return obs[0].numpy(), info

    def step(self, action):
        obs, reward, terminated, _, info = self._vec.step(self.batched(action))
        self._vec.clear_done()  # the single-env API resets explicitly, never automatically
        return obs[0].numpy(), float(reward[0]), bool(terminated[0]), False, info
