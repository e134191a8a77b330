"""Continuous actions end to end: a Gaussian PPO on the torch and the gymnasium Pendulum through the CLI (train →
evaluate → render a GIF), stable-baselines3's PPO on a Box space through the bridge, and a learning test."""

import pytest

from rlgen import api
from tests.conftest import CONFIGS
from tests.test_cli import invoke

PENDULUM = CONFIGS / "pendulum_ppo.yaml"
TINY = ["--set", "train.total_steps=1500", "--set", "train.eval_every_steps=700", "--set", "train.eval_episodes=2"]


def test_a_gaussian_policy_trains_evaluates_and_renders_through_the_cli(tmp_path, monkeypatch):
    monkeypatch.setenv("SDL_VIDEODRIVER", "dummy")
    run = tmp_path / "pendulum"
    result = invoke("train", PENDULUM, "--device", "cpu", "--run-dir", run, *TINY)
    assert result.exit_code == 0, result.output
    trained = api.load(run)
    assert trained.meta.info["action_dim"] == 1 and trained.meta.info["action_low"] == [-2.0]
    result = invoke("evaluate", run, "--episodes", "3", "--device", "cpu")
    assert result.exit_code == 0 and "Pendulum-v1: mean return -" in result.output, result.output
    result = invoke("render", run, "--out", tmp_path / "pendulum.gif", "--device", "cpu")
    assert result.exit_code == 0 and (tmp_path / "pendulum.gif").stat().st_size > 10_000, result.output
    assert "201 frames" in result.output


@pytest.mark.parametrize("config, sets", [
    (PENDULUM, ["env.backend=gymnasium", "env.num_envs=3", "policy.squash=true", "policy.state_dependent_std=true"]),
    (PENDULUM, ["policy.recurrent={type: gru, units: 8}", "value.recurrent={type: lstm, units: 8}"]),  # memory too
    (CONFIGS / "cartpole_sb3_ppo.yaml", ["env.id=Pendulum-v1", "env.backend=gymnasium", "train.target_return=null"]),
    (CONFIGS / "pendulum_sb3_ppo.yaml", ["env.backend=torch", "train.target_return=null", "sb3.n_steps=64"]),
])
def test_box_actions_cross_the_numpy_boundary_recurrent_policies_and_the_sb3_bridge(tmp_path, config, sets):
    overrides = ["device=cpu", "train.total_steps=600", "train.eval_every_steps=300", "train.eval_episodes=2", *sets]
    run = api.train(config, overrides, run_dir=tmp_path / "run", quiet=True)
    assert run.result.progress >= 600 and run.evaluate(episodes=2, device="cpu")["mean_return"] < 0


@pytest.mark.learning
def test_ppo_learns_the_pendulum(tmp_path):
    """A greedy 100-episode mean ≥ −200 on gymnasium's Pendulum-v1 within the shipped config's 200k steps for a
    majority of seeds 0-2 (one seed's trajectory differs between CPUs), each checked by an independent 100-episode
    evaluation on other start states. Every periodic evaluation replays the same 100 start states, so the first to
    reach −200 overstates the policy a little: here seeds 0-4 stopped at 20,384 steps and the independent
    evaluation gave −200 to −222 (a random policy: about −1,200), hence its bar of −250."""
    confirmed, outcomes = [], []
    for seed in range(3):
        run = api.train(PENDULUM, ["device=cpu", f"seed={seed}"], run_dir=tmp_path / f"seed{seed}", quiet=True)
        mean = run.evaluate(episodes=100, seed=123, device="cpu")["mean_return"] if run.result.solved else None
        outcomes.append((seed, run.result.progress, mean))
        if mean is not None and mean >= -250:
            confirmed.append(seed)
        if len(confirmed) == 2:
            break
    assert len(confirmed) >= 2, outcomes
