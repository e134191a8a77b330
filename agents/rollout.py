"""Collecting experience from a vector env into (T, N, ...) tensors on the training device.

Resets: the vector env uses gymnasium's next-step autoreset. When copy i ends an episode at step t (terminated or
truncated), the observation it returns is that episode's final observation; its step t+1 ignores the action,
resets, and returns reward 0 with the first observation of a new episode. The collector marks such reset steps
invalid, so `valid` is true exactly for real transitions, and obs[t+1] is always s_{t+1} of transition t (the
final observation when t ended an episode), which is what a critic needs to bootstrap a truncated episode.

All bookkeeping is in torch on the device: with rlgen's torch CartPole no step copies anything to the host; with a
gymnasium env, actions go to numpy and results come back at the env boundary only.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import gymnasium as gym
import numpy as np
import torch

from agents.policy import ActorCritic

TORCH_ENV_CHECK_EVERY = 8  # episode mode with a torch env: ask the device whether all copies finished every 8 steps


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
        self.torch_env = isinstance(getattr(envs, "state", None), torch.Tensor)
        self._seed: int | None = seed  # used by the first reset only; later resets continue the env's own RNG
        self._obs: torch.Tensor | None = None
        n = self.num_envs
        self._after_done = torch.zeros(n, dtype=torch.bool, device=device)  # next step of this copy is a reset step
        self._ep_return = torch.zeros(n, device=device)
        self._ep_length = torch.zeros(n, dtype=torch.int64, device=device)

    def _reset(self) -> None:
        obs, _ = self.envs.reset(seed=self._seed)
        self._seed = None
        self._obs = self._tensor(obs, torch.float32)
        self._after_done.zero_()
        self._ep_return.zero_()
        self._ep_length.zero_()

    def _tensor(self, value, dtype: torch.dtype) -> torch.Tensor:
        return torch.as_tensor(value, dtype=dtype, device=self.device)

    def _env_step(self, action: torch.Tensor):
        if self.torch_env:
            return self.envs.step(action)
        obs, reward, terminated, truncated, _ = self.envs.step(action.cpu().numpy())  # the env boundary
        return (self._tensor(obs, torch.float32), self._tensor(reward, torch.float32),
                self._tensor(terminated, torch.bool), self._tensor(truncated, torch.bool), {})

    def collect(self, num_steps: int | None) -> Rollout:
        """`num_steps` steps of every copy, or (None) one whole episode per copy, each starting fresh."""
        whole_episodes = num_steps is None
        if self._obs is None or whole_episodes:
            self._reset()
        finished = torch.zeros(self.num_envs, dtype=torch.bool, device=self.device)  # episode mode: copy is done
        columns: dict[str, list[torch.Tensor]] = {k: [] for k in
                                                  ("obs", "act", "logp", "rew", "term", "trunc", "valid", "ended", "ret", "len")}
        check_every = TORCH_ENV_CHECK_EVERY if self.torch_env else 1  # a gymnasium env syncs every step anyway
        t = 0
        while (t < num_steps) if not whole_episodes else not (t % check_every == 0 and t and bool(finished.all())):
            obs = self._obs
            action, logp = self.policy.act(obs)
            next_obs, reward, terminated, truncated, _ = self._env_step(action)
            valid = ~self._after_done & ~finished
            done = terminated | truncated
            ended = done & valid  # an episode of ours ended here: record its return and length
            self._ep_return += reward * valid
            self._ep_length += valid
            columns["ret"].append(self._ep_return.clone())
            columns["len"].append(self._ep_length.clone())
            self._ep_return.masked_fill_(ended, 0.0)
            self._ep_length.masked_fill_(ended, 0)
            if whole_episodes:
                finished |= ended
            self._after_done = done
            for key, value in (("obs", obs), ("act", action), ("logp", logp), ("rew", reward), ("term", terminated),
                               ("trunc", truncated), ("valid", valid), ("ended", ended)):
                columns[key].append(value)
            self._obs = next_obs
            t += 1
        stacked = {k: torch.stack(v) for k, v in columns.items()}
        ended = stacked["ended"]
        return Rollout(
            obs=stacked["obs"],
            actions=stacked["act"],
            logp=stacked["logp"],
            rewards=stacked["rew"],
            terminated=stacked["term"],
            truncated=stacked["trunc"],
            valid=stacked["valid"],
            last_obs=self._obs,
            num_steps=int(stacked["valid"].sum()),  # one host sync per rollout
            ep_returns=stacked["ret"][ended].tolist(),
            ep_lengths=stacked["len"][ended].tolist(),
        )
