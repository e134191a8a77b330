"""Agent runs as registered kinds (`rlgen.kinds` entry points): `agent` for rlgen's REINFORCE, A2C and PPO on the
one on-policy loop, and `sb3` for stable-baselines3's PPO and A2C through the bridge. Both evaluate and render the
same way: on gymnasium's own environment, through an actor."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import torch
from torch import nn

from rlgen.agents.algorithms import build_policy, env_shapes, load_policy
from rlgen.agents.config import RL_CONFIGS, SB3_CONFIGS, AgentRunConfig, SB3RunConfig
from rlgen.agents.evaluate import Actor, evaluate_actor, policy_actor, summarize
from rlgen.agents.loop import train_agent
from rlgen.agents.render import check_render_request, render_actor
from rlgen.agents.rollout import Rollout
from rlgen.distributed import launched_world
from rlgen.errors import ConfigError, RlgenError
from rlgen.export import choose_part
from rlgen.nets import check_size
from rlgen.registry import RunKind, require_model
from rlgen.rundir import RunDir
from rlgen.runstate import TrainResult


class _ActorKind(RunKind):
    """What agent kinds share: a trained run is an actor, judged and filmed on gymnasium's environment."""

    def actor(self, run: RunDir, cfg: Any, device: torch.device, greedy: bool) -> Actor:
        raise NotImplementedError

    def evaluate(self, run: RunDir, cfg: Any, device: torch.device, *, episodes: int = 100, seed: int = 0,
                 greedy: bool = True, nll_samples: int | None = None, quiet: bool = True) -> dict[str, Any]:
        require_model(run)
        returns = evaluate_actor(self.actor(run, cfg, device, greedy), cfg.env, episodes, seed, quiet)
        return {**summarize(returns), "seed": seed, "greedy": greedy, "env_id": cfg.env.id, "run_dir": str(run.path)}

    def hint(self, cfg: Any, run: RunDir, result: TrainResult) -> str | None:
        from rlgen.hints import first_finite, random_policy_hint
        from rlgen.metrics import read_metrics

        path = run.path / "metrics.csv"
        first = first_finite(read_metrics(path), "rollout/ep_return_mean_100") if path.is_file() else None
        lr = cfg.optimizer.lr if hasattr(cfg, "optimizer") else cfg.sb3.learning_rate
        return random_policy_hint(result.best_score, first, lr, cfg.train.total_steps)

    def describe(self, report: dict[str, Any]) -> str:
        return (f"{report['env_id']}: mean return {report['mean_return']:.2f} ± {report['std_return']:.2f} "
                f"(min {report['min_return']:.0f}, max {report['max_return']:.0f}) over {report['episodes']} episodes")

    def render(self, run: RunDir, cfg: Any, device: torch.device, out: Path | None, *, episodes: int, seed: int,
               fps: int, human: bool) -> tuple[int, list[float]]:
        check_render_request(out, human)
        require_model(run)
        return render_actor(self.actor(run, cfg, device, True), cfg.env, out, episodes, seed, fps, human)


class AgentKind(_ActorKind):
    name = "agent"
    configs = dict(RL_CONFIGS)
    continuable = ("train.total_steps", "train.target_return", "train.eval_every_steps", "train.eval_episodes")

    def continue_problem(self, cfg: AgentRunConfig, state) -> str | None:
        tc = cfg.train
        if state.progress >= tc.total_steps:
            return (f"it has taken {state.progress:,} of train.total_steps {tc.total_steps:,}: give more steps to "
                    f"continue it (--set train.total_steps={state.progress + tc.total_steps})")
        if tc.target_return is not None and state.best_score is not None and state.best_score >= tc.target_return:
            return (f"it is solved (best evaluation {state.best_score:.5g} ≥ train.target_return {tc.target_return:g})"
                    f": continue it with --set train.target_return=null (or a higher target)")
        return None

    def check(self, cfg: AgentRunConfig) -> None:
        shapes = env_shapes(cfg.env)
        check_size(lambda: build_policy(cfg, *shapes), "the policy")
        recurrent = cfg.policy.recurrent is not None or cfg.value.recurrent is not None
        if recurrent and cfg.algo == "ppo" and cfg.ppo.minibatches > cfg.env.num_envs:
            raise ConfigError(f"ppo.minibatches {cfg.ppo.minibatches} is more than env.num_envs {cfg.env.num_envs}: a "
                             f"recurrent policy's minibatches are whole env copies; use at most {cfg.env.num_envs}")

    def train(self, cfg: AgentRunConfig, run: RunDir, quiet: bool = False, resume: bool = False,
              threads=None) -> TrainResult:
        return train_agent(cfg, run, quiet, resume)

    def batching_problem(self, cfg: AgentRunConfig) -> str | None:
        from rlgen.agents.seeds import batching_problem

        return batching_problem(cfg)

    def train_seeds(self, cfgs: list[AgentRunConfig], runs: list[RunDir], quiet: bool = False) -> list[TrainResult]:
        from rlgen.agents.seeds import train_seeds

        return train_seeds(cfgs, runs, quiet)

    def actor(self, run: RunDir, cfg: AgentRunConfig, device: torch.device, greedy: bool) -> Actor:
        return policy_actor(load_policy(run, cfg, device), device, greedy)

    def trained_model(self, run: RunDir, cfg: AgentRunConfig, device: torch.device):
        """The ActorCritic (with its observation statistics, when it normalises)."""
        require_model(run)
        return load_policy(run, cfg, device)

    def exportable(self, run: RunDir, cfg: AgentRunConfig, part: str | None):
        from rlgen.agents.export import policy_exportable

        choose_part(part, ("policy",), run.path)
        require_model(run)
        policy = load_policy(run, cfg, torch.device("cpu"))
        return policy_exportable(policy, cfg.env, policy_actor(policy, torch.device("cpu")), run.path)

    def summary_model(self, cfg: AgentRunConfig, run: RunDir | None) -> tuple[nn.Module, Callable[[nn.Module], Any]]:
        obs_dim, action_space = env_shapes(cfg.env)
        policy = build_policy(cfg, obs_dim, action_space)
        steps = torch.zeros(3, 2, dtype=torch.bool)  # a rollout of 3 steps of 2 copies, for feed-forward and recurrent
        rollout = Rollout(obs=torch.zeros(3, 2, obs_dim), actions=steps.long(), rewards=steps.float(), terminated=steps,
                          truncated=steps, valid=~steps, last_obs=torch.zeros(2, obs_dim), num_steps=6,
                          starts=steps, last_start=steps[0], memory=policy.initial_memory(2, "cpu"))
        return policy, lambda p: (p.rollout_logits(rollout), p.rollout_values(rollout))


