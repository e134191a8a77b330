"""Continuous actions end to end: a Gaussian PPO on the torch and the gymnasium Pendulum through the CLI (train →
evaluate → render a GIF), stable-baselines3's PPO on a Box space through the bridge, and a learning test."""

import ctypes.util

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
    (CONFIGS / "pendulum_a2c.yaml", []),
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
    reach −200 overstates the policy a little: here seeds 1-4 stopped at 20,384 steps, seed 0 at 30,592, and the
    independent evaluation gave −197 to −238 (a random policy: about −1,200), hence its bar of −250."""
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


SAC = CONFIGS / "pendulum_sb3_sac.yaml"


def test_sb3_sac_trains_evaluates_and_renders_through_the_bridge(tmp_path, monkeypatch):
    monkeypatch.setenv("SDL_VIDEODRIVER", "dummy")
    run = tmp_path / "sac"
    sets = ["train.total_steps=300", "sb3.learning_starts=100", "train.eval_every_steps=150",
            "train.eval_episodes=2", "sb3.net_arch=[16]"]
    result = invoke("train", SAC, "--run-dir", run, *[x for s in sets for x in ("--set", s)])
    assert result.exit_code == 0, result.output
    metrics = (run / "metrics.csv").read_text().splitlines()
    assert "train/ent_coef" in metrics[0] and len(metrics) == 3, metrics  # a row per evaluation, not per env step
    result = invoke("evaluate", run, "--episodes", "2")
    assert result.exit_code == 0 and "Pendulum-v1: mean return -" in result.output, result.output
    result = invoke("render", run, "--out", tmp_path / "sac.gif")
    assert result.exit_code == 0 and "201 frames" in result.output, result.output


@pytest.mark.parametrize("config, sets, message", [
    (SAC, ["env.id=CartPole-v1"], "sb3_sac acts in Box action spaces; CartPole-v1 has Discrete(2)"),
    (CONFIGS / "pendulum_sb3_ppo.yaml", ["sb3.ent_coef=auto"], "sb3.ent_coef auto is SAC's"),
    (SAC, ["sb3.ent_coef=-1"], "sb3.ent_coef must be from 0 to 1000"),
])
def test_sac_settings_that_cannot_work_are_one_line(tmp_path, config, sets, message):
    result = invoke("train", config, "--run-dir", tmp_path / "bad", *[x for s in sets for x in ("--set", s)])
    assert result.exit_code == 2 and message in result.output and "Traceback" not in result.output, result.output
    assert not (tmp_path / "bad").exists()


def test_a_mujoco_robot_trains_through_gymnasium(tmp_path):
    """HalfCheetah-v5's shipped config with a tiny budget: MuJoCo through gymnasium's vector env, 6-D actions."""
    run = api.train(CONFIGS / "halfcheetah_ppo.yaml", ["device=cpu", "train.total_steps=2048", "env.num_envs=2",
                                                        "train.eval_every_steps=2048", "train.eval_episodes=1",
                                                        "env.kwargs={max_episode_steps: 100}"],
                    run_dir=tmp_path / "cheetah", quiet=True)
    assert run.meta.info["action_dim"] == 6 and run.result.progress >= 2048


@pytest.mark.learning
def test_ppo_balances_the_mujoco_inverted_pendulum(tmp_path):
    """The shipped config reaches InvertedPendulum-v5's maximum return, 1,000 (a greedy 100-episode mean), for a
    majority of seeds 0-2 within 50k env steps (here seeds 0-3 at about 10.9k, seed 4 at 21.1k)."""
    solved = []
    for seed in range(3):
        run = api.train(CONFIGS / "inverted_pendulum_ppo.yaml", ["device=cpu", f"seed={seed}",
                                                                  "train.total_steps=50000"],
                        run_dir=tmp_path / f"seed{seed}", quiet=True)
        solved += [seed] if run.result.solved else []
        if len(solved) == 2:
            break
    assert len(solved) >= 2, solved


@pytest.mark.skipif(ctypes.util.find_library("EGL") is None, reason="no EGL library to draw MuJoCo offscreen")
def test_a_mujoco_agent_renders_offscreen_without_a_display(tmp_path, monkeypatch):
    """No DISPLAY: MuJoCo draws through EGL (rlgen sets MUJOCO_GL=egl unless the user chose one)."""
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("MUJOCO_GL", raising=False)
    run = tmp_path / "ip"
    result = invoke("train", CONFIGS / "inverted_pendulum_ppo.yaml", "--run-dir", run, "--set", "train.total_steps=512",
                    "--set", "env.num_envs=2", "--set", "train.eval_episodes=1")
    assert result.exit_code == 0, result.output
    result = invoke("render", run, "--out", tmp_path / "ip.gif")
    assert result.exit_code == 0 and (tmp_path / "ip.gif").stat().st_size > 1000, result.output


def test_sb3_runs_take_an_initial_log_std_and_train_on_normalised_rewards_reporting_the_envs(tmp_path):
    """configs/mountaincar_sb3_ppo.yaml's recipe (the zoo's): log_std_init and VecNormalize's norm_reward."""
    import csv

    import torch

    from rlgen.agents.config import SB3RunConfig
    from rlgen.agents.sb3_bridge import build_sb3_model, make_sb3_env

    cfg = SB3RunConfig(algo="sb3_ppo", env={"id": "Pendulum-v1", "num_envs": 1},
                       sb3={"log_std_init": -3.29, "use_sde": True, "n_steps": 64, "batch_size": 64})
    model = build_sb3_model(cfg, make_sb3_env(cfg, torch.device("cpu")), torch.device("cpu"))
    assert torch.allclose(model.policy.log_std, torch.tensor(-3.29))
    run = api.train(CONFIGS / "pendulum_sb3_ppo.yaml", ["sb3.normalize_rewards=true", "sb3.n_steps=64",
                                                         "env.num_envs=1", "train.total_steps=448",
                                                         "train.eval_every_steps=448", "train.eval_episodes=1",
                                                         "train.target_return=null"],
                    run_dir=tmp_path / "run", quiet=True)
    with open(run.path / "metrics.csv") as f:
        returns = [float(r["rollout/ep_return_mean_100"]) for r in csv.DictReader(f)
                   if r["rollout/ep_return_mean_100"] not in ("", "nan")]
    assert returns and all(r < -300 for r in returns), returns  # the env's returns, not the scaled rewards'
