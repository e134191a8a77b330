"""The one on-policy training loop: collect a rollout → the algorithm's update → log, evaluate, checkpoint.

Algorithms differ only in the `update(rollout)` of the class registered for their `algo` name (agents/algorithms.py).
"""

from __future__ import annotations

import math
import sys
import time
from dataclasses import replace

import numpy as np
import torch

from rlgen.agents.algorithms import UPDATES, algo_section, initial_policy, load_policy
from rlgen.agents.config import AgentRunConfig
from rlgen.agents.distributions import action_info
from rlgen.agents.evaluate import (evaluate_policy, evaluation_due, policy_actor, record_evaluation,
                                   steps_left_per_copy)
from rlgen.agents.render import episode_gif
from rlgen.agents.rollout import RolloutCollector
from rlgen.envs.make import make_vec_env
from rlgen.agents.returns import ranks_mean
from rlgen.device import resolve_device
from rlgen.distributed import agree, all_sum, current
from rlgen.divergence import Diverged, check_finite
from rlgen.errors import RlgenError
from rlgen.metrics import ProgressBar
from rlgen.optim import TrainingOptimizer
from rlgen.rundir import RunDir
from rlgen.runstate import RunState, TrainResult, capture_rng, restore_rng
from rlgen.seeding import seed_everything


def _kept(run: RunDir, state: RunState) -> str:
    if not run.has("checkpoint"):
        return "No weights were saved yet."
    return f"The weights and checkpoint of {state.last_eval_at:,} env steps are kept in {run.path}."


def _returns_list(saved, where: str) -> list[float]:
    if not isinstance(saved, torch.Tensor) or saved.dim() != 1 or len(saved) > 100 or not saved.is_floating_point():
        raise RlgenError(f"{where}: recent_returns is not a list of up to 100 returns")
    return saved.tolist()


RANK_SEED = 10_007  # rank r of a data-parallel run seeds its environments and action noise with seed + r·RANK_SEED


def _mean(values: list[float]) -> float:
    return float(np.mean(values)) if values else math.nan


def rollout_metrics(returns: list[float], lengths: list[int], recent: list[float], lr: float, steps: int,
                    seconds: float, state: RunState) -> dict[str, float]:
    """The part of an iteration's metrics row that is not the update's own statistics (a single run's and each
    seed's of a batch alike)."""
    return {
        "rollout/ep_return_mean": _mean(returns),
        "rollout/ep_len_mean": _mean(lengths),
        "rollout/ep_return_mean_100": _mean(recent),
        "train/lr": lr,
        "time/steps_per_s": steps / max(seconds, 1e-9),
        "time/train_seconds": state.train_seconds,
        "time/iteration": state.iteration,
    }


def _episode_to_tensorboard(logger, run: RunDir, cfg: AgentRunConfig, device: torch.device, step: int,
                            quiet: bool) -> None:
    """One greedy episode of the run's best weights, as a GIF in TensorBoard; an environment that cannot be drawn
    here (MuJoCo without OpenGL) is skipped with a note."""
    try:
        gif, height, width = episode_gif(policy_actor(load_policy(run, cfg, device), device, True), cfg.env,
                                         cfg.seed + cfg.train.eval_seed_offset)
    except RlgenError as exc:
        if not quiet:
            print(f"rlgen: no episode in TensorBoard: {exc}", file=sys.stderr)
        return
    logger.log_gif(step, "episode", gif, height, width)


