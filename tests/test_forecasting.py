"""The forecaster kind: the book's series, targets and scores, the models' shapes, the CLI verbs, resume bit for bit,
bad input, and a small learning test."""

import json

import numpy as np
import pytest
import torch

from rlgen import api
from rlgen.forecasting.config import ForecasterRunConfig
from rlgen.forecasting.model import Forecaster
from rlgen.forecasting.series import generate_series, series_splits, windows
from tests.conftest import CONFIGS, assert_resume_equals_uninterrupted
from tests.test_cli import assert_one_line_error, invoke

SMALL = ["device=cpu", "data.series=600", "data.train=400", "data.validation=100", "train.epochs=2"]


def test_the_series_are_the_books_and_so_are_the_naive_scores():
    """Seed 42 gives the series of handson-ml2's chapter 15 notebook, whose naive forecasts it prints as validation
    MSEs 0.020211367 (one step) and 0.25697407 (ten steps)."""
    for horizon, printed in ((1, 0.020211367), (10, 0.25697407)):
        val = series_splits(10_000, 50, horizon, 7000, 2000, 42, "cpu").val
        naive = (val.x[:, -1] - val.y[:, -1]).square().mean()
        assert abs(float(naive) - printed) < 2e-7
    series = generate_series(4, 51, seed=0)
    rng = np.random.RandomState(0)
    f1, f2, a1, a2 = rng.rand(4, 4, 1)
    t = np.linspace(0, 1, 51)
    by_hand = 0.5 * np.sin((t - a1) * (f1 * 10 + 10)) + 0.2 * np.sin((t - a2) * (f2 * 20 + 20)) \
        + 0.1 * (rng.rand(4, 51) - 0.5)
    np.testing.assert_allclose(series, by_hand, rtol=1e-6, atol=1e-6)


def test_targets_after_every_step_and_the_splits():
    series = torch.arange(2 * 13, dtype=torch.float32).reshape(2, 13)
    x, y = windows(series, steps=10, horizon=3)
    assert x.shape == (2, 10, 1) and y.shape == (2, 10, 3)
    for t in range(10):
        assert torch.equal(y[:, t], series[:, t + 1 : t + 4])  # the 3 values after step t
    assert torch.equal(y[:, -1], series[:, 10:])  # the forecast's targets: the values after the input
    splits = series_splits(100, 20, 1, 70, 20, 5, "cpu")
    assert (len(splits.train), len(splits.val), len(splits.test)) == (70, 20, 10)
    again = series_splits(100, 20, 1, 70, 20, 5, "cpu")
    assert torch.equal(splits.test.x, again.test.x)  # the same seed, the same series


def model(*layers, horizon=10, baseline=None):
    net = ForecasterRunConfig(algo="forecaster", model={"layers": list(layers), "baseline": baseline}).model
    return Forecaster(net, 50, horizon)


def test_sequence_to_sequence_models_train_on_every_step_and_are_scored_on_the_last():
    torch.manual_seed(0)
    seq = model({"type": "lstm", "units": 8, "return_sequences": True})
    vec = model({"type": "gru", "units": 8})
    x, y = torch.randn(4, 50, 1), torch.randn(4, 50, 10)
    assert seq.sequence_output and not vec.sequence_output
    assert seq.forecasts(x).shape == (4, 50, 10) and seq(x).shape == (4, 10) and vec(x).shape == (4, 10)
    losses = seq.losses(x, y)
    torch.testing.assert_close(losses["loss"], (seq.forecasts(x) - y).square().mean())
    torch.testing.assert_close(losses["mse"], (seq(x) - y[:, -1]).square().mean())
    vec_losses = vec.losses(x, y)
    torch.testing.assert_close(vec_losses["loss"], (vec(x) - y[:, -1]).square().mean())
    naive = model(baseline="last_value", horizon=3)
    assert torch.equal(naive(x), x[:, -1].expand(-1, 3)) and not naive.learns and not list(naive.parameters())


def test_train_evaluate_plot_and_summary_of_a_forecaster(tmp_path):
    run = tmp_path / "wavenet"
    result = invoke("train", CONFIGS / "series_wavenet.yaml", "--run-dir", run, "--quiet",
                    *[a for s in SMALL for a in ("--set", s)])
    assert result.exit_code == 0, result.output
    report = json.loads(invoke("evaluate", run, "--json").stdout)
    assert report["series"] == 100 and report["horizon"] == 10 and len(report["test_mse_by_step"]) == 10
    assert report["test_mse"] == pytest.approx(np.mean(report["test_mse_by_step"]))
    assert report["vs_naive"] == pytest.approx(report["test_mse"] / report["naive_test_mse"])
    plotted = invoke("plot", run, "--out", tmp_path / "curves.png")
    assert plotted.exit_code == 0 and (tmp_path / "curves-forecasts.png").stat().st_size > 10_000
    summary = invoke("summary", run).stdout
    assert "(Conv1d)" in summary and "Total params: 6," in summary  # 8 convolutions of 20 channels, then 20 → 10


def test_the_naive_forecast_is_measured_by_the_same_trainer(tmp_path):
    run = api.train(CONFIGS / "series_naive.yaml", ["device=cpu", "data.horizon=10"], run_dir=tmp_path / "naive",
                    quiet=True)
    assert run.result.status == "done" and run.result.best_score == pytest.approx(0.25697407, abs=2e-7)
    report = run.evaluate()
    assert report["vs_naive"] == 1.0 and report["test_mse"] == pytest.approx(report["naive_test_mse"])


def test_a_resumed_forecaster_equals_the_uninterrupted_one(tmp_path, monkeypatch):
    assert_resume_equals_uninterrupted(CONFIGS / "series_gru.yaml", [*SMALL, "train.epochs=3"], tmp_path, monkeypatch)


@pytest.mark.parametrize("sets, message", [
    (["data.train=8000", "data.validation=2000"], "data.train 8000 + data.validation 2000 leave no test series"),
    (["data.steps=0"], "data.steps: Input should be greater than or equal to 1"),
    (["model.layers=[{type: lstm, units: 0}]"], "model.layers.0.lstm.units: Input should be greater than or equal"),
    (["model.layers=[{type: conv1d, channels: 4, stride: 2}, {type: lstm, units: 4, return_sequences: true}]"],
     "a sequence-to-sequence forecaster needs one forecast per input step (50)"),
    (["model.baseline=last_value"], "model.baseline last_value learns nothing: give no model.layers with it"),
])
def test_bad_forecaster_settings_are_one_line_and_leave_no_run(tmp_path, sets, message):
    result = invoke("train", CONFIGS / "series_lstm.yaml", "--run-dir", tmp_path / "run",
                    *[a for s in sets for a in ("--set", s)])
    assert_one_line_error(result, 2, message)
    assert not (tmp_path / "run").exists()


@pytest.mark.learning
def test_a_linear_forecaster_learns_to_beat_the_naive_one(tmp_path):
    run = api.train(CONFIGS / "series_linear.yaml", ["device=cpu", "train.epochs=5"], run_dir=tmp_path / "linear",
                    quiet=True)
    report = run.evaluate()
    assert report["vs_naive"] < 0.5, report  # 20 epochs reach ≈ 0.18 × the naive MSE
