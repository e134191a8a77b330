"""rlgen's torch envs (CartPole, Pendulum) as a stable-baselines3 VecEnv (numpy at the boundary, as SB3 expects)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from stable_baselines3.common.vec_env.base_vec_env import VecEnv

from rlgen.envs.torch_cartpole import TorchCartPoleVectorEnv


class TorchCartPoleSB3VecEnv(VecEnv):
    """SB3's conventions: a finished copy is reset within the same step, its final observation is in
    `infos[i]["terminal_observation"]`, and `infos[i]["TimeLimit.truncated"]` marks a time-limit end."""

    def __init__(
        self, num_envs: int, device: str | torch.device = "cpu", seed: int | None = None, compile: bool = False,
        max_episode_steps: int = 500, observe: list[int] | None = None, torch_env=None,
    ):
        """The torch CartPole of these settings, or `torch_env`, any of rlgen's torch vector envs, as it is."""
        self.torch_env = torch_env or TorchCartPoleVectorEnv(num_envs, device, max_episode_steps=max_episode_steps,
                                                             compile=compile, observe=observe)
        super().__init__(num_envs, self.torch_env.single_observation_space, self.torch_env.single_action_space)
        self._seed = seed
        self._actions: np.ndarray | None = None

    def reset(self) -> np.ndarray:
        obs, _ = self.torch_env.reset(seed=self._seed)
        self._seed = None
        return obs.cpu().numpy()

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = actions

    def step_wait(self):
        obs, reward, terminated, truncated, _ = self.torch_env.step(torch.as_tensor(self._actions).reshape(-1))
        done = terminated | truncated
        final = obs.cpu().numpy()
        term, trunc, dones = terminated.cpu().numpy(), truncated.cpu().numpy(), done.cpu().numpy()
        infos: list[dict[str, Any]] = [{} for _ in range(self.num_envs)]
        if dones.any():
            obs = self.torch_env.reset_done()
            for i in np.flatnonzero(dones):
                infos[i]["terminal_observation"] = final[i]
                infos[i]["TimeLimit.truncated"] = bool(trunc[i] and not term[i])
        return obs.cpu().numpy(), reward.cpu().numpy(), dones, infos

    def seed(self, seed: int | None = None):
        self._seed = seed
        return [seed] * self.num_envs

    def close(self) -> None:
        pass

    def get_attr(self, attr_name: str, indices=None) -> list[Any]:
        return [getattr(self.torch_env, attr_name)] * len(self._get_indices(indices))

    def set_attr(self, attr_name: str, value: Any, indices=None) -> None:
        setattr(self.torch_env, attr_name, value)

    def env_method(self, method_name: str, *args, indices=None, **kwargs) -> list[Any]:
        return [getattr(self.torch_env, method_name)(*args, **kwargs)] * len(self._get_indices(indices))

    def env_is_wrapped(self, wrapper_class, indices=None) -> list[bool]:
        return [False] * len(self._get_indices(indices))
