"""stable-baselines3 interop: the VecEnv adapter, SB3 learning on rlgen's torch CartPole, and sb3_* runs."""

import json
import tempfile

import imageio.v3 as iio
import numpy as np
import pytest
import torch
from click.testing import CliRunner

from rlgen.envs.sb3_vec_env import TorchCartPoleSB3VecEnv
from rlgen.envs.torch_cartpole import THETA_THRESHOLD, X_THRESHOLD
from rlgen.cli import main
from tests.conftest import CONFIGS

TINY = ["train.total_steps=512", "train.eval_every_steps=256", "train.eval_episodes=2", "train.target_return=null"]


def test_adapter_follows_sb3_conventions():
    env = TorchCartPoleSB3VecEnv(16, seed=0)
    obs = env.reset()
    assert obs.shape == (16, 4) and obs.dtype == np.float32
    ended = 0
    for _ in range(100):
        obs, rewards, dones, infos = env.step(np.random.default_rng(0).integers(0, 2, 16))
        assert (rewards == 1).all()  # same-step reset: no zero-reward reset steps as in next-step autoreset
        for i in np.flatnonzero(dones):
            final = infos[i]["terminal_observation"]
            assert abs(final[0]) > X_THRESHOLD or abs(final[2]) > THETA_THRESHOLD
            assert infos[i]["TimeLimit.truncated"] is False
            assert np.abs(obs[i]).max() <= 0.05  # already a new episode's first observation
            ended += 1
        assert all("terminal_observation" not in infos[i] for i in np.flatnonzero(~dones))
    assert ended > 20


@pytest.mark.learning
def test_sb3_ppo_learns_on_the_torch_cartpole(tmp_path):
    """SB3's PPO (the zoo's CartPole settings) trained on rlgen's torch CartPole through the VecEnv adapter reaches a
    greedy mean return ≥ 195 on gymnasium's own CartPole, judged every 5,000 steps (SB3's policy after its whole
    budget can be worse than on the way: the best evaluation is kept, as for every agent)."""
    from rlgen import api

    overrides = ["env.backend=torch", "device=cpu", "train.total_steps=60000", "train.eval_every_steps=5000",
                 "train.eval_episodes=50", "train.target_return=195"]
    run = api.train(CONFIGS / "cartpole_sb3_ppo.yaml", overrides, run_dir=tmp_path / "run", quiet=True)
    assert run.result.solved, run.result
    report = run.evaluate(episodes=100, seed=123, device="cpu")  # episodes training never evaluated
    assert report["mean_return"] >= 150, report


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.mark.parametrize("config, backend", [("cartpole_sb3_ppo", "gymnasium"), ("cartpole_sb3_ppo", "torch"),
                                             ("cartpole_sb3_a2c", "gymnasium")])
def test_sb3_runs_through_the_cli(tmp_path, monkeypatch, config, backend):
    run = tmp_path / "run"
    (tmp_path / "tmp").mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))  # SB3's default logger made a folder there a run
    args = ["train", CONFIGS / f"{config}.yaml", "--run-dir", run, "--quiet", "--set", f"env.backend={backend}"]
    for item in TINY:
        args += ["--set", item]
    result = invoke(*args)
    assert result.exit_code == 0, result.output
    assert not [p for p in (tmp_path / "tmp").iterdir() if not p.name.startswith("torchinductor_")]  # (torch's cache)
    for path in run.iterdir():
        if path.is_file():
            assert not path.read_bytes()[:2] == b"PK" and not path.read_bytes()[:1] == b"\x80", path  # no zip/pickle
    assert {"model.safetensors", "checkpoint.safetensors", "config.yaml", "metrics.csv"} <= {p.name for p in run.iterdir()}
    report = json.loads(invoke("evaluate", run, "--episodes", 3, "--json").stdout)
    assert report["episodes"] == 3 and report["mean_return"] > 0
    assert invoke("render", run, "--out", tmp_path / "a.gif").exit_code == 0
    assert iio.imread(tmp_path / "a.gif", index=None).shape[0] > 1
    assert "eval/return_mean" in (run / "metrics.csv").read_text().splitlines()[0]
    resumed = invoke("train", "--resume", run)
    assert resumed.exit_code == 1 and "--resume continues rlgen's own runs only" in resumed.output


def test_saved_weights_rebuild_the_same_policy(tmp_path):
    from safetensors.torch import load_file

    from rlgen.agents.sb3_bridge import load_sb3_model
    from rlgen import api

    run = tmp_path / "run"
    args = ["train", CONFIGS / "cartpole_sb3_ppo.yaml", "--run-dir", run, "--quiet"]
    for item in TINY:
        args += ["--set", item]
    assert invoke(*args).exit_code == 0
    handle = api.load(run)
    assert handle.kind.name == "sb3" and handle.meta.kind == "sb3"
    model = load_sb3_model(handle.run, handle.config, torch.device("cpu"))
    saved = load_file(run / "model.safetensors")
    assert all(torch.equal(saved[k], v) for k, v in model.policy.state_dict().items())


def test_a_users_sb3_zip_is_evaluated_and_rendered_after_a_warning(tmp_path):
    from stable_baselines3 import A2C

    import rlgen
    from tests.test_cli import assert_one_line_error

    model = A2C("MlpPolicy", "CartPole-v1", n_steps=8, seed=0, device="cpu")
    model.learn(64)
    model.save(tmp_path / "a2c_cartpole.zip")
    zipped = tmp_path / "a2c_cartpole.zip"
    result = CliRunner().invoke(main, ["evaluate", str(zipped), "--env", "CartPole-v1", "--episodes", "5", "--json",
                                       "--quiet"])
    assert result.exit_code == 0, result.output
    assert result.stderr.startswith("rlgen: warning: a stable-baselines3 .zip holds pickled objects that run code")
    report = json.loads(result.stdout)
    assert report["episodes"] == 5 and report["env_id"] == "CartPole-v1" and report["model_file"] == str(zipped)
    assert report == rlgen.evaluate_file(zipped, "CartPole-v1", episodes=5, quiet=True)  # the API's report
    import gymnasium as gym  # … is the saved model's own predict() on gymnasium's batched CartPole, seeded alike

    envs = gym.make_vec("CartPole-v1", num_envs=5, vectorization_mode="vector_entry_point")
    obs, _ = envs.reset(seed=0)
    returns, running = np.zeros(5), np.ones(5, dtype=bool)
    while running.any():
        obs, reward, terminated, truncated, _ = envs.step(model.predict(obs, deterministic=True)[0])
        returns += np.where(running, reward, 0.0)
        running &= ~(terminated | truncated)
    assert report["mean_return"] == pytest.approx(np.mean(returns))
    gif = tmp_path / "a2c.gif"
    rendered = CliRunner().invoke(main, ["render", str(zipped), "--env", "CartPole-v1", "--out", str(gif)])
    assert rendered.exit_code == 0 and iio.imread(gif, index=None).shape[1:] == (400, 600, 3), rendered.output
    assert_one_line_error(CliRunner().invoke(main, ["evaluate", str(zipped)]), 1, "name the environment it plays")
    mismatch = CliRunner().invoke(main, ["evaluate", str(zipped), "--env", "Pendulum-v1"])
    assert mismatch.exit_code == 1 and "has Box observations of shape (3,)" in mismatch.stderr.splitlines()[-1]
    (tmp_path / "junk.zip").write_text("not a zip")
    assert_one_line_error(CliRunner().invoke(main, ["evaluate", str(tmp_path / "junk.zip"), "--env", "CartPole-v1"]),
                          1, "is not a stable-baselines3 model file")
