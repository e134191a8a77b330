"""Batched seeds (agents/seeds.py): each seed of a batch is updated exactly as a single run of it would be, stops when
it is done, is judged on its own, and lands in an ordinary run directory."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch

import rlgen
from rlgen.agents.algorithms import UPDATES, algo_section, initial_policy
from rlgen.agents.config import RL_CONFIGS
from rlgen.agents.rollout import Rollout
from rlgen.agents.seeds import BatchedLoss, StackedPolicy, batched_update, evaluate_seeds, new_seed
from rlgen.config import load_config
from rlgen.errors import RlgenError
from rlgen.optim import TrainingOptimizer
from tests.conftest import CONFIGS
from tests.test_cli import assert_one_line_error, invoke

ENVS = 4  # copies per seed


def reinforce(seed, *overrides, algo="reinforce"):
    return load_config(CONFIGS / f"cartpole_{algo}.yaml", [f"seed={seed}", "device=cpu", f"env.num_envs={ENVS}",
                                                           *overrides], RL_CONFIGS)


def rollout_of(columns: int, steps: int = 15, seed: int = 0) -> Rollout:
    g = torch.Generator().manual_seed(seed)
    valid = torch.rand(steps, columns, generator=g) > 0.2
    terminated = (torch.rand(steps, columns, generator=g) < 0.1) & valid
    return Rollout(obs=torch.randn(steps, columns, 4, generator=g),
                   actions=torch.randint(0, 2, (steps, columns), generator=g), rewards=torch.ones(steps, columns),
                   terminated=terminated, truncated=torch.zeros(steps, columns, dtype=torch.bool), valid=valid,
                   last_obs=torch.randn(columns, 4, generator=g), num_steps=int(valid.sum()))


def columns(rollout: Rollout, k: int) -> Rollout:
    part = slice(k * ENVS, (k + 1) * ENVS)
    return Rollout(**{name: getattr(rollout, name)[:, part] for name in
                      ("obs", "actions", "rewards", "terminated", "truncated", "valid")},
                   last_obs=rollout.last_obs[part], num_steps=int(rollout.valid[:, part].sum()))


def single_update(cfg, rollout):
    """The weights and gradients of a single run of cfg's seed after its first update on `rollout`."""
    policy = initial_policy(cfg, 4, 2, torch.device("cpu"))
    UPDATES[cfg.algo](algo_section(cfg), policy, TrainingOptimizer(policy, cfg.optimizer)).update(rollout)
    return policy.state_dict(), {name: p.grad for name, p in policy.named_parameters()}


@pytest.mark.parametrize("algo, extra", [
    ("reinforce", []),
    ("reinforce", ["reinforce.baseline=true", "optimizer.max_grad_norm=0.05", "optimizer.l2=0.001",
                   "reinforce.normalize=false"]),
    ("a2c", []),  # its critic's targets from the stacked critic, then its loss per seed; clipping at 0.5
])
def test_the_batched_seed_k_and_a_single_run_of_seed_k_agree_on_their_first_update(algo, extra):
    seeds = [3, 7, 11]
    cfgs = [reinforce(s, *extra, algo=algo) for s in seeds]
    batch = [new_seed(cfg, None, 4, 2, torch.device("cpu")) for cfg in cfgs]
    rollout = rollout_of(len(seeds) * ENVS)
    batched_update(BatchedLoss(cfgs[0], initial_policy(cfgs[0], 4, 2, torch.device("cpu"))), batch, rollout)
    for k, cfg in enumerate(cfgs):
        weights, grads = single_update(cfg, columns(rollout, k))
        for name, p in batch[k].policy.named_parameters():  # its own normalisation, penalty and clipping
            assert torch.allclose(p.grad, grads[name], rtol=1e-4, atol=1e-7), (k, name, (p.grad - grads[name]).abs().max())
        lr, eps = cfg.optimizer.lr, cfg.optimizer.eps
        for name, p in batch[k].policy.named_parameters():
            # Adam's first step is lr·g/(|g| + eps), whose slope in g is at most 1/eps: where a gradient is as small
            # as eps (1e-9, say), the gradients' float noise moves the step by up to lr·|Δg|/eps
            tolerance = 2e-5 + lr * (p.grad - grads[name]).abs() / eps
            assert ((p.detach() - weights[name]).abs() <= tolerance).all(), (k, name)
    assert not torch.allclose(batch[0].policy.actor[0][0].weight, batch[1].policy.actor[0][0].weight)


