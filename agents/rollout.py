"""Collecting experience from a gymnasium vector env into (T, N, ...) tensors on the training device.

Resets: the vector env uses gymnasium's next-step autoreset. When copy i ends an episode at step t (terminated or
truncated), the observation it returns is that episode's final observation; its step t+1 ignores the action,
resets, and returns reward 0 with the first observation of a new episode. The collector marks such reset steps
invalid, so `valid` is true exactly for real transitions, and obs[t+1] is always s_{t+1} of transition t (the
final observation when t ended an episode), which is what a critic needs to bootstrap a truncated episode.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import gymnasium as gym
import numpy as np
import torch

from agents.policy import ActorCritic


@dataclass
class Rollout:
    obs: torch.Tensor  # (T, N, obs_dim) observation the action was chosen on
    actions: torch.Tensor  # (T, N)
    logp: torch.Tensor  # (T, N) log π(a|s) under the policy that collected the data
    rewards: torch.Tensor  # (T, N)
    terminated: torch.Tensor  # (T, N) bool: the MDP reached a terminal state
    truncated: torch.Tensor  # (T, N) bool: the episode was cut by a time limit
    valid: torch.Tensor  # (T, N) bool: a real transition (not a reset step, not past the episode in episode mode)
    last_obs: torch.Tensor  # (N, obs_dim) observation after the final step
    num_steps: int  # number of valid transitions (environment steps used)
    ep_returns: list[float] = field(default_factory=list)  # episodes that ended in this rollout
    ep_lengths: list[int] = field(default_factory=list)

    def next_obs(self) -> torch.Tensor:
        """s_{t+1} for every t: (T, N, obs_dim)."""
        return torch.cat([self.obs[1:], self.last_obs.unsqueeze(0)], dim=0)


class RolloutCollector:
    """Steps a vector env with a policy; either T steps per call (envs carry on between calls) or whole episodes."""

    def __init__(self, envs: gym.vector.VectorEnv, policy: ActorCritic, device: torch.device, seed: int):
        self.envs = envs
        self.policy = policy
        self.device = device
        self.num_envs = envs.num_envs
        self._seed: int | None = seed  # used by the first reset only; later resets continue the env's own RNG
        self._obs: torch.Tensor | None = None
        self._after_done = np.zeros(self.num_envs, dtype=bool)  # next step of this copy is a reset step
        self._ep_return = np.zeros(self.num_envs)
        self._ep_length = np.zeros(self.num_envs, dtype=np.int64)

    def _reset(self) -> None:
        obs, _ = self.envs.reset(seed=self._seed)
        self._seed = None
        self._obs = self._to_device(obs)
        self._after_done[:] = False
        self._ep_return[:] = 0.0
        self._ep_length[:] = 0

    def _to_device(self, array: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(array, dtype=torch.float32, device=self.device)

    def collect(self, num_steps: int | None) -> Rollout:
        """`num_steps` steps of every copy, or (None) one whole episode per copy, each starting fresh."""
        whole_episodes = num_steps is None
        if self._obs is None or whole_episodes:
            self._reset()
        finished = np.zeros(self.num_envs, dtype=bool)  # episode mode: this copy's episode has ended
        obs_list, act_list, logp_list = [], [], []
        rew_list, term_list, trunc_list, valid_list = [], [], [], []
        ep_returns: list[float] = []
        ep_lengths: list[int] = []
        t = 0
        while (t < num_steps) if not whole_episodes else not finished.all():
            obs = self._obs
            action, logp = self.policy.act(obs)
            next_obs, reward, terminated, truncated, _ = self.envs.step(action.cpu().numpy())  # the env boundary
            valid = ~self._after_done & ~finished
            done = terminated | truncated
            self._ep_return += np.where(valid, reward, 0.0)
            self._ep_length += valid
            for i in np.flatnonzero(done & valid):
                ep_returns.append(float(self._ep_return[i]))
                ep_lengths.append(int(self._ep_length[i]))
                self._ep_return[i] = 0.0
                self._ep_length[i] = 0
            if whole_episodes:
                finished |= done & valid
            self._after_done = done
            obs_list.append(obs)
            act_list.append(action)
            logp_list.append(logp)
            rew_list.append(reward)
            term_list.append(terminated)
            trunc_list.append(truncated)
            valid_list.append(valid)
            self._obs = self._to_device(next_obs)
            t += 1
        valid_np = np.stack(valid_list)
        return Rollout(
            obs=torch.stack(obs_list),
            actions=torch.stack(act_list),
            logp=torch.stack(logp_list),
            rewards=self._to_device(np.stack(rew_list)),
            terminated=torch.as_tensor(np.stack(term_list), device=self.device),
            truncated=torch.as_tensor(np.stack(trunc_list), device=self.device),
            valid=torch.as_tensor(valid_np, device=self.device),
            last_obs=self._obs,
            num_steps=int(valid_np.sum()),
            ep_returns=ep_returns,
            ep_lengths=ep_lengths,
        )
