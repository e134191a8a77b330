"""Collecting experience from a vector env into (T, N, ...) tensors on the training device.

Resets: the vector env uses gymnasium's next-step autoreset. When copy i ends an episode at step t (terminated or
truncated), the observation it returns is that episode's final observation; its step t+1 ignores the action,
resets, and returns reward 0 with the first observation of a new episode. The collector marks such reset steps
invalid, so `valid` is true exactly for real transitions, and obs[t+1] is always s_{t+1} of transition t (the
final observation when t ended an episode), which is what a critic needs to bootstrap a truncated episode.

All bookkeeping is in torch on the device: with rlgen's torch CartPole no step copies anything to the host; with a
gymnasium env, actions go to numpy and results come back at the env boundary only.

A recurrent policy's state is carried from step to step and from rollout to rollout: `starts[t]` marks the steps
whose observation is an episode's first (the step after a reset step), where the state is zeroed before it is read
(agents/memory.py says why that is the step), and `memory` keeps the states the rollout began with, so that the
update replays exactly the sequences that were played.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym
import torch

from rlgen.agents.distributions import gumbel_noise
from rlgen.agents.policy import ActorCritic
from rlgen.checkpoint import check_like
from rlgen.errors import RlgenError

TORCH_ENV_CHECK_EVERY = 8  # episode mode with a torch env: ask the device whether all copies finished every 8 steps


@dataclass
class Rollout:
    obs: torch.Tensor  # (T, N, obs_dim) observation the action was chosen on
    actions: torch.Tensor  # (T, N) for a categorical policy; (T, N, A) for a Gaussian (its unclipped samples)
    rewards: torch.Tensor  # (T, N)
    terminated: torch.Tensor  # (T, N) bool: the MDP reached a terminal state
    truncated: torch.Tensor  # (T, N) bool: the episode was cut by a time limit
    valid: torch.Tensor  # (T, N) bool: a real transition (not a reset step, not past the episode in episode mode)
    last_obs: torch.Tensor  # (N, obs_dim) observation after the final step
    num_steps: int  # number of valid transitions (environment steps used)
    ep_returns: list[float] = field(default_factory=list)  # episodes that ended in this rollout
    ep_lengths: list[int] = field(default_factory=list)
    starts: torch.Tensor | None = None  # (T, N) bool: obs[t] is an episode's first observation (recurrent policies)
    last_start: torch.Tensor | None = None  # (N,) bool: last_obs is an episode's first observation
    memory: dict[str, torch.Tensor] = field(default_factory=dict)  # recurrent states before step 0, (K, L, N, H)

    def select(self, copies: torch.Tensor) -> "Rollout":
        """The rollout of some env copies only (whole sequences, with the states they began in): PPO's recurrent
        minibatches."""
        cols = {name: getattr(self, name)[:, copies] for name in ("obs", "actions", "rewards", "terminated",
                                                                  "truncated", "valid")}
        return Rollout(**cols, last_obs=self.last_obs[copies], num_steps=int(cols["valid"].sum()),
                       starts=self.starts[:, copies] if self.starts is not None else None,
                       last_start=self.last_start[copies] if self.last_start is not None else None,
                       memory={k: v[:, :, copies] for k, v in self.memory.items()})


def finished_episodes(
    rewards: torch.Tensor, valid: torch.Tensor, ended: torch.Tensor, carry: tuple[torch.Tensor, torch.Tensor]
) -> tuple[torch.Tensor, torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
    """Return and length of every episode that ended in a rollout ((T, N) masks; in row-major (t, n) order), and
    the (return, length) so far of the episodes still running at its end. `carry` holds those of the episodes
    running at its start, so that an episode split over two step-mode rollouts is counted whole."""
    t_index = torch.arange(1, len(rewards) + 1, device=rewards.device).unsqueeze(1)  # row of the cumulative sums
    last_end = torch.where(ended, t_index, 0).cummax(0).values  # (T, N) row after the latest end at or before t
    start = torch.cat([torch.zeros_like(last_end[:1]), last_end[:-1]])  # … strictly before t
    totals = []
    for per_step, running in ((rewards * valid, carry[0]), (valid.long(), carry[1])):
        # row 0 holds −running, so that a sum from row 0 adds what was counted before this rollout
        cumulative = torch.cat([-running.unsqueeze(0), per_step.to(running.dtype).cumsum(0)])  # (T + 1, N)
        so_far = cumulative[-1] - cumulative.gather(0, last_end[-1:])[0]
        totals.append((cumulative[1:] - cumulative.gather(0, start), so_far))
    (returns, ret_carry), (lengths, len_carry) = totals
    return returns[ended], lengths[ended], (ret_carry, len_carry)


class ActionNoise:
    """The standard noise a policy's draws are made from (Gumbel(0, 1) for Gumbel-max, N(0, 1) for a Gaussian),
    drawn for `CHUNK` steps at once (one RNG call and a few ops per chunk instead of per step)."""

    CHUNK = 64

    def __init__(self, shape: tuple[int, ...], device: torch.device, draw=gumbel_noise):
        self.shape, self.device, self.draw = shape, device, draw
        self._chunk = torch.empty(0, *shape, device=device)
        self._next = 0

    def keep(self, copies: torch.Tensor) -> None:
        """Go on with only these copies' noise (the rest of the current chunk included)."""
        self.shape = (len(copies), *self.shape[1:])
        self._chunk = self._chunk[:, copies]

    def next(self) -> torch.Tensor:
        if self._next == len(self._chunk):
            self._chunk = self.draw(self.CHUNK, *self.shape, device=self.device)
            self._next = 0
        self._next += 1
        return self._chunk[self._next - 1]


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
        self._fresh = torch.ones(n, dtype=torch.bool, device=device)  # the next observation is an episode's first
        self._running = (torch.zeros(n, device=device), torch.zeros(n, dtype=torch.int64, device=device))
        self._noise = ActionNoise((n, policy.dist.noise_width), device, policy.dist.noise)
        self.recurrent = getattr(policy, "recurrent", False)
        self._memory = policy.initial_memory(n, device) if self.recurrent else {}

    def state_dict(self) -> dict[str, torch.Tensor] | None:
        """Where collection stands (the torch env's own state, the last observation, episode bookkeeping, the Gumbel
        noise not yet used), copied; None for gymnasium's envs, whose state cannot be saved."""
        if not self.torch_env or self._obs is None:
            return None
        return {**{f"env.{k}": v for k, v in self.envs.get_state().items()}, "obs": self._obs.clone(),
                "after_done": self._after_done.clone(), "fresh": self._fresh.clone(),
                "running_return": self._running[0].clone(), "running_length": self._running[1].clone(),
                "noise": self._noise._chunk.clone(), "noise_used": torch.tensor(self._noise._next),
                **{f"memory.{k}": v.clone() for k, v in self._memory.items()}}

    def load_state_dict(self, saved: Any, what: str = "collector state") -> None:
        """Continue from `state_dict`'s copy (checked against this collector's shapes first)."""
        if not self.torch_env:
            raise RlgenError(f"{what}: only the torch CartPole's state can be restored")
        if not isinstance(saved, dict) or not isinstance(saved.get("noise"), torch.Tensor):
            raise RlgenError(f"{what} is damaged")
        n, actions = self.num_envs, self.policy.dist.noise_width
        if "fresh" not in saved and not self.recurrent:  # saved by rlgen 0.2, before recurrent policies; unused here
            saved = {**saved, "fresh": torch.zeros(n, dtype=torch.bool)}
        current = {"obs": torch.zeros(n, self.envs.single_observation_space.shape[0]),
                   "after_done": torch.zeros(n, dtype=torch.bool), "fresh": torch.zeros(n, dtype=torch.bool),
                   "running_return": torch.zeros(n), "running_length": torch.zeros(n, dtype=torch.int64),
                   "noise": torch.zeros(len(saved["noise"]), n, actions), "noise_used": torch.tensor(0),
                   **{f"memory.{k}": torch.zeros_like(v, device="cpu") for k, v in self._memory.items()}}
        env = {k[4:]: v for k, v in saved.items() if k.startswith("env.")}
        check_like({k: v for k, v in saved.items() if not k.startswith("env.")}, current, what)
        used = int(saved["noise_used"])
        if not 0 <= used <= len(saved["noise"]):
            raise RlgenError(f"{what}: noise_used {used} is outside the saved noise")
        self.envs.set_state(env, what)
        to = lambda t: t.to(self.device)  # noqa: E731
        self._obs, self._after_done, self._fresh = to(saved["obs"]), to(saved["after_done"]), to(saved["fresh"])
        self._running = (to(saved["running_return"]), to(saved["running_length"]))
        self._memory = {k: to(saved[f"memory.{k}"]) for k in self._memory}
        self._noise._chunk, self._noise._next = to(saved["noise"]), used
        self._seed = None  # the env's generator continues where it was

    def keep(self, copies: torch.Tensor) -> None:
        """Go on collecting from only these copies of the torch env (indices into the current ones): each keeps its
        episode, its episode bookkeeping and its share of the Gumbel noise already drawn."""
        if not self.torch_env:
            raise RlgenError("only the torch CartPole's copies can be dropped")
        copies = copies.to(self.device)
        self.envs.keep(copies)
        self.num_envs = len(copies)
        if self._obs is not None:
            self._obs = self._obs[copies]
        self._after_done, self._fresh = self._after_done[copies], self._fresh[copies]
        self._running = (self._running[0][copies], self._running[1][copies])
        self._memory = {k: v[:, :, copies] for k, v in self._memory.items()}
        self._noise.keep(copies)

    def _reset(self) -> None:
        obs, _ = self.envs.reset(seed=self._seed)
        self._seed = None
        self._obs = self._tensor(obs, torch.float32)
        self._after_done.zero_()
        self._fresh = torch.ones_like(self._fresh)
        self._running = (torch.zeros_like(self._running[0]), torch.zeros_like(self._running[1]))

    def _tensor(self, value, dtype: torch.dtype) -> torch.Tensor:
        return torch.as_tensor(value, dtype=dtype, device=self.device)

    def _env_step(self, action: torch.Tensor):
        if self.torch_env:
            return self.envs.step(action)
        obs, reward, terminated, truncated, _ = self.envs.step(action.cpu().numpy())  # the env boundary
        return (self._tensor(obs, torch.float32), self._tensor(reward, torch.float32),
                self._tensor(terminated, torch.bool), self._tensor(truncated, torch.bool), {})

    def collect(self, num_steps: int | None, limit: int | None = None) -> Rollout:
        """`num_steps` steps of every copy, or (None) one whole episode per copy, each starting fresh. `limit`: at
        most that many steps of every copy (the end of the step budget); an episode still running then is cut, as
        by a step-mode rollout's end (its return bootstrapped by a critic, or the return so far)."""
        whole_episodes = num_steps is None
        if limit is not None:
            num_steps = min(num_steps, limit) if num_steps is not None else None
        if self._obs is None or whole_episodes:
            self._reset()
        # blocked: this copy's step is not a transition of ours — a reset step (step mode) or after its episode
        blocked = self._after_done.clone()
        columns: dict[str, list[torch.Tensor]] = {k: [] for k in ("obs", "act", "rew", "term", "trunc", "valid",
                                                                   "start")}
        check_every = TORCH_ENV_CHECK_EVERY if self.torch_env else 1  # a gymnasium env syncs every step anyway
        memory = self._memory  # the states this rollout begins with (kept as they are: steps make new tensors)
        t = 0
        with torch.no_grad():
            while (t < num_steps) if not whole_episodes else not (
                    t == limit or t % check_every == 0 and t and bool(blocked.all())):
                obs, start = self._obs, self._fresh
                if self.recurrent:
                    logits, self._memory = self.policy.step_logits(obs, self._memory, start)
                    action = self.policy.dist.sample(logits, self._noise.next())
                else:
                    action = self.policy.sample(obs, self._noise.next())
                next_obs, reward, terminated, truncated, _ = self._env_step(self.policy.dist.to_env(action))
                valid = ~blocked
                done = terminated | truncated
                blocked = blocked | done if whole_episodes else done
                # a step right after an episode's end is its reset step: what it returns is the next one's first
                self._fresh = self._after_done
                self._after_done = done
                for key, value in (("obs", obs), ("act", action), ("rew", reward), ("term", terminated),
                                   ("trunc", truncated), ("valid", valid), ("start", start)):
                    columns[key].append(value)
                self._obs = next_obs
                t += 1
        stacked = {k: torch.stack(v) for k, v in columns.items()}
        ended = (stacked["term"] | stacked["trunc"]) & stacked["valid"]  # an episode of ours ended at this step
        ep_returns, ep_lengths, self._running = finished_episodes(stacked["rew"], stacked["valid"], ended, self._running)
        rollout = Rollout(
            obs=stacked["obs"],
            actions=stacked["act"],
            rewards=stacked["rew"],
            terminated=stacked["term"],
            truncated=stacked["trunc"],
            valid=stacked["valid"],
            last_obs=self._obs,
            num_steps=int(stacked["valid"].sum()),  # one host sync per rollout
            ep_returns=ep_returns.tolist(),
            ep_lengths=ep_lengths.tolist(),
            starts=stacked["start"] if self.recurrent else None,
            last_start=self._fresh if self.recurrent else None,
            memory=memory,
        )
        if "critic" in self._memory:  # the critic is not stepped while acting: its state after the rollout, at once
            with torch.no_grad():
                self._memory = {**self._memory, "critic": self.policy.critic_state_after(rollout)}
        return rollout
