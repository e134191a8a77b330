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
from rlgen.errors import RlgenError
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


def train_agent(cfg: AgentRunConfig, run: RunDir, quiet: bool = False, resume: bool = False) -> TrainResult:
    """Train to the config's budget or target. `resume`: continue from the run's checkpoint (weights, optimizer
    state, counters, RNG) instead of starting; episodes start afresh, because environment state is not saved."""
    device = resolve_device(cfg.device)
    seed_everything(cfg.seed)
    envs = make_vec_env(cfg.env, device=device)
    obs_dim, n_actions = envs.single_observation_space.shape[0], int(envs.single_action_space.n)
    policy = build_policy(cfg, obs_dim, n_actions).to(device)
    tc = cfg.train
    rollout_steps = tc.rollout_steps if tc.rollout == "steps" else None
    # The linear schedule needs a horizon in optimizer steps; in episode mode it is estimated from the budget.
    per_iteration = cfg.env.num_envs * (rollout_steps or 100)
    algo = UPDATES[cfg.algo]
    horizon = max(1, tc.total_steps // per_iteration) * algo.optimizer_steps_per_update(algo_section(cfg))
    optimizer = TrainingOptimizer(policy, cfg.optimizer, total_steps=horizon)
    update = algo(algo_section(cfg), policy, optimizer)

    progress = Progress()
    if resume:
        if not run.has("checkpoint"):
            raise RlgenError(f"{run.path} has no checkpoint to resume from (training stopped before its first save)")
        progress = Progress.restore(run.load_checkpoint(policy, optimizer), device)
    else:
        run.write_meta({"kind": "agent", "algo": cfg.algo, "env_id": cfg.env.id, "obs_dim": obs_dim,
                        "n_actions": n_actions})
    # a resumed run's first episodes come from another seed than the original run's first episodes
    collector = RolloutCollector(envs, policy, device, cfg.seed + progress.iteration)
    logger = MetricsLogger(run.path, keep_until_step=progress.steps if resume else None)
    steps, iteration, train_seconds = progress.steps, progress.iteration, progress.train_seconds
    best, solved, last_eval_at = progress.best, progress.solved, progress.last_eval_at
    recent: list[float] = []  # returns of the last 100 finished training episodes

    def save() -> None:
        progress = Progress(steps, iteration, train_seconds, best, solved, last_eval_at)
        save_progress(run, policy, optimizer, progress, device)
    try:
        with ProgressBar(tc.total_steps, f"{cfg.algo} {cfg.env.id}", quiet) as bar:
            if resume:
                bar.update(min(steps, tc.total_steps), f"resumed at {steps:,} steps")
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
                    returns = evaluate_policy(
                        policy, cfg.env.id, tc.eval_episodes, cfg.seed + tc.eval_seed_offset, device
                    )
                    last_eval_at = steps
                    metrics["eval/return_mean"] = float(returns.mean())
                    metrics["eval/return_std"] = float(returns.std())
                    if returns.mean() > best:
                        best = float(returns.mean())
                        run.save_weights(policy, "model")
                    solved = tc.target_return is not None and best >= tc.target_return
                    save()
                logger.log(steps, metrics)
                bar.update(
                    min(steps, tc.total_steps),
                    f"it {iteration} | return {metrics['rollout/ep_return_mean_100']:.1f} | "
                    f"best eval {best:.1f} | {metrics['time/steps_per_s']:,.0f} steps/s",
                )
    finally:  # also on Ctrl-C or an error: keep what was learned
        if math.isinf(best):  # never evaluated: keep the latest weights, so that the run can be evaluated
            run.save_weights(policy, "model")
        save()
        logger.close()
        envs.close()
    return TrainResult(steps, train_seconds, best, solved, iteration)


@dataclass
class Progress:
    """Where an agent's training stands: what its checkpoint holds besides weights and optimizer state."""

    steps: int = 0
    iteration: int = 0
    train_seconds: float = 0.0
    best: float = -math.inf
    solved: bool = False
    last_eval_at: int = 0

    @staticmethod
    def restore(trainer: dict, device: torch.device) -> Progress:
        rng = trainer.get("rng") or {}
        if "torch" in rng:
            torch.set_rng_state(rng["torch"])
        if device.type == "cuda" and "cuda" in rng:
            torch.cuda.set_rng_state(rng["cuda"], device)
        steps = int(trainer["env_steps"])
        return Progress(steps, int(trainer.get("iteration", 0)), float(trainer["train_seconds"]),
                        float(trainer["best_eval_return"]), bool(trainer["solved"]),
                        int(trainer.get("last_eval_at", steps)))


def save_progress(run: RunDir, module, optimizer, progress: Progress, device: torch.device | None = None) -> None:
    """The training checkpoint and meta.json of an agent run (rlgen's loop and the SB3 bridge alike)."""
    rng = {"torch": torch.get_rng_state()}
    if device is not None and device.type == "cuda":
        rng["cuda"] = torch.cuda.get_rng_state(device)
    p = progress
    trainer = {"env_steps": p.steps, "iteration": p.iteration, "train_seconds": p.train_seconds,
               "best_eval_return": p.best, "solved": p.solved, "last_eval_at": p.last_eval_at, "rng": rng}
    run.save_checkpoint(module, optimizer, trainer)
    run.write_meta(
        {
            "env_steps": p.steps,
            "train_seconds": round(p.train_seconds, 3),
            "best_eval_return": None if math.isinf(p.best) else p.best,
            "solved": p.solved,
        }
    )
