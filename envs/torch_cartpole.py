"""CartPole-v1 batched in torch: the whole rollout stays on the training device (CPU or GPU)."""

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
from rlgen.errors import RlgenError

GRAVITY, MASSCART, MASSPOLE, LENGTH, FORCE_MAG, TAU = 9.8, 1.0, 0.1, 0.5, 10.0, 0.02
TOTAL_MASS = MASSCART + MASSPOLE
POLEMASS_LENGTH = MASSPOLE * LENGTH
THETA_THRESHOLD = 12 * 2 * math.pi / 360
X_THRESHOLD = 2.4
OBS_HIGH = np.array([X_THRESHOLD * 2, np.inf, THETA_THRESHOLD * 2, np.inf], dtype=np.float32)


MIN_EPISODE_STEPS = 8  # from any start within ±0.05, whatever the actions, the pole needs 8 steps to pass 12°


def transition(state, steps, prev_done, actions, starts, forces, limits, max_episode_steps: int):
    """One step of every copy as a pure function of tensors, so that `torch.compile` can fuse it into one kernel.
    Copies flagged in `prev_done` take their column of `starts` instead. Returns (state, steps, done,
    observations, rewards, terminated, truncated)."""
    x, x_dot, theta, theta_dot = state
    force = forces.index_select(0, actions)  # action 1 pushes right
    costheta, sintheta = torch.cos(theta), torch.sin(theta)
    # the same operations in the same order as gymnasium: float64 results agree to within one ulp (sin/cos)
    temp = theta_dot.square().mul_(POLEMASS_LENGTH).mul_(sintheta).add_(force).div_(TOTAL_MASS)
    thetaacc = sintheta.mul(GRAVITY).sub_(costheta * temp).div_(
        torch.rsub(costheta.square().mul_(MASSPOLE).div_(TOTAL_MASS), 4.0 / 3.0).mul_(LENGTH)
    )
    xacc = temp.sub_(thetaacc.mul(POLEMASS_LENGTH).mul_(costheta).div_(TOTAL_MASS))
    # Euler step of (x, ẋ, θ, θ̇) with derivatives (ẋ, ẍ, θ̇, θ̈), as gymnasium's "euler" integrator
    state = state + torch.stack((x_dot, xacc, theta_dot, thetaacc)).mul_(TAU)
    out = state[0::2].abs() > limits  # |x| > 2.4, |θ| > 12°
    steps = steps + 1
    # copies that ended on the previous call reset now: new state, step 0, reward 0, flags cleared
    fresh = ~prev_done
    terminated = (out[0] | out[1]) & fresh
    truncated = (steps >= max_episode_steps) & fresh
    state = torch.where(prev_done, starts, state)
    return state, steps * fresh, terminated | truncated, state.T.float(), fresh.float(), terminated, truncated