def train_agent(cfg: AgentRunConfig, run: RunDir, quiet: bool = False, resume: bool = False) -> TrainResult:
    """Train to the config's budget or target. `resume`: continue from the run's checkpoint (weights, optimizer
    state, run state, RNG) instead of starting; episodes start afresh, because environment state is not saved."""
    started_at = time.perf_counter()
    device = resolve_device(cfg.device)
    world = current()  # data-parallel: each rank its own env copies, gradients averaged at every update (DD-PPO)
    seed_everything(cfg.seed)
    envs = make_vec_env(cfg.env, device=device)
    obs_dim, action_space = envs.single_observation_space.shape[0], envs.single_action_space
    policy = initial_policy(cfg, obs_dim, action_space, device)  # the same initial weights on every rank
    if world.active:
        torch.manual_seed(cfg.seed + RANK_SEED * world.rank)  # … but each rank its own action noise
    tc = cfg.train
    rollout_steps = tc.rollout_steps if tc.rollout == "steps" else None
    optimizer = TrainingOptimizer(policy, cfg.optimizer, average_across_ranks=world.active)
    update = UPDATES[cfg.algo](algo_section(cfg), policy, optimizer)

    state = RunState()
    if resume:
        state, saved_rng, loop_state = run.load_checkpoint(policy, optimizer)
        restore_rng(saved_rng, device, source=str(run.path / "checkpoint.safetensors"))
    else:
        run.load_initial_weights(policy, device)
        run.update_meta(unit="env steps", monitor="eval/return_mean",
                        info={"env_id": cfg.env.id, "obs_dim": obs_dim, **action_info(action_space)})
    # the linear schedule runs over the step budget, however many updates that takes
    optimizer.follow(lambda: state.progress / tc.total_steps)
    # a resumed run continues the torch CartPole's very episodes; gymnasium's envs cannot be saved, so there it starts
    # fresh episodes, from another seed than the original run's first ones
    collector = RolloutCollector(envs, policy, device, cfg.seed + state.iteration + RANK_SEED * world.rank)
    collected = None  # the collector's state after the last finished iteration: what a checkpoint holds
    recent: list[float] = []  # returns of the last 100 finished training episodes
    # rank 0's environments are the ones a checkpoint holds; the other ranks start fresh episodes of their own
    if resume and loop_state.get("collector") is not None and world.is_main:
        where = f"{run.path / 'checkpoint.safetensors'}: collector state"
        collector.load_state_dict(loop_state["collector"], where)
        collected = loop_state["collector"]
        recent = _returns_list(loop_state.get("recent_returns"), where)
    logger = run.metrics_logger(keep_until_step=state.progress if resume else None)
    quiet = quiet or not world.is_main
    metrics: dict[str, float] = {}
    unlogged = False  # this iteration is counted (and would be saved) but its metrics row is not written yet
    diverged = False
    timings = {"set-up": 0.0, "training": 0.0, "evaluations": 0.0}

    rng = capture_rng(device)  # the RNG states as of the last finished iteration, like `collected`

    def save() -> None:
        loop = {"collector": collected, "recent_returns": torch.tensor(recent, dtype=torch.float64)}
        run.save_checkpoint(policy, optimizer, state, rng, loop if collected is not None else None)

    try:
        with ProgressBar(tc.total_steps, f"{cfg.algo} {cfg.env.id}", quiet) as bar:
            if resume:
                bar.update(min(state.progress, tc.total_steps), f"resumed at {state.progress:,} steps")
            timings["set-up"] = time.perf_counter() - started_at
            while not state.finished:
                started = time.perf_counter()
                rollout = collector.collect(rollout_steps, steps_left_per_copy(
                    state.progress, tc.total_steps, cfg.env.num_envs * world.size))
                if policy.reward_scale is not None:  # the update learns on scaled rewards; the metrics stay raw
                    ended = rollout.terminated | rollout.truncated
                    rollout = replace(rollout, rewards=policy.reward_scale(rollout.rewards, rollout.valid, ended))
                stats = update.update(rollout)
                if policy.obs_stats is not None:  # after the update: this iteration acted and learned on one view
                    policy.obs_stats.update(rollout.obs[rollout.valid])
                # the iteration is done: counters, collector and RNG states move together, at once, so that a
                # checkpoint (at an evaluation, or on Ctrl-C during the next rollout) pairs them with these weights
                elapsed = time.perf_counter() - started
                state.train_seconds += elapsed
                steps = rollout.num_steps if not world.active else int(all_sum(torch.tensor(rollout.num_steps)))
                state.progress += steps
                state.iteration += 1
                collected, rng = collector.state_dict(), capture_rng(device)
                recent = (recent + rollout.ep_returns)[-100:]
                timings["training"] += elapsed
                last_loss = metrics.get("train/loss")
                if world.active:  # every rank's mean, so that every rank judges the same loss
                    stats = dict(zip(stats, ranks_mean(torch.stack([v.float() for v in stats.values()]))))
                metrics = {k: float(v) for k, v in stats.items()}  # one host sync per iteration
                check_finite(metrics["train/loss"], policy.parameters(), last_finite=last_loss,
                             where=f"iteration {state.iteration} ({state.progress:,} env steps)",
                             lr=("optimizer.lr", cfg.optimizer.lr),
                             clip=("optimizer.max_grad_norm", cfg.optimizer.max_grad_norm), kept=_kept(run, state))
                metrics.update(rollout_metrics(rollout.ep_returns, rollout.ep_lengths, recent, optimizer.lr, steps,
                                               elapsed, state))
                unlogged = True
                if evaluation_due(state, tc):  # the same on every rank: progress counts every rank's steps
                    if world.is_main:
                        eval_started = time.perf_counter()
                        returns = evaluate_policy(policy, cfg.env, tc.eval_episodes, cfg.seed + tc.eval_seed_offset,
                                                  device)
                        timings["evaluations"] += time.perf_counter() - eval_started
                        if record_evaluation(state, tc, returns, metrics):
                            run.save_weights(policy, "model")
                        save()
                    else:
                        state.last_eval_at = state.progress
                    if agree(state.finished) and not state.finished:  # rank 0 decides when the run ends
                        state.status = "done"
                unlogged = False  # before the call: a Ctrl-C inside it must not write the row twice
                logger.log(state.progress, metrics)
                bar.update(min(state.progress, tc.total_steps),
                           f"it {state.iteration} | return {metrics['rollout/ep_return_mean_100']:.1f} | best eval "
                           f"{state.best_score if state.best_score is not None else math.nan:.1f} | "
                           f"{metrics['time/steps_per_s']:,.0f} steps/s")
        if tc.tensorboard_images and world.is_main:
            _episode_to_tensorboard(logger, run, cfg, device, state.progress, quiet)
    except Diverged:
        diverged = True
        raise
    finally:  # also on Ctrl-C or an error: keep what was learned (never non-finite weights)
        if not diverged:
            if unlogged:  # Ctrl-C during an evaluation: the checkpoint counts this iteration, so the table does too
                logger.log(state.progress, metrics)
            if not run.has("model"):  # never evaluated: keep the latest weights, so that the run can be evaluated
                run.save_weights(policy, "model")
            save()
        logger.close()
        envs.close()
    return run.result(state, metrics, timings)
