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
