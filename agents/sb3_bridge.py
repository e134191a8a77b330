"""stable-baselines3's PPO, A2C and SAC, and sb3-contrib's RecurrentPPO, through rlgen's command line, evaluation
schedule and run directory.

The run directory holds SB3's policy weights (and optimizer state) as safetensors, never SB3's zip/pickle files:
loading rebuilds the SB3 model from the saved config and then loads the weights. SB3 owns the training loop, so a
callback keeps rlgen's run state, logs, evaluates and checkpoints at the end of every rollout.
"""

from __future__ import annotations

import math
import time

import numpy as np
import torch

from rlgen.agents.distributions import action_info
from rlgen.agents.config import SB3RunConfig
from rlgen.agents.evaluate import evaluate_actor, evaluation_due, record_evaluation
from rlgen.envs.make import make_env, make_torch_env
from rlgen.agents.obs_norm import ObservationStats
from rlgen.envs.observe import ObservationSubset
from rlgen.envs.sb3_vec_env import TorchCartPoleSB3VecEnv
from rlgen.device import resolve_device
from rlgen.divergence import Diverged, check_finite
from rlgen.errors import ConfigError
from rlgen.metrics import MetricsLogger, ProgressBar
from rlgen.rundir import RunDir
from rlgen.runstate import RunState, TrainResult, capture_rng
from rlgen.seeding import seed_everything


def make_sb3_env(cfg: SB3RunConfig, device: torch.device, num_envs: int | None = None):
    """SB3 vector env: rlgen's torch CartPole through the adapter, or gymnasium's env in SB3's DummyVecEnv."""
    n = num_envs or cfg.env.num_envs
    if cfg.env.backend == "torch":
        return TorchCartPoleSB3VecEnv(n, seed=cfg.seed, torch_env=make_torch_env(cfg.env, n, device))
    from stable_baselines3.common.env_util import make_vec_env  # stable-baselines3 is imported only when used

    # the same checks (known id, discrete actions, observed components) and one-line errors
    make_env(cfg.env.id, observe=cfg.env.observe, **cfg.env.kwargs).close()
    masked = {"wrapper_class": ObservationSubset, "wrapper_kwargs": {"keep": cfg.env.observe}} \
        if cfg.env.observe is not None else {}
    return make_vec_env(cfg.env.id, n_envs=n, seed=cfg.seed, env_kwargs=cfg.env.kwargs, **masked)


def build_sb3_model(cfg: SB3RunConfig, envs, device: torch.device):
    from stable_baselines3 import A2C, PPO

    h = cfg.sb3
    network = {"activation_fn": torch.nn.ReLU if h.activation == "relu" else torch.nn.Tanh, "ortho_init": h.ortho_init}

    def schedule(value: float, kind: str):
        return (lambda progress_remaining: progress_remaining * value) if kind == "linear" else value

    sde = {"use_sde": True, "sde_sample_freq": h.sde_sample_freq} if h.use_sde else {}
    std = {} if h.log_std_init is None else {"log_std_init": h.log_std_init}
    shared = dict(gamma=h.gamma, learning_rate=schedule(h.learning_rate, h.lr_schedule), seed=cfg.seed,
                  device=device, verbose=0, **sde)
    if cfg.algo == "sb3_sac":  # SB3's SAC policy has no ortho_init
        return build_sac(cfg, envs, shared, {"net_arch": list(h.net_arch), "activation_fn": network["activation_fn"],
                                             **std})
    common = dict(n_steps=h.n_steps, gae_lambda=h.gae_lambda, ent_coef=h.ent_coef or 0.0, vf_coef=h.vf_coef,
                  max_grad_norm=h.max_grad_norm, policy_kwargs={"net_arch": list(h.net_arch), **network, **std},
                  **shared)
    ppo = dict(batch_size=h.batch_size, n_epochs=h.n_epochs, clip_range=schedule(h.clip_range, h.clip_schedule))
    if cfg.algo == "sb3_ppo":
        return PPO("MlpPolicy", envs, **ppo, **common)
    if cfg.algo == "sb3_recurrent_ppo":
        from sb3_contrib import RecurrentPPO

        common["policy_kwargs"] = {**network, "net_arch": {"pi": list(h.net_arch), "vf": list(h.net_arch)},
                                   "lstm_hidden_size": h.lstm_hidden_size, "enable_critic_lstm": h.enable_critic_lstm}
        return RecurrentPPO("MlpLstmPolicy", envs, **ppo, **common)
    return A2C("MlpPolicy", envs, **common)


