"""CartPole-v1 batched in torch: the whole rollout stays on the training device (CPU or GPU)."""

from __future__ import annotations

import math
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from gymnasium.vector.vector_env import AutoresetMode

GRAVITY, MASSCART, MASSPOLE, LENGTH, FORCE_MAG, TAU = 9.8, 1.0, 0.1, 0.5, 10.0, 0.02
TOTAL_MASS = MASSCART + MASSPOLE
POLEMASS_LENGTH = MASSPOLE * LENGTH
THETA_THRESHOLD = 12 * 2 * math.pi / 360
X_THRESHOLD = 2.4
OBS_HIGH = np.array([X_THRESHOLD * 2, np.inf, THETA_THRESHOLD * 2, np.inf], dtype=np.float32)


class TorchCartPoleVectorEnv(gym.vector.VectorEnv):
    """
    ## Description
    `num_envs` copies of gymnasium's CartPole-v1 (Barto, Sutton & Anderson, 1983) stepped together as torch
    tensors on one device: a pole on a cart that moves along a frictionless track, balanced by pushing the cart
    left or right. The physics (Euler integration, τ = 0.02 s), thresholds, reward, 500-step truncation and reset
    distribution are gymnasium's; the state is kept in float64 like gymnasium's, observations are float32.

    ## Action Space
    A tensor of shape `(num_envs,)` with values in {0, 1}: 0 pushes the cart left, 1 pushes it right (10 N).

    ## Observation Space
    A float32 tensor of shape `(num_envs, 4)`: cart position (−4.8, 4.8), cart velocity, pole angle
    (≈ −0.418, 0.418 rad) and pole angular velocity.

    ## Rewards
    +1 for every step, including the step that terminates (gymnasium's default reward).

    ## Starting State
    All four state variables uniform in (−0.05, 0.05), drawn from the env's own torch generator.

    ## Episode End
    Terminated when the pole angle leaves ±12° or the cart position leaves ±2.4; truncated after 500 steps.

    ## Resets
    Next-step autoreset, as gymnasium's vector envs: the step that ends an episode returns that episode's final
    observation with `terminated` / `truncated` set; the next `step` call resets those copies, ignores their
    actions and returns their first observation with reward 0 and both flags false.

    ## Arguments
    `num_envs`, `device` ("cpu", "cuda", …), `max_episode_steps` (500). `reset(seed=s)` seeds the generator.
    Every returned value is a torch tensor on `device`; no step copies anything to the host.
    """

    metadata = {"autoreset_mode": AutoresetMode.NEXT_STEP, "render_modes": []}

    def __init__(self, num_envs: int = 1, device: str | torch.device = "cpu", max_episode_steps: int = 500):
        self.num_envs = num_envs
        self.device = torch.device(device)
        self.max_episode_steps = max_episode_steps
        self.single_observation_space = gym.spaces.Box(-OBS_HIGH, OBS_HIGH, dtype=np.float32)
        self.single_action_space = gym.spaces.Discrete(2)
        self.observation_space = gym.vector.utils.batch_space(self.single_observation_space, num_envs)
        self.action_space = gym.spaces.MultiDiscrete(np.full(num_envs, 2))
        self.generator = torch.Generator(device=self.device)
        self.generator.seed()
        self.state = torch.zeros(num_envs, 4, dtype=torch.float64, device=self.device)  # x, ẋ, θ, θ̇
        self.steps = torch.zeros(num_envs, dtype=torch.int64, device=self.device)
        self.prev_done = torch.zeros(num_envs, dtype=torch.bool, device=self.device)

    def _uniform_state(self, n: int) -> torch.Tensor:
        noise = torch.rand(n, 4, generator=self.generator, dtype=torch.float64, device=self.device)
        return noise * 0.1 - 0.05

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        if seed is not None:
            self.generator.manual_seed(seed)
        self.state = self._uniform_state(self.num_envs)
        self.steps.zero_()
        self.prev_done.zero_()
        return self.state.float(), {}

    def step(self, actions: torch.Tensor):
        x, x_dot, theta, theta_dot = self.state.unbind(1)
        force = torch.where(torch.as_tensor(actions, device=self.device) == 1, FORCE_MAG, -FORCE_MAG)
        costheta, sintheta = torch.cos(theta), torch.sin(theta)
        temp = (force + POLEMASS_LENGTH * theta_dot.square() * sintheta) / TOTAL_MASS
        thetaacc = (GRAVITY * sintheta - costheta * temp) / (
            LENGTH * (4.0 / 3.0 - MASSPOLE * costheta.square() / TOTAL_MASS)
        )
        xacc = temp - POLEMASS_LENGTH * thetaacc * costheta / TOTAL_MASS
        x, x_dot = x + TAU * x_dot, x_dot + TAU * xacc
        theta, theta_dot = theta + TAU * theta_dot, theta_dot + TAU * thetaacc
        state = torch.stack((x, x_dot, theta, theta_dot), dim=1)
        terminated = (x.abs() > X_THRESHOLD) | (theta.abs() > THETA_THRESHOLD)
        self.steps += 1
        truncated = self.steps >= self.max_episode_steps
        # copies that ended on the previous call reset now: new state, step 0, reward 0, flags cleared
        reset = self.prev_done
        state = torch.where(reset.unsqueeze(1), self._uniform_state(self.num_envs), state)
        self.steps = torch.where(reset, 0, self.steps)
        reward = (~reset).float()
        terminated = terminated & ~reset
        truncated = truncated & ~reset
        self.state = state
        self.prev_done = terminated | truncated
        return state.float(), reward, terminated, truncated, {}


class TorchCartPoleEnv(gym.Env):
    """One copy of the torch CartPole behind gymnasium's single-env API (numpy in and out), mainly so that
    `gymnasium.make("rlgen/CartPole-v1")` works; batched training uses TorchCartPoleVectorEnv directly."""

    metadata = {"render_modes": []}

    def __init__(self, max_episode_steps: int = 500):
        self._vec = TorchCartPoleVectorEnv(1, "cpu", max_episode_steps=max_episode_steps + 1)  # gym's TimeLimit cuts
        self.observation_space = self._vec.single_observation_space
        self.action_space = self._vec.single_action_space

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        obs, info = self._vec.reset(seed=seed)
        return obs[0].numpy(), info

    def step(self, action):
        obs, reward, terminated, _, info = self._vec.step(torch.tensor([int(action)]))
        self._vec.prev_done.zero_()  # the single-env API resets explicitly, never automatically
        return obs[0].numpy(), float(reward[0]), bool(terminated[0]), False, info


def register() -> None:
    if "rlgen/CartPole-v1" not in gym.registry:
        gym.register(
            id="rlgen/CartPole-v1",
            entry_point="envs.torch_cartpole:TorchCartPoleEnv",
            vector_entry_point="envs.torch_cartpole:TorchCartPoleVectorEnv",
            max_episode_steps=500,
            reward_threshold=475.0,
        )
