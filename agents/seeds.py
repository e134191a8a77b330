"""Many seeds of one agent config trained at once, in one process, as one batched model.

Each seed keeps its own policy, optimizer (state, schedule, clipping), run state and ordinary run directory, exactly
as a single run of that seed would: the same initial weights, the same update rule, its own evaluations, its own
end (a solved seed stops learning while the others go on). What is shared is the work:
- one torch CartPole of S·N copies: seed s plays copies s·N … s·N + N − 1; every step asks one batched forward
  pass (a `torch.baddbmm` per layer over the S stacked weight matrices) for all S·N actions; a seed that is done
  (solved or out of budget) leaves the batch, its copies dropped from the env, so the others go on faster;
- one update: the algorithm's own `targets` (A2C's from the stacked critics) and `loss` (agents/update.py), the
  loss run on each seed's slice of the rollout under `torch.func.vmap` with that seed's weights, so every mean and
  normalisation stays within its seed; the S losses are summed and backpropagated once (seeds share no parameter,
  so each gets exactly its own gradient), then each seed's optimizer takes its step;
- one greedy evaluation of every seed that is due: gymnasium's CartPole with 100 copies per seed, in one vector env.

This is how PureJaxRL trains hundreds of CartPole agents at once; here on the CPU the gain comes from replacing S
small matrix products per step by one batched product, and S processes' start-up by one. A batch of one seed draws
the same random numbers in the same order as a single run of it, and so logs the very same numbers (tested).
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field

import gymnasium as gym
import numpy as np
import torch
from torch import nn

from rlgen.agents.algorithms import UPDATES, algo_section, initial_policy
from rlgen.agents.config import AgentRunConfig
from rlgen.agents.distributions import action_info
from rlgen.agents.evaluate import evaluation_due, evaluation_env, record_evaluation, steps_left_per_copy
from rlgen.agents.loop import rollout_metrics
from rlgen.agents.policy import ActorCritic
from rlgen.agents.rollout import Rollout, RolloutCollector, finished_episodes
from rlgen.envs.make import TORCH_ENVS, make_vec_env
from rlgen.device import resolve_device
from rlgen.divergence import check_finite
from rlgen.interrupts import interrupts_deferred
from rlgen.errors import ConfigError
from rlgen.metrics import ProgressBar
from rlgen.optim import TrainingOptimizer
from rlgen.rundir import RunDir
from rlgen.runstate import RunState, TrainResult, capture_rng

ROLLOUT_FIELDS = ("obs", "actions", "rewards", "terminated", "truncated", "valid")


def batching_problem(cfg: AgentRunConfig) -> str | None:
    """Why this config's seeds cannot train as one batched model (None when they can)."""
    if cfg.algo not in UPDATES or not UPDATES[cfg.algo].batchable:
        batchable = " and ".join(name for name, update in UPDATES.items() if update.batchable)
        return f"batched seeds train {batchable} only so far (not {cfg.algo}); train its seeds one by one"
    if cfg.env.backend != "torch" or TORCH_ENVS.get(cfg.env.id) != "cartpole":
        return "batched seeds need the torch CartPole (env.backend: torch, env.id: CartPole-v1)"
    if cfg.normalize_observations or cfg.scale_rewards:
        return ("batched seeds do not normalise observations or scale rewards yet (normalize_observations, "
                "scale_rewards); train its seeds one by one")
    for name in ("policy", "value"):
        net = getattr(cfg, name)
        if net.batch_norm or net.dropout:
            return f"batched seeds need {name} networks without batch norm or dropout"
        if net.recurrent is not None:
            return (f"batched seeds need feed-forward networks ({name}.recurrent is set); train a recurrent "
                    f"policy's seeds one by one")
    return None


def check_batchable(cfg: AgentRunConfig) -> None:
    problem = batching_problem(cfg)
    if problem is not None:  # a setting the batch cannot train: bad input, exit 2
        raise ConfigError(problem)