def build_sac(cfg: SB3RunConfig, envs, shared: dict, policy_kwargs: dict):
    import gymnasium as gym
    from stable_baselines3 import SAC

    if not isinstance(envs.action_space, gym.spaces.Box):
        raise ConfigError(f"sb3_sac acts in Box action spaces; {cfg.env.id} has {envs.action_space}")
    h = cfg.sb3
    return SAC("MlpPolicy", envs, buffer_size=h.buffer_size, learning_starts=h.learning_starts,
               batch_size=h.batch_size, tau=h.tau, train_freq=h.train_freq, gradient_steps=h.gradient_steps,
               ent_coef="auto" if h.ent_coef is None else h.ent_coef, policy_kwargs=policy_kwargs, **shared)


class SB3Optimizers:
    """The model's optimizers as one state dict for the checkpoint: the policy's own (PPO, A2C), or SAC's actor,
    critic and, with a tuned entropy coefficient, its log-coefficient and that optimizer."""

    def __init__(self, model):
        self.model = model

    def state_dict(self) -> dict:
        m = self.model
        if hasattr(m.policy, "optimizer"):
            return m.policy.optimizer.state_dict()
        states = {"actor": m.actor.optimizer.state_dict(), "critic": m.critic.optimizer.state_dict()}
        if getattr(m, "ent_coef_optimizer", None) is not None:
            states.update(entropy=m.ent_coef_optimizer.state_dict(), log_ent_coef=m.log_ent_coef.detach())
        return states


class SB3Actor:
    """An SB3 model as an actor: observations normalised by the run's statistics where it has them, and a recurrent
    policy's LSTM states carried through each episode (zero at `reset`)."""

    def __init__(self, model, greedy: bool, stats: ObservationStats | None):
        self.model, self.greedy, self.stats = model, greedy, stats
        self.recurrent = hasattr(model.policy, "lstm_actor")
        self.state, self.start = None, None

    def reset(self, copies: int) -> None:
        self.state, self.start = None, np.ones(copies, dtype=bool)

    def __call__(self, obs: np.ndarray) -> np.ndarray:
        if self.stats is not None:
            obs = self.stats.normalize(obs)
        if not self.recurrent:
            return self.model.predict(obs, deterministic=self.greedy)[0]
        if self.start is None or len(self.start) != len(obs):
            self.reset(len(obs))
        actions, self.state = self.model.predict(obs, state=self.state, episode_start=self.start,
                                                 deterministic=self.greedy)
        self.start = np.zeros_like(self.start)
        return actions


STATS = "obs_stats"  # RUN_DIR/obs_stats.safetensors: the observation statistics of the best weights


def load_sb3_model(run: RunDir, cfg: SB3RunConfig, device: torch.device):
    model = build_sb3_model(cfg, make_sb3_env(cfg, device), device)
    run.load_weights(model.policy, "model", device)
    model.policy.set_training_mode(False)
    return model


def load_sb3_actor(run: RunDir, cfg: SB3RunConfig, device: torch.device, greedy: bool) -> SB3Actor:
    """The run's best model as an actor, with the observation statistics it was saved with."""
    stats = None
    if cfg.sb3.normalize_observations:
        stats = ObservationStats(int(make_sb3_env(cfg, device, num_envs=1).observation_space.shape[0]))
        run.load_weights(stats, STATS)
    return SB3Actor(load_sb3_model(run, cfg, device), greedy, stats)


