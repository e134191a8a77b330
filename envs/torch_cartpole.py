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

    POOL_STEPS = 16  # reset states are drawn from a pool refilled every 16 steps (one RNG call, not one per step)

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
        # (4, N): x, ẋ, θ, θ̇ as contiguous rows, so that each physics op runs over contiguous memory
        self.state = torch.zeros(4, num_envs, dtype=torch.float64, device=self.device)
        self.steps = torch.zeros(num_envs, dtype=torch.int64, device=self.device)
        self.prev_done = torch.zeros(num_envs, dtype=torch.bool, device=self.device)
        self._pool: torch.Tensor | None = None
        self._pool_age = 0
        self._pool_offset = torch.zeros((), dtype=torch.int64, device=self.device)  # pool entries used so far, − 1
        self._forces = torch.tensor([-FORCE_MAG, FORCE_MAG], dtype=torch.float64, device=self.device)
        self._limits = torch.tensor([[X_THRESHOLD], [THETA_THRESHOLD]], dtype=torch.float64, device=self.device)

    def _uniform_states(self, *shape: int) -> torch.Tensor:
        return torch.rand(*shape, generator=self.generator, dtype=torch.float64, device=self.device).mul_(0.1).sub_(0.05)

    def _reset_states(self, reset: torch.Tensor) -> torch.Tensor:
        """(4, N): a fresh start state for every copy that resets now (other columns are unused).

        A copy that resets needs at least 8 steps before its pole can fall from a start within ±0.05, so over the
        pool's 16 steps no copy takes more than 2 draws: a pool of 2N start states, handed out in order by a running
        count kept on the device, gives every reset its own draw without asking the host how many there were."""
        if self._pool is None or self._pool_age == self.POOL_STEPS:
            self._pool = self._uniform_states(4, 2 * self.num_envs)
            self._pool_age = 0
            self._pool_offset.fill_(-1)
        self._pool_age += 1
        rank = torch.cumsum(reset, 0)  # (N,) 1, 2, … over the resetting copies
        self._pool_offset += rank[-1]
        index = rank.add_(self._pool_offset - rank[-1]).remainder_(2 * self.num_envs)  # old offset + rank
        return self._pool[:, index]

    def observations(self) -> torch.Tensor:
        return self.state.T.float()  # (N, 4)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        if seed is not None:
            self.generator.manual_seed(seed)
        self._pool = None
        self.state = self._uniform_states(4, self.num_envs)
        self.steps.zero_()
        self.prev_done.zero_()
        return self.observations(), {}

    def reset_done(self) -> torch.Tensor:
        """Reset now the copies whose episode ended on the last step (instead of on the next `step` call), for
        callers that want same-step autoreset, such as stable-baselines3; returns the observations."""
        reset = self.prev_done
        self.state = torch.where(reset, self._reset_states(reset), self.state)
        self.steps.mul_(~reset)
        self.prev_done = torch.zeros_like(reset)
        return self.observations()

    def step(self, actions: torch.Tensor):
        x, x_dot, theta, theta_dot = self.state
        force = self._forces[torch.as_tensor(actions, device=self.device).long()]  # action 1 pushes right
        costheta, sintheta = torch.cos(theta), torch.sin(theta)
        # the same operations in the same order as gymnasium: float64 results agree to within one ulp (sin/cos)
        temp = theta_dot.square().mul_(POLEMASS_LENGTH).mul_(sintheta).add_(force).div_(TOTAL_MASS)
        thetaacc = sintheta.mul(GRAVITY).sub_(costheta * temp).div_(
            torch.rsub(costheta.square().mul_(MASSPOLE).div_(TOTAL_MASS), 4.0 / 3.0).mul_(LENGTH)
        )
        xacc = temp.sub_(thetaacc.mul(POLEMASS_LENGTH).mul_(costheta).div_(TOTAL_MASS))
        # Euler step of (x, ẋ, θ, θ̇) with derivatives (ẋ, ẍ, θ̇, θ̈), as gymnasium's "euler" integrator
        state = self.state + torch.stack((x_dot, xacc, theta_dot, thetaacc)).mul_(TAU)
        terminated = (state[0::2].abs() > self._limits).any(0)  # |x| > 2.4 or |θ| > 12°
        self.steps += 1
        truncated = self.steps >= self.max_episode_steps
        # copies that ended on the previous call reset now: new state, step 0, reward 0, flags cleared
        reset = self.prev_done
        fresh = ~reset
        self.state = torch.where(reset, self._reset_states(reset), state)
        self.steps.mul_(fresh)
        terminated &= fresh
        truncated &= fresh
        self.prev_done = terminated | truncated
        return self.observations(), fresh.float(), terminated, truncated, {}


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
