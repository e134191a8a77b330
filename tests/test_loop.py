"""The on-policy loop with each rollout mode and REINFORCE option, on tiny budgets."""

import pytest

from agents.config import AGENT_CONFIGS
from rlgen.registry import schemas
from agents.loop import train_agent
from rlgen.config import load_config
from rlgen.metrics import read_metrics
from rlgen.rundir import RunDir
from tests.conftest import CONFIGS


@pytest.mark.parametrize(
    "extra",
    [
        ["train.rollout=episodes", "reinforce.baseline=false"],
        ["train.rollout=episodes", "reinforce.baseline=true", "reinforce.entropy_coef=0.01"],
        ["train.rollout=steps", "train.rollout_steps=32", "reinforce.baseline=true", "optimizer.schedule=linear"],
        ["train.rollout=steps", "env.vectorization=sync", "optimizer.name=rmsprop", "optimizer.max_grad_norm=0.5"],
    ],
    ids=["episodes", "episodes-baseline", "steps-baseline-linear-lr", "steps-sync-rmsprop"],
)
def test_loop_runs_and_logs(tmp_path, tiny_agent_overrides, extra):
    cfg = load_config(CONFIGS / "cartpole_reinforce.yaml", tiny_agent_overrides + extra + ["device=cpu"], AGENT_CONFIGS)
    run = RunDir.create(tmp_path / "run", cfg, {})
    result = train_agent(cfg, run, quiet=True)
    assert result.env_steps >= 600 and result.iterations >= 1
    rows = read_metrics(run.path / "metrics.csv")
    assert len(rows) == result.iterations
    assert rows[-1]["step"] == result.env_steps
    if cfg.reinforce.baseline:
        assert "train/value_loss" in rows[-1]
    if cfg.optimizer.schedule == "linear":
        assert rows[-1]["train/lr"] < rows[0]["train/lr"]
    assert run.meta["env_steps"] == result.env_steps


@pytest.mark.parametrize("config", ["cartpole_reinforce", "cartpole_a2c", "cartpole_ppo"])
@pytest.mark.parametrize("backend", ["gymnasium", "torch"])
def test_every_agent_on_every_backend(tmp_path, tiny_agent_overrides, config, backend):
    extra = [f"env.backend={backend}", "device=cpu", "train.rollout_steps=16"]
    if config == "cartpole_ppo":
        extra.append("ppo.target_kl=0.01")
    cfg = load_config(CONFIGS / f"{config}.yaml", tiny_agent_overrides + extra, schemas())
    run = RunDir.create(tmp_path / "run", cfg, {})
    result = train_agent(cfg, run, quiet=True)
    rows = read_metrics(run.path / "metrics.csv")
    assert result.env_steps >= 600 and len(rows) == result.iterations
    assert all(key in rows[-1] for key in ("train/loss", "train/entropy", "rollout/ep_return_mean_100", "eval/return_mean"))
    if cfg.algo != "reinforce":
        assert "train/value_loss" in rows[-1]


def test_torch_backend_only_has_cartpole(tmp_path, tiny_agent_overrides):
    from rlgen.errors import RlgenError

    cfg = load_config(CONFIGS / "cartpole_a2c.yaml", tiny_agent_overrides + ["env.id=Acrobot-v1"], schemas())
    with pytest.raises(RlgenError, match="only CartPole-v1"):
        train_agent(cfg, RunDir.create(tmp_path / "run", cfg, {}), quiet=True)


@pytest.mark.parametrize("config", ["cartpole_reinforce", "cartpole_ppo"])
def test_resume_continues_an_interrupted_run(tmp_path, monkeypatch, config):
    import shutil

    import torch
    from safetensors.torch import load_file

    from rlgen.metrics import MetricsLogger

    overrides = ["device=cpu", "env.num_envs=4", "train.total_steps=1500", "train.eval_every_steps=300",
                 "train.eval_episodes=2", "train.target_return=null", "train.rollout=steps", "train.rollout_steps=32"]
    cfg = load_config(CONFIGS / f"{config}.yaml", overrides, AGENT_CONFIGS)
    run = RunDir.create(tmp_path / "broken", cfg, {})
    original_log = MetricsLogger.log
    logged = []

    def crash_at_the_fourth_iteration(self, step, metrics):
        original_log(self, step, metrics)
        logged.append(step)
        if len(logged) == 4:  # logged, but not checkpointed by an evaluation yet: the exit path must save it
            raise KeyboardInterrupt

    monkeypatch.setattr(MetricsLogger, "log", crash_at_the_fourth_iteration)
    with pytest.raises(KeyboardInterrupt):
        train_agent(cfg, run, quiet=True)
    monkeypatch.setattr(MetricsLogger, "log", original_log)
    assert run.meta["env_steps"] == logged[-1]
    copy = RunDir.open(shutil.copytree(run.path, tmp_path / "copy"), schemas())[0]

    result = train_agent(cfg, run, quiet=True, resume=True)
    assert result.env_steps >= 1500 and result.iterations > 4
    rows = read_metrics(run.path / "metrics.csv")
    steps = [row["step"] for row in rows]
    assert steps[:4] == logged and steps == sorted(set(steps)) and steps[-1] == result.env_steps
    assert len(rows) == result.iterations and "eval/return_mean" in rows[-1]
    assert run.meta["env_steps"] == result.env_steps

    train_agent(cfg, copy, quiet=True, resume=True)  # the same checkpoint resumed twice: the same result
    a, b = load_file(run.path / "checkpoint.safetensors"), load_file(copy.path / "checkpoint.safetensors")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_resume_needs_a_checkpoint(tmp_path):
    from rlgen.errors import RlgenError

    cfg = load_config(CONFIGS / "cartpole_reinforce.yaml", ["device=cpu"], AGENT_CONFIGS)
    with pytest.raises(RlgenError, match="no checkpoint to resume from"):
        train_agent(cfg, RunDir.create(tmp_path / "empty", cfg, {}), quiet=True, resume=True)
