"""Numbers that blow up: training stops with one line naming the step, the last finite loss and the likely setting,
keeps the last good weights and checkpoint, never saves a non-finite weight, and exits non-zero."""

import pytest
import torch
from click.testing import CliRunner
from safetensors.torch import load_file

from rlgen import api
from rlgen.cli import main
from rlgen.divergence import Diverged
from tests.conftest import CONFIGS
from tests.test_cli import assert_one_line_error


def all_finite(path):
    return all(torch.isfinite(t).all() for t in load_file(path).values() if t.is_floating_point())


def test_reinforce_at_a_huge_learning_rate_stops_and_keeps_its_last_good_weights(tmp_path):
    overrides = ["device=cpu", "reinforce.baseline=true", "optimizer.name=sgd", "optimizer.lr=1e6",
                 "train.eval_every_steps=300", "train.eval_episodes=2", "train.target_return=null"]
    with pytest.raises(Diverged) as info:
        api.train(CONFIGS / "cartpole_reinforce.yaml", overrides, run_dir=tmp_path / "run", quiet=True)
    message = str(info.value)
    assert "training diverged at iteration" in message and "last finite loss" in message
    assert "optimizer.lr=1e+06 is the likely cause" in message and "are kept in" in message
    run = api.load(tmp_path / "run")
    assert all_finite(run.path / "model.safetensors") and all_finite(run.path / "checkpoint.safetensors")
    assert run.evaluate(episodes=2, device="cpu")["mean_return"] > 0


def test_the_cli_exits_non_zero_with_one_line(tmp_path):
    result = CliRunner().invoke(main, ["train", str(CONFIGS / "fashion_vae.yaml"), "--run-dir", str(tmp_path / "v"),
                                       "--quiet", "--set", "optimizer.lr=1e3", "--set", "data.limit=600",
                                       "--set", "data.validation=100"])
    assert_one_line_error(result, 1, "training diverged at epoch 1: the loss became nan", "optimizer.lr=1000")
    assert not (tmp_path / "v").exists()  # nothing was learnt, nothing is left


@pytest.mark.parametrize("config", ["fashion_stacked_ae", "fashion_mlp"])
def test_a_blow_up_in_a_later_epoch_keeps_the_epoch_before(tmp_path, monkeypatch, config):
    import rlgen.epochs

    original, calls = rlgen.epochs.fit_epoch, []

    def blows_up_in_epoch_two(loss_fn, optimizer, *args, **kwargs):
        losses = original(loss_fn, optimizer, *args, **kwargs)
        calls.append(1)
        if len(calls) == 2:
            with torch.no_grad():
                optimizer._params[0].fill_(float("inf"))
            losses["loss"] = float("nan")
        return losses

    monkeypatch.setattr(rlgen.epochs, "fit_epoch", blows_up_in_epoch_two)
    overrides = {"device": "cpu", "data.limit": 600, "data.validation": 100, "train.epochs": 3}
    with pytest.raises(Diverged, match=r"at epoch 2: the loss became nan \(last finite loss [0-9.]+\).*epoch 1 are kept"):
        api.train(CONFIGS / f"{config}.yaml", overrides, run_dir=tmp_path / "run", quiet=True)
    run = api.load(tmp_path / "run")
    assert run.run.state().progress == 1 and len(run.metrics()) == 1
    assert all_finite(run.path / "model.safetensors") and all_finite(run.path / "checkpoint.safetensors")