def float_flag_transition(state, steps, done, actions, starts, forces, limits, max_episode_steps: int):
    """`transition` with the done flags as float 0/1 in and out, for `torch.compile`: inductor's CPU kernels load
    and store bool tensors several times slower than float ones (torch 2.13), so the compiled step avoids them."""
    state, steps, done, obs, rewards, terminated, truncated = transition(
        state, steps, done > 0, actions, starts, forces, limits, max_episode_steps
    )
    return state, steps, done.float(), obs, rewards, terminated.float(), truncated.float()


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
    `num_envs`, `device` ("cpu", "cuda", …), `max_episode_steps` (500), `compile` (False: run the step through
    `torch.compile`, which fuses its ~40 tensor operations into one kernel; the first step then takes a few
    seconds to compile). `reset(seed=s)` seeds the generator. Every returned value is a torch tensor on `device`;
    no step copies anything to the host.
    """

    metadata = {"autoreset_mode": AutoresetMode.NEXT_STEP, "render_modes": []}


    def __init__(
        self, num_envs: int = 1, device: str | torch.device = "cpu", max_episode_steps: int = 500, compile: bool = False,
        observe: list[int] | None = None,
    ):
        self.num_envs = num_envs
        self.device = torch.device(device)
        self.max_episode_steps = max_episode_steps
        full = gym.spaces.Box(-OBS_HIGH, OBS_HIGH, dtype=np.float32)
        self.single_observation_space = observed_space(full, observe, "CartPole-v1") if observe is not None else full
        # the components the agent sees (None: all four), as envs.observe's wrappers select them for gymnasium's env
        self._observe = torch.tensor(observe, device=self.device) if observe is not None else None
        self.single_action_space = gym.spaces.Discrete(2)
        self.observation_space = gym.vector.utils.batch_space(self.single_observation_space, num_envs)
        self.action_space = gym.spaces.MultiDiscrete(np.full(num_envs, 2))
        self.generator = torch.Generator(device=self.device)
        self.generator.seed()
        # (4, N): x, ẋ, θ, θ̇ as contiguous rows, so that each physics op runs over contiguous memory
        self.state = torch.zeros(4, num_envs, dtype=torch.float64, device=self.device)
        self.steps = torch.zeros(num_envs, dtype=torch.int32, device=self.device)
        self.compiled = compile
        self._done = torch.zeros(num_envs, dtype=torch.float32 if compile else torch.bool, device=self.device)
        # A copy resets at most once in any `_starts_window` consecutive steps, so one start state per copy, redrawn
        # at the start of every window, gives every reset its own draw: one RNG call per window, not one per step.
        self._starts_window = min(MIN_EPISODE_STEPS, max_episode_steps)
        self._starts = self.state
        self._starts_age = self._starts_window  # the first step draws them
        self._forces = torch.tensor([-FORCE_MAG, FORCE_MAG], dtype=torch.float64, device=self.device)
        self._limits = torch.tensor([[X_THRESHOLD], [THETA_THRESHOLD]], dtype=torch.float64, device=self.device)
        self._transition = torch.compile(float_flag_transition, dynamic=False, fullgraph=True) if compile else None

    @property
    def prev_done(self) -> torch.Tensor:
        """(N,) bool: the copies whose episode ended on the last step (they reset on the next one)."""
        return self._done.bool()

    def clear_done(self) -> None:
        """Forget that episodes ended, so that the next step continues them instead of resetting."""
        self._done = torch.zeros_like(self._done)

    def _uniform_states(self, *shape: int) -> torch.Tensor:
        return torch.rand(*shape, generator=self.generator, dtype=torch.float64, device=self.device).mul_(0.1).sub_(0.05)

    def _next_starts(self) -> torch.Tensor:
        if self._starts_age >= self._starts_window:
            self._starts = self._uniform_states(4, self.num_envs)
            self._starts_age = 0
        return self._starts

    def get_state(self) -> dict[str, torch.Tensor]:
        """Everything the next steps depend on (state, step counts, done flags, start states, the generator), copied,
        so that a resumed run continues these very episodes."""
        return {"state": self.state.clone(), "steps": self.steps.clone(), "done": self._done.clone(),
                "starts": self._starts.clone(), "starts_age": torch.tensor(self._starts_age),
                "generator": self.generator.get_state()}

    def set_state(self, saved: Any, what: str = "environment state") -> None:
        saved = check_like(saved, self.get_state(), what)
        age = int(saved["starts_age"])
        if not 0 <= age <= self._starts_window:
            raise RlgenError(f"{what}: starts_age {age} is outside 0..{self._starts_window}")
        self.generator.set_state(saved["generator"])
        self.state, self.steps = saved["state"].to(self.device), saved["steps"].to(self.device)
        self._done, self._starts = saved["done"].to(self.device), saved["starts"].to(self.device)
        self._starts_age = age

    def keep(self, copies: torch.Tensor) -> None:
        """Go on with only these copies (indices into the current ones, in their new order): their states, step
        counts, done flags and pending start states are kept as they were; the generator continues."""
        self.state, self.steps, self._done = self.state[:, copies], self.steps[copies], self._done[copies]
        self._starts = self._starts[:, copies]
        self.num_envs = len(copies)
        self.observation_space = gym.vector.utils.batch_space(self.single_observation_space, self.num_envs)
        self.action_space = gym.spaces.MultiDiscrete(np.full(self.num_envs, 2))

    def observations(self) -> torch.Tensor:
        return self._observed(self.state.T.float())  # (N, 4), or the components `observe` keeps

    def _observed(self, obs: torch.Tensor) -> torch.Tensor:
        return obs if self._observe is None else obs.index_select(1, self._observe)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        if seed is not None:
            self.generator.manual_seed(seed)
        self.state = self._uniform_states(4, self.num_envs)
        self._starts_age = self._starts_window  # the first step draws fresh start states
        self.steps.zero_()
        self.clear_done()
        return self.observations(), {}

    def reset_done(self) -> torch.Tensor:
        """Reset now the copies whose episode ended on the last step (instead of on the next `step` call), for
        callers that want same-step autoreset, such as stable-baselines3; returns the observations."""
        reset = self.prev_done
        self.state = torch.where(reset, self._next_starts(), self.state)
        self.steps.mul_(~reset)
        self.clear_done()
        return self.observations()

    def step(self, actions: torch.Tensor):
        starts = self._next_starts()
        self._starts_age += 1
        actions = torch.as_tensor(actions, device=self.device).long()
        args = (self.state, self.steps, self._done, actions, starts, self._forces, self._limits, self.max_episode_steps)
        if not self.compiled:
            self.state, self.steps, self._done, obs, rewards, terminated, truncated = transition(*args)
            return self._observed(obs), rewards, terminated, truncated, {}
        from torch._dynamo.exc import BackendCompilerFailed  # imported here: only compiled envs need dynamo

        try:
            self.state, self.steps, self._done, obs, rewards, terminated, truncated = self._transition(*args)
        except BackendCompilerFailed as exc:  # e.g. no C++ compiler on a CPU-only machine
            reason = str(exc).strip().splitlines()[0]
            raise RlgenError(f"torch.compile could not build the CartPole step ({reason}); use env.compile: false") from None
        return self._observed(obs), rewards, terminated.bool(), truncated.bool(), {}


class TorchCartPoleEnv(SingleTorchEnv):
    """One copy of the torch CartPole as a gymnasium Env (`gymnasium.make("rlgen/CartPole-v1")`)."""

    def __init__(self, max_episode_steps: int = 500):
        super().__init__(TorchCartPoleVectorEnv(1, "cpu", max_episode_steps=max_episode_steps + 1))

    def batched(self, action) -> torch.Tensor:
        return torch.tensor([int(action)])


def register() -> None:
    if "rlgen/CartPole-v1" not in gym.registry:
        gym.register(
            id="rlgen/CartPole-v1",
            entry_point="rlgen.envs.torch_cartpole:TorchCartPoleEnv",
            vector_entry_point="rlgen.envs.torch_cartpole:TorchCartPoleVectorEnv",
            max_episode_steps=500,
            reward_threshold=475.0,
        )