@dataclass
class Seed:
    """One seed's own part: what a single run of it would hold."""

    cfg: AgentRunConfig
    run: RunDir
    policy: ActorCritic
    optimizer: TrainingOptimizer
    state: RunState = field(default_factory=RunState)
    recent: list[float] = field(default_factory=list)  # returns of its last 100 finished training episodes
    metrics: dict[str, float] = field(default_factory=dict)
    unlogged: bool = False  # its last iteration is counted (and would be saved) but not yet in its metrics table

    def record_iteration(self, stats: dict[str, float], steps: int, returns: list[float], lengths: list[int],
                         seconds: float) -> None:
        """Count one update of this seed (its share of the iteration's seconds) and set its metrics row, as the
        single-run loop does; a non-finite loss or weight stops the batch with one line naming the seed."""
        last_loss = self.metrics.get("train/loss")
        self.state.train_seconds += seconds
        self.state.progress += steps
        self.state.iteration += 1
        self.recent = (self.recent + returns)[-100:]
        self.metrics = dict(stats)
        check_finite(self.metrics["train/loss"], self.policy.parameters(), last_finite=last_loss,
                     where=f"seed {self.cfg.seed}, iteration {self.state.iteration}",
                     lr=("optimizer.lr", self.cfg.optimizer.lr),
                     clip=("optimizer.max_grad_norm", self.cfg.optimizer.max_grad_norm),
                     kept=f"Its run dir is {self.run.path}.")
        self.metrics.update(rollout_metrics(returns, lengths, self.recent, self.optimizer.lr, steps, seconds,
                                            self.state))
        self.unlogged = True

    def save(self, rng: dict[str, torch.Tensor]) -> None:
        self.run.save_checkpoint(self.policy, self.optimizer, self.state, rng)


Layers = list[tuple[torch.Tensor, torch.Tensor] | nn.Module]


def _stacked_layers(networks: list[nn.Module]) -> Layers:
    """The layers of S networks of one shape: each linear layer's weights stacked, (S, in, out) and (S, 1, out);
    activations as they are (the same function for every seed). Detached copies: for rollouts and targets."""
    layers: Layers = []
    per_network = [[m for m in net.modules() if not isinstance(m, nn.Sequential)] for net in networks]
    for parts in zip(*per_network):
        if isinstance(parts[0], nn.Linear):
            layers.append((torch.stack([m.weight.detach() for m in parts]).transpose(1, 2),
                           torch.stack([m.bias.detach() for m in parts]).unsqueeze(1)))
        else:
            layers.append(parts[0])
    return layers


