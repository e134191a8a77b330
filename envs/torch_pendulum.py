"""Pendulum-v1 batched in torch: a continuous-action task whose whole rollout stays on the training device."""

from __future__ import annotations

import math
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from gymnasium.vector.vector_env import AutoresetMode

from rlgen.envs.observe import observed_space
from rlgen.envs.single import SingleTorchEnv
from rlgen.checkpoint import check_like

MAX_SPEED, MAX_TORQUE, DT, GRAVITY, MASS, LENGTH = 8.0, 2.0, 0.05, 10.0, 1.0, 1.0
OBS_HIGH = np.array([1.0, 1.0, MAX_SPEED], dtype=np.float32)
START_HIGH = (math.pi, 1.0)  # gymnasium's default reset bounds of θ and θ̇


def angle_normalize(x: torch.Tensor) -> torch.Tensor:
    return torch.remainder(x + math.pi, 2 * math.pi) - math.pi


def transition(state, steps, prev_done, torque, starts, max_episode_steps: int):
    """One step of every copy as a pure function of tensors: gymnasium's Pendulum-v1 physics and cost, in float64
    and in its order of operations (fused where torch has one kernel for two: the results agree with gymnasium's
    to within rounding). Copies flagged in `prev_done` take their column of `starts` instead. Returns
    (state, steps, done, observations, rewards, truncated)."""
    theta, theta_dot = state
    u = torque.clamp(-MAX_TORQUE, MAX_TORQUE)
    costs = torch.addcmul(angle_normalize(theta).square(), theta_dot, theta_dot, value=0.1).addcmul_(u, u, value=0.001)
    # θ̇ + (3g/(2l) sin θ + 3/(m l²) u) dt, clipped to the speed limit
    new_theta_dot = torch.sin(theta).mul_(3 * GRAVITY / (2 * LENGTH)).add_(u, alpha=3.0 / (MASS * LENGTH**2))
    new_theta_dot = new_theta_dot.mul_(DT).add_(theta_dot).clamp_(-MAX_SPEED, MAX_SPEED)
    state = torch.where(prev_done, starts, torch.stack((theta + new_theta_dot * DT, new_theta_dot)))
    steps = (steps + 1).masked_fill_(prev_done, 0)  # a reset step starts the count again
    truncated = steps >= max_episode_steps  # Pendulum never terminates: its TimeLimit truncates it
    obs = torch.stack((torch.cos(state[0]), torch.sin(state[0]), state[1]), dim=1).float()
    return state, steps, truncated, obs, costs.masked_fill_(prev_done, 0.0).neg_().float(), truncated