def test_a_finished_seed_stops_learning_while_the_others_go_on():
    cfgs = [reinforce(s) for s in (0, 1)]
    batch = [new_seed(cfg, None, 4, 2, torch.device("cpu")) for cfg in cfgs]
    before = [{k: v.clone() for k, v in s.policy.state_dict().items()} for s in batch]
    batch[0].state.status = "solved"
    batched_update(BatchedLoss(cfgs[0], initial_policy(cfgs[0], 4, 2, torch.device("cpu"))), batch, rollout_of(8))
    assert all(torch.equal(v, before[0][k]) for k, v in batch[0].policy.state_dict().items())
    assert not all(torch.equal(v, before[1][k]) for k, v in batch[1].policy.state_dict().items())
    assert batch[0].optimizer.steps_done == 0 and batch[1].optimizer.steps_done == 1


def test_a_seed_that_is_done_leaves_the_batch_and_the_others_finish_alone(tmp_path, monkeypatch):
    from rlgen.agents.rollout import RolloutCollector

    sizes = []
    keep = RolloutCollector.keep
    monkeypatch.setattr(RolloutCollector, "keep", lambda self, copies: sizes.append(len(copies)) or keep(self, copies))
    budget = {"train.eval_every_steps": 1000, "train.eval_episodes": 5, "train.target_return": 100,
              "train.total_steps": 60000, "env.num_envs": ENVS}
    runs = rlgen.train_seeds(CONFIGS / "cartpole_reinforce.yaml", [0, 1, 2], budget, run_dir=tmp_path, quiet=True)
    ends = sorted(r.result.progress for r in runs)
    assert sizes and sizes == sorted(sizes, reverse=True) and all(n % ENVS == 0 and 0 < n < 3 * ENVS for n in sizes)
    assert ends[0] < ends[-1]  # they did not all end together: the later ones went on without the first
    for run in runs:
        assert run.result.status == "solved" and len(rlgen.load(run.path).metrics()) == run.result.iterations


def test_the_stacked_actor_is_each_seed_s_own_policy():
    policies = [initial_policy(reinforce(s, algo="a2c"), 4, 2, torch.device("cpu")) for s in range(3)]
    obs = torch.randn(6, 3 * 5, 4)  # (T, S·N, D): seed k owns columns 5k … 5k + 4
    logits, values = StackedPolicy(policies).logits(obs), StackedPolicy(policies).value(obs)
    for k, policy in enumerate(policies):
        own = obs[:, k * 5:(k + 1) * 5]
        assert torch.allclose(logits[:, k * 5:(k + 1) * 5], policy.logits(own), atol=1e-6)
        assert torch.allclose(values[:, k * 5:(k + 1) * 5], policy.value(own), atol=1e-6)
    assert StackedPolicy(policies).logits(obs[0]).shape == (15, 2)
    returns = evaluate_seeds(StackedPolicy(policies), reinforce(0), episodes=3, seed=0)
    assert returns.shape == (3, 3) and (returns >= 8).all() and (returns <= 500).all()


def test_train_seeds_writes_ordinary_run_dirs(tmp_path):
    budget = {"train.total_steps": 4000, "train.eval_every_steps": 2000, "train.eval_episodes": 5,
              "env.num_envs": 8}
    runs = rlgen.train_seeds(CONFIGS / "cartpole_reinforce.yaml", [2, 5], budget, run_dir=tmp_path, quiet=True)
    assert [r.path.name for r in runs] == ["seed2", "seed5"] and [r.config.seed for r in runs] == [2, 5]
    for run in runs:
        again = rlgen.load(run.path)  # an ordinary run: evaluate, plot, resume as any other
        assert again.meta.info["batched_seeds"] == [2, 5] and 4000 <= run.result.progress < 4000 + 8
        assert run.result.status in ("done", "solved") and len(again.metrics()) == run.result.iterations
        assert again.evaluate(episodes=3)["episodes"] == 3
    with pytest.raises(RlgenError, match="already exists and is not empty"):
        rlgen.train_seeds(CONFIGS / "cartpole_reinforce.yaml", [9, 5], budget, run_dir=tmp_path, quiet=True)
    assert not (tmp_path / "seed9").exists()  # the batch was refused whole: nothing half-made


def test_batched_seeds_refuse_what_they_cannot_train(tmp_path):
    for config, extra, message in [("cartpole_ppo", [], "batched seeds train reinforce and a2c only so far"),
                                   ("cartpole_reinforce", ["--set", "env.backend=gymnasium"], "need the torch CartPole"),
                                   ("cartpole_reinforce", ["--set", "policy.dropout=0.1"], "without batch norm"),
                                   ("fashion_mlp", [], "batched seeds are for agents")]:
        result = invoke("train", CONFIGS / f"{config}.yaml", "--seeds", "0-1", "--run-dir", tmp_path / "x", *extra)
        assert_one_line_error(result, 2, message)
    for bad in ("3-1", "a", "1,1", "0-5000"):
        assert_one_line_error(invoke("train", CONFIGS / "cartpole_reinforce.yaml", "--seeds", bad), 2, "--seeds")
    assert_one_line_error(invoke("train", CONFIGS / "cartpole_reinforce.yaml", "--seeds", "0-1", "--seed", 3), 1,
                          "leave out --seed")
    assert not (tmp_path / "x").exists()
    with pytest.raises(RlgenError, match="distinct whole numbers"):
        rlgen.train_seeds(CONFIGS / "cartpole_reinforce.yaml", [1, 1])