class StackedPolicy:
    """The S seeds' policies as one batched network: observations (…, S·N, D) → logits (…, S·N, A) and values
    (…, S·N), seed s's columns s·N … s·N + N − 1 through seed s's weights (one `torch.baddbmm` per layer). Built
    once per rollout (the weights do not change during one)."""

    def __init__(self, policies: list[ActorCritic]):
        self.seeds = len(policies)
        self.dist = policies[0].dist  # a categorical (batched seeds run the torch CartPole only)
        self.device = next(policies[0].parameters()).device
        self.actor = _stacked_layers([p.actor for p in policies])
        self.critic = _stacked_layers([p.critic for p in policies]) if policies[0].critic is not None else None

    def _run(self, layers: Layers, obs: torch.Tensor) -> torch.Tensor:
        lead = obs.shape[:-2]  # (…, S·N, D) → (S, …·N, D)
        x = obs.reshape(*lead, self.seeds, -1, obs.shape[-1]).movedim(-3, 0)
        per_seed = x.shape[1:-1]
        x = x.reshape(self.seeds, -1, obs.shape[-1])
        for layer in layers:
            x = torch.baddbmm(layer[1], x, layer[0]) if isinstance(layer, tuple) else layer(x)
        return x.reshape(self.seeds, *per_seed, -1).movedim(0, -3).reshape(*obs.shape[:-1], -1)

    def logits(self, obs: torch.Tensor) -> torch.Tensor:
        return self._run(self.actor, obs)

    def value(self, obs: torch.Tensor) -> torch.Tensor:
        if self.critic is None:
            return torch.zeros(obs.shape[:-1], device=obs.device)
        return self._run(self.critic, obs).squeeze(-1)

    def rollout_values(self, rollout: Rollout, bootstrap: bool = True) -> torch.Tensor:
        obs = torch.cat([rollout.obs, rollout.last_obs.unsqueeze(0)]) if bootstrap else rollout.obs
        return self.value(obs)

    def sample(self, obs: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        return (self.logits(obs) + noise).argmax(dim=-1)

    def act(self, obs: torch.Tensor) -> torch.Tensor:
        return self.logits(obs).argmax(dim=-1)


def split_seeds(tensor: torch.Tensor, seeds: int) -> torch.Tensor:
    """(T, S·N, …) → (S, T, N, …): each seed's columns of a rollout tensor."""
    return tensor.reshape(tensor.shape[0], seeds, -1, *tensor.shape[2:]).movedim(1, 0)


class BatchedLoss(nn.Module):
    """The algorithm's loss as a module function of its policy's weights, for `torch.func.functional_call`."""

    def __init__(self, cfg: AgentRunConfig, policy: ActorCritic):
        super().__init__()
        self.policy = policy
        self.update = UPDATES[cfg.algo](algo_section(cfg), policy, None)

    def forward(self, columns: dict[str, torch.Tensor], targets: dict[str, torch.Tensor]):
        rollout = Rollout(**columns, last_obs=columns["obs"][-1], num_steps=0)
        return self.update.loss(rollout, targets)


def new_seed(cfg: AgentRunConfig, run: RunDir, obs_dim: int, action_space: gym.Space, device: torch.device) -> Seed:
    """A seed as a single run of it starts: its initial policy, its optimizer with the schedule on its own steps."""
    policy = initial_policy(cfg, obs_dim, action_space, device)
    seed = Seed(cfg, run, policy, TrainingOptimizer(policy, cfg.optimizer))
    seed.optimizer.follow(lambda: seed.state.progress / cfg.train.total_steps)
    return seed


def batched_update(loss: "BatchedLoss", seeds: list[Seed], rollout: Rollout,
                   stacked: StackedPolicy | None = None) -> dict[str, torch.Tensor]:
    """One update of every seed still learning, each on its own columns of the rollout: one backward pass through
    the sum of their losses, then each seed's optimizer step. `stacked`: the seeds' current weights stacked, when the
    caller has them (the rollout's). Returns the stats, (S,) each."""
    losses, stats = seed_losses(loss, seeds, rollout, stacked or StackedPolicy([s.policy for s in seeds]))
    learning = [i for i, s in enumerate(seeds) if not s.state.finished]
    for i in learning:
        seeds[i].optimizer.begin()
    total = losses[learning].sum() + sum(seeds[i].optimizer.penalty() for i in learning)
    total.backward()
    for i in learning:
        seeds[i].optimizer.finish()
    return stats


def seed_losses(loss: BatchedLoss, seeds: list[Seed], rollout: Rollout,
                stacked: StackedPolicy) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Each seed's loss on its own columns of the rollout, with its own weights: (S,) and stats of (S,) each."""
    count = len(seeds)
    targets = {k: split_seeds(v, count) for k, v in loss.update.targets(rollout, stacked).items()}
    columns = {k: split_seeds(getattr(rollout, k), count) for k in ROLLOUT_FIELDS}
    per_seed = [dict(s.policy.named_parameters()) for s in seeds]
    params = {f"policy.{name}": torch.stack([own[name] for own in per_seed]) for name in per_seed[0]}

    def one(weights, cols, tgts):
        return torch.func.functional_call(loss, weights, (cols, tgts))

    with interrupts_deferred():  # a Ctrl-C inside vmap's nesting would end in a torch assertion, not a saved run
        return torch.func.vmap(one)(params, columns, targets)


def per_seed_episodes(rollout: Rollout, carry: tuple[torch.Tensor, torch.Tensor], seeds: int
                      ) -> tuple[list[list[float]], list[list[int]], tuple[torch.Tensor, torch.Tensor]]:
    """The returns and lengths of the episodes each seed finished in this rollout."""
    ended = (rollout.terminated | rollout.truncated) & rollout.valid
    returns, lengths, carry = finished_episodes(rollout.rewards, rollout.valid, ended, carry)
    owner = (ended.nonzero()[:, 1] // (ended.shape[1] // seeds)).tolist()  # row-major (t, n), like the returns
    by_seed_returns: list[list[float]] = [[] for _ in range(seeds)]
    by_seed_lengths: list[list[int]] = [[] for _ in range(seeds)]
    for s, r, n in zip(owner, returns.tolist(), lengths.tolist()):
        by_seed_returns[s].append(r)
        by_seed_lengths[s].append(n)
    return by_seed_returns, by_seed_lengths, carry


def evaluate_due(seeds: list[Seed], due: list[int], cfg: AgentRunConfig, device: torch.device) -> None:
    """Evaluate the seeds whose evaluation is due, all at once; each keeps its best weights and saves a checkpoint."""
    tc = cfg.train
    scores = evaluate_seeds(StackedPolicy([seeds[i].policy for i in due]), cfg, tc.eval_episodes,
                            cfg.seed + tc.eval_seed_offset)
    rng = capture_rng(device)
    for i, returns in zip(due, scores):
        if record_evaluation(seeds[i].state, tc, returns, seeds[i].metrics):
            seeds[i].run.save_weights(seeds[i].policy, "model")
        seeds[i].save(rng)


def evaluate_seeds(actor: StackedPolicy, cfg: AgentRunConfig, episodes: int, seed: int) -> np.ndarray:
    """Greedy returns of every seed of `actor`, `episodes` each: (S, episodes). Up to 100 episodes per seed are played
    side by side in one gymnasium vector env (the env single runs are judged on)."""
    chunks = []
    done = 0
    while done < episodes:
        n = min(100, episodes - done)
        envs = make_vec_env(evaluation_env(cfg.env), num_envs=actor.seeds * n)
        try:
            obs, _ = envs.reset(seed=seed + done)
            total = np.zeros(envs.num_envs)
            running = np.ones(envs.num_envs, dtype=bool)
            while running.any():
                with torch.no_grad():
                    action = actor.act(torch.as_tensor(obs, dtype=torch.float32, device=actor.device)).cpu().numpy()
                obs, reward, terminated, truncated, _ = envs.step(action)
                total += np.where(running, reward, 0.0)
                running &= ~(terminated | truncated)
        finally:
            envs.close()
        chunks.append(total.reshape(actor.seeds, n))
        done += n
    return np.concatenate(chunks, axis=1)


def train_seeds(cfgs: list[AgentRunConfig], runs: list[RunDir], quiet: bool = False) -> list[TrainResult]:
    """Train the configs (one config, several seeds: they differ in `seed` only) as one batched model into their run
    directories; returns each seed's result, in order."""
    started_at = time.perf_counter()
    cfg = cfgs[0]
    check_batchable(cfg)
    device = resolve_device(cfg.device)
    tc, count, per_seed = cfg.train, len(cfgs), cfg.env.num_envs
    envs = make_vec_env(cfg.env.model_copy(update={"num_envs": count * per_seed}), device=device)
    obs_dim, action_space = envs.single_observation_space.shape[0], envs.single_action_space
    seeds = [new_seed(seed_cfg, run, obs_dim, action_space, device) for seed_cfg, run in zip(cfgs, runs)]
    for run in runs:
        run.update_meta(unit="env steps", monitor="eval/return_mean",
                        info={"env_id": cfg.env.id, "obs_dim": obs_dim, **action_info(action_space),
                              "batched_seeds": [c.seed for c in cfgs]})
    loss = BatchedLoss(cfg, copy.deepcopy(seeds[0].policy))  # a template for the functional calls (no RNG drawn)
    collector = RolloutCollector(envs, StackedPolicy([s.policy for s in seeds]), device, cfg.seed)
    carry = (torch.zeros(count * per_seed, device=device), torch.zeros(count * per_seed, dtype=torch.int64,
                                                                        device=device))
    loggers = [s.run.metrics_logger() for s in seeds]
    timings = {"set-up": 0.0, "training": 0.0, "evaluations": 0.0}
    rollout_steps = tc.rollout_steps if tc.rollout == "steps" else None
    total_budget = tc.total_steps * count
    active = list(range(count))  # the seeds still learning, in the order of their copies in the env
    try:
        with ProgressBar(total_budget, f"{cfg.algo} {cfg.env.id} × {count} seeds", quiet) as bar:
            timings["set-up"] = time.perf_counter() - started_at
            while active:
                started = time.perf_counter()
                learning = [seeds[i] for i in active]
                collector.policy = stacked = StackedPolicy([s.policy for s in learning])
                left = min(tc.total_steps - s.state.progress for s in learning)  # the nearest to its budget first
                rollout = collector.collect(rollout_steps, steps_left_per_copy(0, left, per_seed))
                stats = batched_update(loss, learning, rollout, stacked)
                elapsed = time.perf_counter() - started
                timings["training"] += elapsed
                if rollout_steps is None:  # each rollout starts fresh episodes: one cut at the budget is dropped
                    carry = (torch.zeros_like(carry[0]), torch.zeros_like(carry[1]))
                returns, lengths, carry = per_seed_episodes(rollout, carry, len(active))
                steps = rollout.valid.reshape(rollout.valid.shape[0], len(active), per_seed).sum((0, 2)).tolist()
                values = {k: v.float().tolist() for k, v in stats.items()}  # one host sync per iteration
                for k, s in enumerate(learning):
                    s.record_iteration({name: v[k] for name, v in values.items()}, int(steps[k]), returns[k],
                                       lengths[k], elapsed / len(learning))
                due = [i for i in active if evaluation_due(seeds[i].state, tc)]
                if due:
                    eval_started = time.perf_counter()
                    evaluate_due(seeds, due, cfg, device)
                    timings["evaluations"] += time.perf_counter() - eval_started
                for i in active:
                    seeds[i].unlogged = False  # before the call: a Ctrl-C inside it must not write the row twice
                    loggers[i].log(seeds[i].state.progress, seeds[i].metrics)
                if any(seeds[i].state.finished for i in active):  # their copies stop being stepped
                    kept = [k for k, i in enumerate(active) if not seeds[i].state.finished]
                    if kept:
                        copies = torch.tensor([k * per_seed + j for k in kept for j in range(per_seed)], device=device)
                        collector.keep(copies)
                        carry = (carry[0][copies], carry[1][copies])
                    active = [active[k] for k in kept]
                bar.update(sum(min(s.state.progress, tc.total_steps) if not s.state.finished else tc.total_steps
                               for s in seeds),
                           f"{sum(s.state.status == 'solved' for s in seeds)}/{count} solved | it "
                           f"{max(s.state.iteration for s in seeds)}")
    finally:  # also on Ctrl-C or an error: every seed keeps what it learnt (never non-finite weights)
        rng = capture_rng(device)
        for s, logger in zip(seeds, loggers):
            if s.unlogged:  # Ctrl-C during an evaluation: the checkpoint counts this iteration, so the table does too
                logger.log(s.state.progress, s.metrics)
            logger.close()
            if not s.state.finished and all(torch.isfinite(p).all() for p in s.policy.parameters()):
                if not s.run.has("model"):
                    s.run.save_weights(s.policy, "model")
                s.save(rng)
        envs.close()
    return [s.run.result(s.state, s.metrics, dict(timings)) for s in seeds]  # the timings of the whole batch
