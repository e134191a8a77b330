"""Learning test: REINFORCE with the shipped config learns CartPole-v1 within a bounded budget."""

import pytest

from agents.config import AGENT_CONFIGS
from agents.evaluate import evaluate_run
from agents.loop import train_agent
from rlgen.config import load_config
from rlgen.rundir import RunDir
from tests.conftest import CONFIGS


@pytest.mark.learning
def test_reinforce_learns_cartpole(tmp_path):
    cfg = load_config(
        CONFIGS / "cartpole_reinforce.yaml",
        ["device=cpu", "seed=0", "train.total_steps=100000", "train.target_return=195", "train.eval_every_steps=5000"],
        AGENT_CONFIGS,
    )
    run = RunDir.create(tmp_path / "run", cfg, {})
    result = train_agent(cfg, run, quiet=True)
    assert result.solved and result.env_steps <= 100_000
    # an independent 100-episode greedy evaluation of the kept checkpoint, on seeds training never evaluated
    report = evaluate_run(run.path, episodes=100, seed=123, device_name="cpu")
    assert report["mean_return"] >= 195, report


@pytest.mark.learning
@pytest.mark.parametrize("config, budget", [("cartpole_a2c", 150_000), ("cartpole_ppo", 100_000)])
def test_actor_critics_learn_cartpole(tmp_path, config, budget):
    cfg = load_config(
        CONFIGS / f"{config}.yaml",
        ["device=cpu", "seed=0", f"train.total_steps={budget}", "train.target_return=195", "train.eval_every_steps=5000"],
        AGENT_CONFIGS,
    )
    run = RunDir.create(tmp_path / "run", cfg, {})
    result = train_agent(cfg, run, quiet=True)
    assert result.solved and result.env_steps <= budget
    report = evaluate_run(run.path, episodes=100, seed=123, device_name="cpu")
    assert report["mean_return"] >= 195, report
