"""Building gymnasium environments from config, with clear errors for ids and spaces rlgen cannot use."""

from __future__ import annotations

import os
import warnings
from typing import Any, Literal

import gymnasium as gym
import torch
from pydantic import Field, model_validator

from rlgen.envs.observe import ObservationSubset, VectorObservationSubset
from rlgen.errors import RlgenError
from rlgen.schema import Strict


class EnvConfig(Strict):
    """Which environment to train on and how its copies are run side by side."""

    id: str = "CartPole-v1"
    """A registered gymnasium id with a Discrete or 1-D Box action space and a flat Box observation space."""
    backend: Literal["gymnasium", "torch"] = "gymnasium"
    """gymnasium: gymnasium's vector envs (numpy, on the CPU); torch: rlgen's batched torch version of the env,
    whose state stays on the training device (CartPole-v1 and Pendulum-v1)."""
    num_envs: int = Field(default=8, ge=1, le=65536)
    """Copies stepped together; in whole-episode mode this is also the number of episodes per iteration."""
    vectorization: Literal["sync", "async", "vector_entry_point"] = "vector_entry_point"
    """gymnasium's vector env: sync (one process), async (subprocesses), or the env's own batched numpy version
    where it has one (CartPole does); falls back to sync for ids without one."""
    compile: bool = False
    """torch backend: fuse the env step into one kernel with torch.compile. Pays off with thousands of copies or on
    a GPU; the first step then takes several seconds to compile (cached across runs)."""
    kwargs: dict[str, Any] = Field(default_factory=dict)
    """Extra keyword arguments passed to gymnasium.make."""
    observe: list[int] | None = Field(default=None, min_length=1, max_length=4096)
    """The observation components the agent sees, by index (None: all). [0, 2] on CartPole is the cart position
    and the pole angle, its velocities hidden: a task for a recurrent policy. Training, evaluation, rendering and
    stable-baselines3 runs all see the same components (envs/observe.py)."""

    @model_validator(mode="after")
    def _compile_needs_torch(self) -> EnvConfig:
        if self.observe is not None and (len(set(self.observe)) != len(self.observe) or min(self.observe) < 0):
            raise ValueError(f"env.observe must list distinct component indices from 0 (got {self.observe})")
        if self.compile and self.backend != "torch":
            raise ValueError("env.compile needs env.backend torch (gymnasium's envs run in numpy)")
        if self.backend == "torch" and set(self.kwargs) - {"max_episode_steps"}:
            raise ValueError(f"env.backend torch takes only max_episode_steps in env.kwargs (got "
                             f"{', '.join(map(str, self.kwargs))})")
        steps = self.kwargs.get("max_episode_steps")
        if steps is not None and (not isinstance(steps, int) or isinstance(steps, bool) or not 1 <= steps <= 10**9):
            raise ValueError(f"env.kwargs.max_episode_steps must be a whole number from 1 (got {steps!r})")
        return self


def _spec(env_id: str) -> gym.envs.registration.EnvSpec:
    try:
        spec = gym.spec(env_id)
    except gym.error.Error as exc:
        raise RlgenError(f"unknown environment id {env_id!r}: {exc}") from None
    if "mujoco" in str(spec.entry_point):
        _mujoco_warnings_once()
    return spec


def _mujoco_warnings_once() -> None:
    """MuJoCo prints its warnings (a deprecated attribute in a model file) to stderr on every model it compiles,
    so once per env copy: show each distinct message once, as a Python warning."""
    try:
        import mujoco
    except ImportError:
        return  # gym.make names the missing extra
    except Exception as exc:  # MUJOCO_GL names a GL library that is not there: mujoco's import fails
        raise RlgenError(f"cannot load MuJoCo (MUJOCO_GL={os.environ.get('MUJOCO_GL')}): {type(exc).__name__}: {exc}; "
                         "unset MUJOCO_GL or try MUJOCO_GL=egl") from None
    shown: set[str] = set()

    def warn(text: str) -> None:
        if text not in shown:
            shown.add(text)
            warnings.warn(f"MuJoCo: {text}", RuntimeWarning, stacklevel=2)

    if not getattr(mujoco.get_mju_user_warning(), "_rlgen", False):
        warn._rlgen = True  # type: ignore[attr-defined]
        mujoco.set_mju_user_warning(warn)


