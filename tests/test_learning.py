"""Learning tests: REINFORCE, A2C and PPO with the shipped configs learn CartPole-v1 within bounded budgets."""

import pytest

from rlgen import api
from tests.conftest import CONFIGS


@pytest.mark.learning
@pytest.mark.parametrize("config, budget", [("cartpole_reinforce", 100_000), ("cartpole_a2c", 150_000),
                                            ("cartpole_ppo", 100_000)])
def test_agents_learn_cartpole(tmp_path, config, budget):
    overrides = ["device=cpu", "seed=0", f"train.total_steps={budget}", "train.target_return=195",
                 "train.eval_every_steps=5000"]
    run = api.train(CONFIGS / f"{config}.yaml", overrides, run_dir=tmp_path / "run", quiet=True)
    assert run.result.solved and run.result.progress <= budget
    # an independent 100-episode greedy evaluation of the kept checkpoint, on seeds training never evaluated
    report = run.evaluate(episodes=100, seed=123, device="cpu")
    assert report["mean_return"] >= 195, report