class TorchPendulumVectorEnv(gym.vector.VectorEnv):
    """
    ## Description
    `num_envs` copies of gymnasium's Pendulum-v1 stepped together as torch tensors on one device: a pendulum
    attached at one end, swung up and held upright by a torque at its pivot. Physics (g = 10, m = l = 1,
    dt = 0.05 s, |θ̇| ≤ 8), cost, 200-step truncation and reset distribution are gymnasium's; the state is float64
    like gymnasium's, observations float32.

    ## Action Space
    A float tensor of shape `(num_envs, 1)`: the torque, clipped to [−2, 2].

    ## Observation Space
    A float32 tensor of shape `(num_envs, 3)`: cos θ, sin θ and θ̇ (θ = 0 is upright).

    ## Rewards
    −(θ² + 0.1 θ̇² + 0.001 u²) with θ normalised to [−π, π): between about −16.3 and 0.

    ## Starting State
    θ uniform in [−π, π], θ̇ uniform in [−1, 1], drawn from the env's own torch generator.

    ## Episode End
    Never terminated; truncated after 200 steps. Resets are next-step autoresets, as in the torch CartPole: the
    step after an episode's end ignores its action and returns the new episode's first observation with
    reward 0.
    """

    metadata = {"autoreset_mode": AutoresetMode.NEXT_STEP, "render_modes": []}

    def __init__(self, num_envs: int = 1, device: str | torch.device = "cpu", max_episode_steps: int = 200,
                 observe: list[int] | None = None):
        self.num_envs = num_envs
        self.device = torch.device(device)
        self.max_episode_steps = max_episode_steps
        full = gym.spaces.Box(-OBS_HIGH, OBS_HIGH, dtype=np.float32)
        self.single_observation_space = observed_space(full, observe, "Pendulum-v1") if observe is not None else full
        self._observe = torch.tensor(observe, device=self.device) if observe is not None else None
        self.single_action_space = gym.spaces.Box(-MAX_TORQUE, MAX_TORQUE, (1,), dtype=np.float32)
        self._batch_spaces()
        self.generator = torch.Generator(device=self.device)
        self.generator.seed()
        self.state = torch.zeros(2, num_envs, dtype=torch.float64, device=self.device)  # θ, θ̇ as rows
        self.steps = torch.zeros(num_envs, dtype=torch.int32, device=self.device)
        self._done = torch.zeros(num_envs, dtype=torch.bool, device=self.device)
        self._high = torch.tensor(START_HIGH, dtype=torch.float64, device=self.device).unsqueeze(1)

    def _batch_spaces(self) -> None:
        self.observation_space = gym.vector.utils.batch_space(self.single_observation_space, self.num_envs)
        self.action_space = gym.vector.utils.batch_space(self.single_action_space, self.num_envs)

    @property
    def prev_done(self) -> torch.Tensor:
        """(N,) bool: the copies whose episode ended on the last step (they reset on the next one)."""
        return self._done

    def clear_done(self) -> None:
        self._done = torch.zeros_like(self._done)

    def _uniform_states(self) -> torch.Tensor:
        u = torch.rand(2, self.num_envs, generator=self.generator, dtype=torch.float64, device=self.device)
        return (2 * u - 1) * self._high

    def get_state(self) -> dict[str, torch.Tensor]:
        """Everything the next steps depend on (state, step counts, done flags, the generator), copied."""
        return {"state": self.state.clone(), "steps": self.steps.clone(), "done": self._done.clone(),
                "generator": self.generator.get_state()}

    def set_state(self, saved: Any, what: str = "environment state") -> None:
        saved = check_like(saved, self.get_state(), what)
        self.generator.set_state(saved["generator"])
        self.state, self.steps = saved["state"].to(self.device), saved["steps"].to(self.device)
        self._done = saved["done"].to(self.device)

    def keep(self, copies: torch.Tensor) -> None:
        """Go on with only these copies (indices into the current ones), as they were; the generator continues."""
        self.state, self.steps, self._done = self.state[:, copies], self.steps[copies], self._done[copies]
        self.num_envs = len(copies)
        self._batch_spaces()

    def observations(self) -> torch.Tensor:
        theta, theta_dot = self.state
        return self._observed(torch.stack((torch.cos(theta), torch.sin(theta), theta_dot), dim=1).float())

    def _observed(self, obs: torch.Tensor) -> torch.Tensor:
        return obs if self._observe is None else obs.index_select(1, self._observe)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        if seed is not None:
            self.generator.manual_seed(seed)
        self.state = self._uniform_states()
        self.steps.zero_()
        self.clear_done()
        return self.observations(), {}

    def reset_done(self) -> torch.Tensor:
        """Reset now the copies whose episode ended on the last step (same-step autoreset, for SB3's VecEnv)."""
        self.state = torch.where(self._done, self._uniform_states(), self.state)
        self.steps.mul_(~self._done)
        self.clear_done()
        return self.observations()

    def step(self, actions: torch.Tensor):
        torque = torch.as_tensor(actions, device=self.device).to(torch.float64).reshape(self.num_envs)
        self.state, self.steps, self._done, obs, rewards, truncated = transition(
            self.state, self.steps, self._done, torque, self._uniform_states(), self.max_episode_steps)
        return self._observed(obs), rewards, torch.zeros_like(truncated), truncated, {}


class TorchPendulumEnv(SingleTorchEnv):
    """One copy of the torch Pendulum as a gymnasium Env (`gymnasium.make("rlgen/Pendulum-v1")`)."""

    def __init__(self, max_episode_steps: int = 200):
        super().__init__(TorchPendulumVectorEnv(1, "cpu", max_episode_steps=max_episode_steps + 1))

    def batched(self, action) -> torch.Tensor:
        return torch.as_tensor(np.asarray(action, dtype=np.float64).reshape(1, 1))


def register() -> None:
    if "rlgen/Pendulum-v1" not in gym.registry:
        gym.register(id="rlgen/Pendulum-v1", entry_point="rlgen.envs.torch_pendulum:TorchPendulumEnv",
                     vector_entry_point="rlgen.envs.torch_pendulum:TorchPendulumVectorEnv", max_episode_steps=200)