def check_spaces(env_id: str, action_space: gym.Space, observation_space: gym.Space) -> None:
    if not isinstance(action_space, gym.spaces.Discrete) and not (
            isinstance(action_space, gym.spaces.Box) and len(action_space.shape) == 1):
        raise RlgenError(f"environment {env_id!r} has a {type(action_space).__name__} action space ({action_space}); "
                         "rlgen agents act in Discrete or 1-D Box spaces")
    if not isinstance(observation_space, gym.spaces.Box) or len(observation_space.shape) != 1:
        raise RlgenError(f"environment {env_id!r} needs a flat Box observation space (got {observation_space})")


def make_env(env_id: str, render_mode: str | None = None, observe: list[int] | None = None, **kwargs: Any) -> gym.Env:
    """One gymnasium env (with its registered TimeLimit), checked for action and observation spaces rlgen can use;
    `observe`: only those observation components (EnvConfig.observe)."""
    _spec(env_id)
    try:
        env = gym.make(env_id, render_mode=render_mode, **kwargs)
    except gym.error.DependencyNotInstalled as exc:
        raise RlgenError(f"environment {env_id!r} needs an extra package: {exc}") from None
    except (TypeError, gym.error.Error) as exc:
        raise RlgenError(f"cannot build environment {env_id!r}: {exc}") from None
    check_spaces(env_id, env.action_space, env.observation_space)
    return ObservationSubset(env, observe) if observe is not None else env


TORCH_ENVS = {"CartPole-v1": "cartpole", "rlgen/CartPole-v1": "cartpole", "Pendulum-v1": "pendulum",
              "rlgen/Pendulum-v1": "pendulum"}  # ids → rlgen's torch version of the env


def check_torch_backend(cfg: EnvConfig) -> None:
    if cfg.id not in TORCH_ENVS:
        raise RlgenError(f"env.backend torch has only CartPole-v1 and Pendulum-v1; use env.backend gymnasium for "
                         f"{cfg.id!r}")
    if cfg.compile and TORCH_ENVS[cfg.id] != "cartpole":
        raise RlgenError(f"env.compile: only the torch CartPole compiles its step (not {cfg.id!r})")


def make_torch_env(cfg: EnvConfig, num_envs: int, device: torch.device | str) -> gym.vector.VectorEnv:
    """rlgen's torch version of the config's env (checked by `check_torch_backend`)."""
    check_torch_backend(cfg)
    if TORCH_ENVS[cfg.id] == "pendulum":
        from rlgen.envs.torch_pendulum import TorchPendulumVectorEnv

        return TorchPendulumVectorEnv(num_envs, device, observe=cfg.observe, **cfg.kwargs)
    from rlgen.envs.torch_cartpole import TorchCartPoleVectorEnv

    return TorchCartPoleVectorEnv(num_envs, device, compile=cfg.compile, observe=cfg.observe, **cfg.kwargs)


def make_vec_env(cfg: EnvConfig, num_envs: int | None = None, device: torch.device | str = "cpu") -> gym.vector.VectorEnv:
    """A vector env with next-step autoreset (gymnasium's default): after an episode ends, the following `step`
    call resets that copy, ignores its action and returns reward 0 — the rollout collector masks that step."""
    if cfg.backend == "torch":
        return make_torch_env(cfg, num_envs or cfg.num_envs, device)
    spec = _spec(cfg.id)
    mode = cfg.vectorization
    if mode == "vector_entry_point" and spec.vector_entry_point is None:
        mode = "sync"
    try:
        envs = gym.make_vec(cfg.id, num_envs=num_envs or cfg.num_envs, vectorization_mode=mode, **cfg.kwargs)
    except gym.error.DependencyNotInstalled as exc:
        raise RlgenError(f"environment {cfg.id!r} needs an extra package: {exc}") from None
    except (TypeError, gym.error.Error) as exc:
        raise RlgenError(f"cannot build environment {cfg.id!r}: {exc}") from None
    check_spaces(cfg.id, envs.single_action_space, envs.single_observation_space)
    return VectorObservationSubset(envs, cfg.observe, cfg.id) if cfg.observe is not None else envs