class SB3Kind(_ActorKind):
    name = "sb3"
    configs = dict(SB3_CONFIGS)
    init_from = False  # stable-baselines3 builds and initialises its own models
    model_files = (".zip",)  # what SB3's model.save writes (agents/sb3_zip.py)

    def evaluate_file(self, path: Path, env_id: str, device: torch.device, *, episodes: int, seed: int,
                      greedy: bool, quiet: bool, algo: str | None) -> dict[str, Any]:
        from rlgen.agents.sb3_zip import zip_actor, zip_env

        returns = evaluate_actor(zip_actor(path, env_id, device, greedy, algo), zip_env(env_id), episodes, seed, quiet)
        return {**summarize(returns), "seed": seed, "greedy": greedy, "env_id": env_id, "model_file": str(path)}

    def render_file(self, path: Path, env_id: str, device: torch.device, out: Path | None, *, episodes: int,
                    seed: int, fps: int, human: bool, algo: str | None) -> tuple[int, list[float]]:
        from rlgen.agents.sb3_zip import zip_actor, zip_env

        check_render_request(out, human)
        return render_actor(zip_actor(path, env_id, device, True, algo), zip_env(env_id), out, episodes, seed, fps,
                            human)

    # The bridge is imported where it is used: importing stable-baselines3 takes 0.1 s, which every rlgen command
    # would pay when the registry loads this module, SB3 run or not.
    def check(self, cfg: SB3RunConfig) -> None:
        from rlgen.agents.sb3_bridge import make_sb3_env

        if launched_world().active:
            raise RlgenError("stable-baselines3 runs train in one process; --nproc and torchrun are for rlgen's own "
                             "agents (reinforce, a2c, ppo)")

        make_sb3_env(cfg, torch.device("cpu"), num_envs=1).close()

    def train(self, cfg: SB3RunConfig, run: RunDir, quiet: bool = False, resume: bool = False,
              threads=None) -> TrainResult:
        from rlgen.agents.sb3_bridge import train_sb3

        if resume:
            raise RlgenError(f"{run.path} is a stable-baselines3 run; --resume continues rlgen's own runs only")
        return train_sb3(cfg, run, quiet)

    def actor(self, run: RunDir, cfg: SB3RunConfig, device: torch.device, greedy: bool) -> Actor:
        from rlgen.agents.sb3_bridge import load_sb3_actor

        return load_sb3_actor(run, cfg, device, greedy)

    def trained_model(self, run: RunDir, cfg: SB3RunConfig, device: torch.device):
        """stable-baselines3's own algorithm object (PPO, A2C, SAC, RecurrentPPO) with the run's best weights, for
        its `predict`, `learn` or `save`; with sb3.normalize_observations, `predict` wants observations normalised
        as rlgen's evaluation does (obs_stats.safetensors)."""
        from rlgen.agents.sb3_bridge import load_sb3_model

        require_model(run)
        return load_sb3_model(run, cfg, device)

    def exportable(self, run: RunDir, cfg: SB3RunConfig, part: str | None):
        from rlgen.agents.export import sb3_exportable
        from rlgen.agents.sb3_bridge import load_sb3_actor

        choose_part(part, ("policy",), run.path)
        require_model(run)
        return sb3_exportable(load_sb3_actor(run, cfg, torch.device("cpu"), True), cfg.env, run.path)

    def summary_model(self, cfg: SB3RunConfig, run: RunDir | None) -> tuple[nn.Module, Callable[[nn.Module], Any]]:
        from rlgen.agents.sb3_bridge import build_sb3_model, make_sb3_env

        device = torch.device("cpu")
        envs = make_sb3_env(cfg, device)
        policy = build_sb3_model(cfg, envs, device).policy
        obs = torch.zeros(2, envs.observation_space.shape[0])
        if hasattr(policy, "lstm_actor"):  # sb3-contrib's recurrent policy also takes the LSTM states
            from sb3_contrib.common.recurrent.type_aliases import RNNStates

            lstm = policy.lstm_actor
            zeros = torch.zeros(lstm.num_layers, 2, lstm.hidden_size)
            states = RNNStates((zeros, zeros), (zeros, zeros))
            return policy, lambda p: p(obs, states, torch.zeros(2))
        return policy, lambda p: p(obs)


AGENT_KIND = AgentKind()
SB3_KIND = SB3Kind()
