"""Greedy (or sampled) evaluation on the real gymnasium environment, many episodes side by side."""

from __future__ import annotations

from typing import Callable

import gymnasium as gym
import numpy as np
import torch

from rlgen.agents.config import EvalScheduleConfig
from rlgen.agents.policy import ActorCritic
from rlgen.envs.make import EnvConfig, make_vec_env
from rlgen.runstate import RunState

MAX_PARALLEL_EPISODES = 100
Actor = Callable[[np.ndarray], np.ndarray]
"""A batch of observations → a batch of actions. An actor with memory also has `reset(copies)`, which the players
call when a batch of episodes begins (see `start_episodes`)."""


def start_episodes(act: Actor, copies: int) -> None:
    """Tell an actor with memory that `copies` new episodes begin (its state is zeroed); others need nothing."""
    reset = getattr(act, "reset", None)
    if reset is not None:
        reset(copies)


class PolicyActor:
    """An rlgen policy as an actor. A recurrent one carries each copy's state from step to step through its episode,
    from zero at `reset`."""

    def __init__(self, policy: ActorCritic, device: torch.device, greedy: bool = True):
        self.policy, self.device, self.greedy = policy, device, greedy
        self.memory: dict[str, torch.Tensor] = {}
        self.start: torch.Tensor | None = None

    def reset(self, copies: int) -> None:
        self.memory = self.policy.initial_memory(copies, self.device)
        self.start = torch.ones(copies, dtype=torch.bool, device=self.device)

    @torch.no_grad()
    def __call__(self, obs: np.ndarray) -> np.ndarray:
        x = torch.as_tensor(obs, dtype=torch.float32, device=self.device)
        if not self.policy.recurrent:
            return self.policy.act(x, greedy=self.greedy).cpu().numpy()
        if self.start is None or len(self.start) != len(x):
            self.reset(len(x))
        logits, self.memory = self.policy.step_logits(x, self.memory, self.start)
        self.start = torch.zeros_like(self.start)
        return self.policy.choose(logits, self.greedy).cpu().numpy()


def policy_actor(policy: ActorCritic, device: torch.device, greedy: bool = True) -> Actor:
    return PolicyActor(policy, device, greedy)


def evaluation_env(env: EnvConfig) -> EnvConfig:
    """The environment evaluations run on: gymnasium's own env of the same id and keyword arguments (a torch-backend
    run is judged on gymnasium's CartPole), one copy per episode, batched in numpy where gymnasium has a vector
    version of the env (CartPole: ~40× faster than a sync vector env of single envs), else in a sync vector env."""
    batched = "vector_entry_point" if not env.id.startswith("rlgen/") else "sync"
    return EnvConfig(id=env.id, kwargs=env.kwargs, vectorization=batched, observe=env.observe)


def evaluate_policy(policy: ActorCritic, env: EnvConfig, episodes: int, seed: int, device: torch.device,
                    greedy: bool = True) -> np.ndarray:
    """Returns of `episodes` episodes of an rlgen policy; see `evaluate_actor`."""
    was_training = policy.training
    policy.eval()
    try:
        return evaluate_actor(policy_actor(policy, device, greedy), env, episodes, seed)
    finally:
        policy.train(was_training)


def evaluate_actor(act: Actor, env: EnvConfig, episodes: int, seed: int, quiet: bool = True) -> np.ndarray:
    """Returns of `episodes` episodes, played up to 100 at a time from a vector env reset with `seed` (then
    seed + 100, …); `act` maps a batch of observations to a batch of actions (any agent: rlgen's,
    stable-baselines3's, a hand-written rule). `quiet=False`: a progress bar of the finished episodes.

    Uses gymnasium's own env (`evaluation_env`, with its TimeLimit); each copy plays one episode and is ignored after
    it ends."""
    from rlgen.metrics import ProgressBar

    returns: list[np.ndarray] = []
    done_so_far = 0
    with ProgressBar(episodes, f"evaluating {env.id}", quiet) as bar:
        while done_so_far < episodes:
            n = min(MAX_PARALLEL_EPISODES, episodes - done_so_far)
            envs = make_vec_env(evaluation_env(env), num_envs=n)
            before = done_so_far
            try:
                returns.append(_play_once(envs, act, seed + done_so_far,
                                          lambda ended: bar.update(before + ended, "episodes")))
            finally:
                envs.close()
            done_so_far += n
    return np.concatenate(returns)


def _play_once(envs: gym.vector.VectorEnv, act: Actor, seed: int,
               report: Callable[[int], None] = lambda ended: None) -> np.ndarray:
    obs, _ = envs.reset(seed=seed)
    start_episodes(act, envs.num_envs)
    total = np.zeros(envs.num_envs)
    running = np.ones(envs.num_envs, dtype=bool)
    while running.any():
        obs, reward, terminated, truncated, _ = envs.step(act(obs))
        total += np.where(running, reward, 0.0)
        ended = running & (terminated | truncated)
        running &= ~(terminated | truncated)
        if ended.any():
            report(int((~running).sum()))
    return total


def summarize(returns: np.ndarray) -> dict[str, float | int]:
    return {
        "mean_return": float(returns.mean()),
        "std_return": float(returns.std()),
        "min_return": float(returns.min()),
        "max_return": float(returns.max()),
        "episodes": int(returns.size),
    }


def steps_left_per_copy(progress: int, total_steps: int, copies: int) -> int:
    """How many more steps each of `copies` env copies may take before the budget is spent: the cap on the next
    rollout, so that a run ends less than one step of every copy past its budget (exactly on it when the copies
    divide what is left), not one whole rollout past it."""
    return max(1, -(-(total_steps - progress) // copies))


def evaluation_due(state: RunState, schedule: EvalScheduleConfig) -> bool:
    """Every `eval_every_steps` environment steps, and once more when the budget is spent."""
    return state.progress - state.last_eval_at >= schedule.eval_every_steps or state.progress >= schedule.total_steps


def record_evaluation(state: RunState, schedule: EvalScheduleConfig, returns: np.ndarray,
                      metrics: dict[str, float]) -> bool:
    """Take a periodic evaluation's returns into the metrics and the run state: the best score, and the run is solved
    at the target return or done at the end of its budget. True when this is the best so far (save the weights)."""
    state.last_eval_at = state.progress
    metrics["eval/return_mean"] = float(returns.mean())
    metrics["eval/return_std"] = float(returns.std())
    best = state.record(metrics["eval/return_mean"], "max")
    if schedule.target_return is not None and state.best_score >= schedule.target_return:
        state.status = "solved"
    elif state.progress >= schedule.total_steps:
        state.status = "done"
    return best
