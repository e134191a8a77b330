"""The Python API that notebooks use: rlgen.train / rlgen.load and the run handle, for every kind."""

import pytest
import torch

import rlgen
from rlgen.config import load_config
from rlgen.errors import ConfigError, RlgenError
from rlgen.registry import schemas
from tests.conftest import CONFIGS

TINY_DATA = {"device": "cpu", "data.limit": 1000, "data.validation": 200, "train.epochs": 1}


def test_train_takes_a_path_and_a_dict_of_overrides(tmp_path):
    run = rlgen.train(CONFIGS / "fashion_mlp.yaml", overrides={**TINY_DATA, "model.layers": [{"type": "flatten"}]},
                      run_dir=tmp_path / "run", quiet=True)
    result = run.result
    assert (result.kind, result.algo, result.status, result.progress, result.unit) == (
        "classifier", "classifier", "done", 1, "epochs")
    assert 0 < result.best_score <= 1 and result.run_dir == tmp_path / "run"
    assert result.last_metrics["val/accuracy"] == result.best_score and "train/loss" in result.last_metrics
    assert str(result).startswith("done: 1 epochs") and "best val/accuracy" in str(result)
    assert run.config.model.layers[0].type == "flatten" and run.meta.config_source.endswith("fashion_mlp.yaml")


def test_train_takes_a_config_object_and_load_reopens_the_run(tmp_path):
    cfg = load_config(CONFIGS / "fashion_vae.yaml", [], schemas())
    run = rlgen.train(cfg, TINY_DATA | {"vae.nll_samples": 2}, seed=3, run_dir=tmp_path / "vae", quiet=True)
    assert run.config.seed == 3 and cfg.seed == 0  # the caller's object is not changed
    again = rlgen.load(tmp_path / "vae")
    assert again.config == run.config and again.kind.name == "autoencoder" and again.result.status == "done"
    report = again.evaluate(device="cpu")
    assert report["nll_samples"] == 2 and report["test_nll"] > 0
    assert again.sample(4).shape[0] == 4
    frozen = again.sample(3, temperature=0)  # N(0, I) prior: every sample decodes z = 0
    assert torch.equal(frozen[0], frozen[1]) and not torch.equal(again.sample(3)[0], again.sample(3)[1])
    for bad in (float("nan"), -0.5, 11, "1", True):
        with pytest.raises(RlgenError, match="temperature must be a number from 0 to 10"):
            again.sample(2, temperature=bad)
    rows = again.reconstruct(3)
    assert len(rows) == 2 and rows[0].shape == rows[1].shape
    assert len(again.interpolate(steps=3, pairs=2)) == 2
    assert "Total params" in again.summary()


def test_verbs_a_kind_lacks_are_one_line(tmp_path):
    run = rlgen.train(CONFIGS / "fashion_mlp.yaml", TINY_DATA, run_dir=tmp_path / "mlp", quiet=True)
    with pytest.raises(RlgenError, match="is a classifier run .*it cannot sample new images"):
        run.sample(4)
    with pytest.raises(RlgenError, match="cannot render episodes"):
        run.render(tmp_path / "x.gif")
    with pytest.raises(RlgenError, match="must end in .png"):
        run.plot(tmp_path / "curves.jpg")
    written = run.plot(tmp_path / "curves.png")
    assert [p.name for p in written] == ["curves.png", "curves-confusion.png"] and all(p.is_file() for p in written)


def test_agent_runs_through_the_api(tmp_path, tiny_agent_overrides):
    run = rlgen.train(CONFIGS / "cartpole_a2c.yaml", tiny_agent_overrides, run_dir=tmp_path / "a2c", quiet=True)
    assert run.result.unit == "env steps" and run.result.progress >= 600
    assert run.evaluate(episodes=3, device="cpu")["episodes"] == 3
    frames, returns = run.render(tmp_path / "a2c.gif", episodes=1, device="cpu")
    assert frames == returns[0] + 1  # the first frame, then one per step
    with pytest.raises(RlgenError, match="cannot reconstruct"):
        run.reconstruct()


def test_bad_configs_and_overrides_are_one_line(tmp_path):
    with pytest.raises(ConfigError, match="train.epochs: Input should be greater than or equal to 1"):
        rlgen.train(CONFIGS / "fashion_mlp.yaml", {"train.epochs": 0}, run_dir=tmp_path / "a")
    with pytest.raises(ConfigError, match="optimizer.lr: Input should be a finite number"):
        rlgen.train(CONFIGS / "fashion_mlp.yaml", {"optimizer.lr": float("inf")}, run_dir=tmp_path / "b")
    with pytest.raises(ConfigError, match="algo: must be one of"):
        rlgen.train({"algo": "gan"}, run_dir=tmp_path / "c")
    assert not any(tmp_path.iterdir())
    with pytest.raises(RlgenError, match="does not exist"):
        rlgen.load(tmp_path / "nowhere")


def test_tab_completion_sees_the_public_names_and_errors_are_exported():
    import rlgen.errors
    import rlgen.runstate

    names = dir(rlgen)
    for name in ("train", "load", "resume", "sweep", "tune", "Run", "TrainResult", "RlgenError", "ConfigError",
                 "TrainingInterrupted", "shipped_configs", "__version__"):
        assert name in names and name in rlgen.__all__
    assert rlgen.RlgenError is rlgen.errors.RlgenError and rlgen.TrainResult is rlgen.runstate.TrainResult
    with pytest.raises(AttributeError, match="no attribute 'nothing_here'"):
        rlgen.nothing_here  # noqa: B018


def test_load_fills_the_result_and_run_model_is_the_trained_model(tmp_path):
    from safetensors.torch import load_file

    trained = rlgen.train(CONFIGS / "fashion_mlp.yaml", TINY_DATA, run_dir=tmp_path / "run", quiet=True)
    loaded = rlgen.load(tmp_path / "run")
    assert loaded.result is not None and str(loaded.result) .startswith("done: 1 epochs")
    assert (loaded.result.status, loaded.result.progress, loaded.result.best_score) == (
        trained.result.status, trained.result.progress, trained.result.best_score)
    assert loaded.result.last_metrics["val/accuracy"] == pytest.approx(trained.result.best_score)
    model = loaded.model
    saved = load_file(tmp_path / "run" / "model.safetensors")
    assert not model.training and all(torch.equal(v, saved[k]) for k, v in model.state_dict().items())
    untrained, _ = loaded.kind.summary_model(loaded.config, loaded.run)  # what `summary` shows: not these weights
    assert not all(torch.equal(v, saved[k]) for k, v in untrained.state_dict().items())


def test_run_model_of_agents_is_their_policy_or_sb3_s_own_object(tmp_path, tiny_agent_overrides):
    from stable_baselines3 import PPO

    from rlgen.agents.policy import ActorCritic

    agent = rlgen.train(CONFIGS / "cartpole_reinforce.yaml", tiny_agent_overrides + ["device=cpu"],
                        run_dir=tmp_path / "agent", quiet=True)
    policy = agent.model
    assert isinstance(policy, ActorCritic) and not policy.training
    sb3 = rlgen.train(CONFIGS / "cartpole_sb3_ppo.yaml", ["train.total_steps=256", "train.eval_every_steps=256",
                                                          "train.eval_episodes=2", "sb3.n_steps=64"],
                      run_dir=tmp_path / "sb3", quiet=True)
    model = sb3.model
    assert isinstance(model, PPO)
    action, _ = model.predict(torch.zeros(4).numpy(), deterministic=True)
    assert int(action) in (0, 1)
