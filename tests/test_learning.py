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


@pytest.mark.learning
@pytest.mark.parametrize("config, within", [("cartpole_masked_ppo", 50_000), ("cartpole_masked_a2c", 100_000),
                                            ("cartpole_masked_reinforce", 100_000)])
def test_recurrent_agents_learn_the_masked_cartpole(tmp_path, config, within):
    """sb3-contrib's own test asks its RecurrentPPO for ≥ 450 within 50k steps on the velocity-masked CartPole, for
    one seed. One seed's trajectory differs from machine to machine (float rounding differs between CPUs, and the
    learning is chaotic): over seeds 0-9 here, PPO's reached a greedy 100-episode mean ≥ 450 within 50k steps for 8.
    So this test asks it of a majority of seeds 0-4 (with 8 in 10 per seed it fails about one CI run in 17), each
    run with the shipped config and its own budget, stopping at the first evaluation ≥ 450 (every 5,000 steps);
    a success is one confirmed by an independent 100-episode evaluation (≥ 450) on seeds training never evaluated.
    Here: PPO's seeds 0, 1, 2 in 31,404, 26,267, 26,280 steps (confirmed at 462, 500, 500). A2C and REINFORCE
    get twice the steps, having no reference to match and less margin: here A2C's seeds 0-4 took 39k-49k steps
    (confirmed at 484-500) and REINFORCE's 23k-47k (477-497)."""
    outcomes = []  # (seed, env steps, independent evaluation's mean or None)
    for seed in range(5):
        overrides = ["device=cpu", f"seed={seed}", "train.target_return=450", "train.eval_every_steps=5000"]
        run = api.train(CONFIGS / f"{config}.yaml", overrides, run_dir=tmp_path / f"seed{seed}", quiet=True)
        if run.result.solved and run.result.progress <= within:
            report = run.evaluate(episodes=100, seed=123, device="cpu")
            outcomes.append((seed, run.result.progress, report["mean_return"]))
        else:
            outcomes.append((seed, run.result.progress, None))
        confirmed = [seed for seed, _, mean in outcomes if mean is not None and mean >= 450]
        if len(confirmed) == 3:
            break
    assert len(confirmed) >= 3, outcomes