def train_sb3(cfg: SB3RunConfig, run: RunDir, quiet: bool = False) -> TrainResult:
    from stable_baselines3.common.callbacks import BaseCallback

    device = resolve_device(cfg.device)
    seed_everything(cfg.seed)
    envs = make_sb3_env(cfg, device)
    h = cfg.sb3
    if h.normalize_observations or h.normalize_rewards:
        from stable_baselines3.common.vec_env import VecNormalize

        envs = VecNormalize(envs, norm_obs=h.normalize_observations, norm_reward=h.normalize_rewards, gamma=h.gamma)
    model = build_sb3_model(cfg, envs, device)

    def stats() -> ObservationStats | None:
        return ObservationStats.of_vec_normalize(envs) if cfg.sb3.normalize_observations else None

    def save_best() -> None:
        run.save_weights(model.policy, "model")
        if cfg.sb3.normalize_observations:
            run.save_weights(stats(), STATS)
    run.update_meta(unit="env steps", monitor="eval/return_mean",
                    info={"env_id": cfg.env.id, "obs_dim": int(envs.observation_space.shape[0]),
                          **action_info(envs.action_space)})
    tc = cfg.train
    logger = MetricsLogger(run.path)
    state = RunState()
    started, eval_seconds = time.perf_counter(), 0.0
    last: dict[str, float] = {}

    def save() -> None:
        state.train_seconds = time.perf_counter() - started - eval_seconds
        run.save_checkpoint(model.policy, SB3Optimizers(model), state, capture_rng(device))

    # PPO and A2C end a rollout every n_steps x copies env steps; SAC every train_freq: log it every 1,000
    log_every = 1000 if cfg.algo == "sb3_sac" else 0

    class Schedule(BaseCallback):
        """Per rollout: log; every eval_every_steps: evaluate greedily (clock stopped), keep the best, stop if solved."""

        def __init__(self, bar: ProgressBar):
            super().__init__()
            self.bar = bar
            self.running = np.zeros(envs.num_envs)
            self.finished: list[float] = []
            self.logged_at = 0

        def _on_step(self) -> bool:
            self.running += envs.get_original_reward() if h.normalize_rewards else self.locals["rewards"]
            for i in np.flatnonzero(self.locals["dones"]):
                self.finished.append(float(self.running[i]))
                self.running[i] = 0.0
            return not state.finished

        def _on_rollout_end(self) -> None:
            nonlocal eval_seconds, last
            state.iteration += 1
            state.progress = self.num_timesteps
            if state.progress - self.logged_at < log_every and not evaluation_due(state, tc):
                return
            self.logged_at = state.progress
            state.train_seconds = time.perf_counter() - started - eval_seconds
            metrics = {k: float(v) for k, v in self.model.logger.name_to_value.items() if k.startswith("train/")}
            loss = next((metrics[k] for k in ("train/loss", "train/policy_loss", "train/actor_loss") if k in metrics),
                        0.0)
            kept = (f"The weights and checkpoint of {state.last_eval_at:,} env steps are kept in {run.path}."
                    if run.has("checkpoint") else "No weights were saved yet.")
            check_finite(loss, self.model.policy.parameters(), where=f"rollout {state.iteration} "
                         f"({state.progress:,} env steps)", last_finite=last.get("train/loss"),
                         lr=("sb3.learning_rate", cfg.sb3.learning_rate),
                         clip=("sb3.max_grad_norm", cfg.sb3.max_grad_norm), kept=kept)
            recent = self.finished[-100:]
            metrics.update({"rollout/ep_return_mean_100": float(np.mean(recent)) if recent else math.nan,
                            "time/train_seconds": state.train_seconds, "time/iteration": state.iteration})
            if evaluation_due(state, tc):
                eval_started = time.perf_counter()
                returns = evaluate_actor(SB3Actor(self.model, True, stats()), cfg.env, tc.eval_episodes,
                                         cfg.seed + tc.eval_seed_offset)
                eval_seconds += time.perf_counter() - eval_started
                if record_evaluation(state, tc, returns, metrics):
                    save_best()
                save()
            logger.log(state.progress, metrics)
            last = metrics
            best = state.best_score if state.best_score is not None else math.nan
            self.bar.update(min(state.progress, tc.total_steps), f"it {state.iteration} | return "
                            f"{metrics['rollout/ep_return_mean_100']:.1f} | best eval {best:.1f}")

    from stable_baselines3.common.logger import Logger

    model.set_logger(Logger(folder=None, output_formats=[]))  # rlgen logs; SB3's default makes a /tmp/SB3-… dir a run
    diverged = False
    with ProgressBar(tc.total_steps, f"{cfg.algo} {cfg.env.id}", quiet) as bar:
        try:
            model.learn(total_timesteps=tc.total_steps, callback=Schedule(bar))
        except Diverged:
            diverged = True
            raise
        finally:
            if not diverged:  # never a non-finite weight in a file
                if not run.has("model"):
                    save_best()
                state.progress = model.num_timesteps
                save()
            logger.close()
    return run.result(state, last)