def test_rlgen_train_seeds_on_the_command_line(tmp_path):
    result = invoke("train", CONFIGS / "cartpole_reinforce.yaml", "--seeds", "0,4", "--run-dir", tmp_path, "--quiet",
                    "--set", "train.total_steps=2000", "--set", "train.eval_episodes=3", "--timings")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("seed 0: ") and "\nseed 4: " in result.output
    assert "training" in result.output and "(all 2 seeds together); whole command" in result.output
    meta = json.loads((tmp_path / "seed4" / "meta.json").read_text())
    assert meta["state"]["status"] in ("done", "solved") and meta["info"]["threads"] == 1


def test_an_interrupted_batch_keeps_every_seed_and_each_resumes_alone(tmp_path):
    long = ["--set", "train.target_return=1000", "--set", "train.total_steps=5000000", "--set",
            "train.eval_every_steps=2000", "--set", "train.eval_episodes=2"]  # far from done when interrupted
    proc = start("train", CONFIGS / "cartpole_reinforce.yaml", "--seeds", "0-2", "--run-dir", tmp_path, *long)
    wait_for(lambda: all(progress_of(tmp_path / f"seed{s}") > 0 for s in range(3)), proc)
    interrupt(proc, f"what was learned so far is saved in {tmp_path}")
    assert all(rlgen.load(tmp_path / f"seed{s}").run.state().status == "running" for s in range(3))
    stopped = progress_of(tmp_path / "seed1")
    assert 0 < stopped < 5_000_000
    again = start("train", "--resume", tmp_path / "seed1")  # an ordinary run: --resume continues it alone
    wait_for(lambda: progress_of(tmp_path / "seed1") > stopped, again)
    interrupt(again, "what was learned so far is saved in")
    steps = [row["step"] for row in rlgen.load(tmp_path / "seed1").metrics()]
    assert steps == sorted(steps) and steps[-1] > stopped


def start(*args) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "rlgen", *map(str, args), "--quiet"], text=True,
                            env={**os.environ, "OMP_NUM_THREADS": "1"}, stderr=subprocess.PIPE, start_new_session=True,
                            preexec_fn=default_ctrl_c)


def default_ctrl_c() -> None:
    """A job started in the background by a shell (nohup …&, as CI scripts may) ignores SIGINT, and its children
    inherit that: give the child Python's own Ctrl-C handling back."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def progress_of(run) -> int:
    try:
        return json.loads((run / "meta.json").read_text())["state"]["progress"]
    except (OSError, ValueError, KeyError, TypeError):
        return 0


def wait_for(condition, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + 120
    while not condition():
        assert time.monotonic() < deadline and proc.poll() is None, proc.poll()
        time.sleep(0.05)


def interrupt(proc: subprocess.Popen, said: str) -> None:
    os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130 and said in stderr, stderr


@pytest.mark.parametrize("algo", ["reinforce", "a2c"])
def test_a_batch_of_one_seed_is_the_single_run_step_for_step(algo, tmp_path):
    """With one seed the batch draws the same random numbers in the same order as a single run (the same env copies,
    the same action noise), so every logged number agrees: the batched path adds nothing of its own."""
    budget = {"train.total_steps": 3000, "train.eval_every_steps": 1000, "train.eval_episodes": 5, "device": "cpu"}
    config = CONFIGS / f"cartpole_{algo}.yaml"
    alone = rlgen.train(config, budget, seed=4, run_dir=tmp_path / "alone", quiet=True, threads=1)
    (batched,) = rlgen.train_seeds(config, [4], budget, run_dir=tmp_path / "batch", quiet=True, threads=1)
    assert batched.result.progress == alone.result.progress and batched.result.best_score == alone.result.best_score
    rows = [[{k: v for k, v in row.items() if not k.startswith("time/")} for row in run.metrics()]
            for run in (alone, batched)]
    assert len(rows[0]) == len(rows[1]) >= 3
    for mine, theirs in zip(*rows):
        assert mine.keys() == theirs.keys()
        for key in mine:
            assert mine[key] == pytest.approx(theirs[key], rel=1e-4, abs=1e-6, nan_ok=True), (key, mine, theirs)
