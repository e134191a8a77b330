"""The one on-policy training loop: collect a rollout → the algorithm's update → log, evaluate, checkpoint.

Algorithms differ only in the `update(rollout)` of the class registered for their `algo` name.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
import torch

from agents.config import AgentRunConfig
from agents.evaluate import evaluate_policy
from agents.policy import ActorCritic
from agents.a2c import A2C
from agents.ppo import PPO
from agents.reinforce import Reinforce
from agents.rollout import RolloutCollector
from envs.make import make_vec_env
from rlgen.device import resolve_device
from rlgen.metrics import MetricsLogger, ProgressBar
from rlgen.optim import TrainingOptimizer
from rlgen.rundir import RunDir
from rlgen.seeding import seed_everything

UPDATES = {"reinforce": Reinforce, "a2c": A2C, "ppo": PPO}  # the only place the algorithms differ


@dataclass
class TrainResult:
    env_steps: int
    train_seconds: float  # wall time of training, evaluation excluded
    best_eval_return: float
    solved: bool
    iterations: int


def algo_section(cfg: AgentRunConfig):
    return getattr(cfg, cfg.algo)


def build_policy(cfg: AgentRunConfig, obs_dim: int, n_actions: int) -> ActorCritic:
    critic = UPDATES[cfg.algo].needs_critic(algo_section(cfg))
    return ActorCritic(obs_dim, n_actions, cfg.policy, cfg.value if critic else None)


def load_policy(run: RunDir, cfg: AgentRunConfig, device: torch.device, name: str = "model") -> ActorCritic:
    """Rebuild the policy from the run's config and shapes, then load its weights."""
    meta = run.meta
    policy = build_policy(cfg, int(meta["obs_dim"]), int(meta["n_actions"])).to(device)
    run.load_weights(policy, name, device)
    policy.eval()
    return policy


def _mean(values: list[float]) -> float:
    return float(np.mean(values)) if values else math.nan


def train_agent(cfg: AgentRunConfig, run: RunDir, quiet: bool = False) -> TrainResult:
    device = resolve_device(cfg.device)
    seed_everything(cfg.seed)
    envs = make_vec_env(cfg.env, device=device)
    obs_dim, n_actions = envs.single_observation_space.shape[0], int(envs.single_action_space.n)
    run.write_meta({"kind": "agent", "algo": cfg.algo, "env_id": cfg.env.id, "obs_dim": obs_dim, "n_actions": n_actions})
    policy = build_policy(cfg, obs_dim, n_actions).to(device)
    tc = cfg.train
    rollout_steps = tc.rollout_steps if tc.rollout == "steps" else None
    # The linear schedule needs a horizon in optimizer steps; in episode mode it is estimated from the budget.
    per_iteration = cfg.env.num_envs * (rollout_steps or 100)
    algo = UPDATES[cfg.algo]
    horizon = max(1, tc.total_steps // per_iteration) * algo.optimizer_steps_per_update(algo_section(cfg))
    optimizer = TrainingOptimizer(policy, cfg.optimizer, total_steps=horizon)
    update = algo(algo_section(cfg), policy, optimizer)
    collector = RolloutCollector(envs, policy, device, cfg.seed)
    logger = MetricsLogger(run.path)

    steps, iteration, train_seconds = 0, 0, 0.0
    best, solved, last_eval_at = -math.inf, False, 0
    recent: list[float] = []  # returns of the last 100 finished training episodes
    try:
        with ProgressBar(tc.total_steps, f"{cfg.algo} {cfg.env.id}", quiet) as bar:
            while steps < tc.total_steps and not solved:
                started = time.perf_counter()
                rollout = collector.collect(rollout_steps)
                stats = update.update(rollout)
                metrics = {k: float(v) for k, v in stats.items()}  # one host sync per iteration
                elapsed = time.perf_counter() - started
                train_seconds += elapsed
                steps += rollout.num_steps
                iteration += 1
                recent = (recent + rollout.ep_returns)[-100:]
                metrics.update(
                    {
                        "rollout/ep_return_mean": _mean(rollout.ep_returns),
                        "rollout/ep_len_mean": _mean(rollout.ep_lengths),
                        "rollout/ep_return_mean_100": _mean(recent),
                        "train/lr": optimizer.lr,
                        "time/steps_per_s": rollout.num_steps / max(elapsed, 1e-9),
                        "time/train_seconds": train_seconds,
                        "time/iteration": iteration,
                    }
                )
                if steps - last_eval_at >= tc.eval_every_steps or steps >= tc.total_steps:
                    last_eval_at = steps
                    returns = evaluate_policy(
                        policy, cfg.env.id, tc.eval_episodes, cfg.seed + tc.eval_seed_offset, device
                    )
                    metrics["eval/return_mean"] = float(returns.mean())
                    metrics["eval/return_std"] = float(returns.std())
                    if returns.mean() > best:
                        best = float(returns.mean())
                        run.save_weights(policy, "model")
                    solved = tc.target_return is not None and best >= tc.target_return
                    save_progress(run, policy, optimizer, steps, train_seconds, best, solved)
                logger.log(steps, metrics)
                bar.update(
                    min(steps, tc.total_steps),
                    f"it {iteration} | return {metrics['rollout/ep_return_mean_100']:.1f} | "
                    f"best eval {best:.1f} | {metrics['time/steps_per_s']:,.0f} steps/s",
                )
    finally:  # also on Ctrl-C or an error: keep what was learned
        if math.isinf(best):
            run.save_weights(policy, "model")
        save_progress(run, policy, optimizer, steps, train_seconds, best, solved)
        logger.close()
        envs.close()
    return TrainResult(steps, train_seconds, best, solved, iteration)


def save_progress(run: RunDir, module, optimizer, steps: int, train_seconds: float, best: float, solved: bool) -> None:
    """The training checkpoint and meta.json of an agent run (rlgen's loop and the SB3 bridge alike)."""
    trainer = {"env_steps": steps, "train_seconds": train_seconds, "best_eval_return": best, "solved": solved}
    run.save_checkpoint(module, optimizer, trainer)
    run.write_meta(
        {
            "env_steps": steps,
            "train_seconds": round(train_seconds, 3),
            "best_eval_return": None if math.isinf(best) else best,
            "solved": solved,
        }
    )
