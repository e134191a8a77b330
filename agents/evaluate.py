"""Greedy (or sampled) evaluation on the real gymnasium environment, many episodes side by side."""

from __future__ import annotations

from typing import Callable

import gymnasium as gym
import numpy as np
import torch

from agents.policy import ActorCritic
from envs.make import EnvConfig, make_vec_env

MAX_PARALLEL_EPISODES = 100


def evaluate_policy(
    policy: ActorCritic,
    env_id: str,
    episodes: int,
    seed: int,
    device: torch.device,
    greedy: bool = True,
) -> np.ndarray:
    """Returns of `episodes` episodes of an rlgen policy; see `evaluate_actor`."""
    was_training = policy.training
    policy.eval()

    def act(obs: np.ndarray) -> np.ndarray:
        action, _ = policy.act(torch.as_tensor(obs, dtype=torch.float32, device=device), greedy=greedy)
        return action.cpu().numpy()

    try:
        return evaluate_actor(act, env_id, episodes, seed)
    finally:
        policy.train(was_training)


def evaluate_actor(act: Callable[[np.ndarray], np.ndarray], env_id: str, episodes: int, seed: int) -> np.ndarray:
    """Returns of `episodes` episodes, episode k starting from `env.reset(seed=seed + k)`; `act` maps a batch of
    observations to a batch of actions (any agent: rlgen's, stable-baselines3's, a hand-written rule).

    Uses gymnasium's own env (via `gymnasium.make`, with its TimeLimit) in a sync vector env; each copy plays one
    episode and is ignored after it ends.
    """
    returns: list[np.ndarray] = []
    done_so_far = 0
    while done_so_far < episodes:
        n = min(MAX_PARALLEL_EPISODES, episodes - done_so_far)
        envs = make_vec_env(EnvConfig(id=env_id, num_envs=n, vectorization="sync"))
        try:
            returns.append(_play_once(envs, act, seed + done_so_far))
        finally:
            envs.close()
        done_so_far += n
    return np.concatenate(returns)


def _play_once(envs: gym.vector.VectorEnv, act: Callable[[np.ndarray], np.ndarray], seed: int) -> np.ndarray:
    obs, _ = envs.reset(seed=seed)
    total = np.zeros(envs.num_envs)
    running = np.ones(envs.num_envs, dtype=bool)
    while running.any():
        obs, reward, terminated, truncated, _ = envs.step(act(obs))
        total += np.where(running, reward, 0.0)
        running &= ~(terminated | truncated)
    return total


def summarize(returns: np.ndarray) -> dict[str, float | int]:
    return {
        "mean_return": float(returns.mean()),
        "std_return": float(returns.std()),
        "min_return": float(returns.min()),
        "max_return": float(returns.max()),
        "episodes": int(returns.size),
    }


def evaluate_run(run_path, episodes: int, seed: int, device_name: str, greedy: bool = True) -> dict:
    """Evaluate a run's best weights on its environment: mean / std / min / max return over `episodes`."""
    from agents.actors import load_actor
    from rlgen.device import resolve_device
    from rlgen.registry import open_run

    run, cfg = open_run(run_path, "agent")
    act = load_actor(run, cfg, resolve_device(device_name), greedy)
    returns = evaluate_actor(act, cfg.env.id, episodes, seed)
    return {**summarize(returns), "seed": seed, "greedy": greedy, "env_id": cfg.env.id, "run_dir": str(run_path)}
