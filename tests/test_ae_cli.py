"""CLI smoke tests for autoencoder runs: train → evaluate → sample / reconstruct / interpolate / plot, on real data."""

import json

import imageio.v3 as iio
import pytest
from click.testing import CliRunner

from rlgen.cli import main
from tests.conftest import CONFIGS
from tests.test_cli import assert_one_line_error

TINY = ["data.limit=1000", "data.validation=200", "train.epochs=1", "vae.nll_samples=4"]


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("ae")
    made = {}
    for name in ("vae", "stacked_ae", "denoising_ae"):
        tiny = [t for t in TINY if not t.startswith("vae.") or name == "vae"]
        args = ["train", CONFIGS / f"fashion_{name}.yaml", "--run-dir", root / name, "--quiet", "--device", "cpu"]
        for item in tiny:
            args += ["--set", item]
        result = invoke(*args)
        assert result.exit_code == 0, result.output
        assert "done: 1 epochs" in result.output, result.output
        made[name] = root / name
    return made


def png(path):
    image = iio.imread(path)
    assert image.dtype.name == "uint8" and image.std() > 0
    return image


def holds_grid(path, rows, cols):
    """The PNG holds a grid of rows × cols 28-px cells (2 px apart, scale 2), with a title above it."""
    height, width = png(path).shape[:2]
    grid_height, grid_width = (rows * 30 + 2) * 2, (cols * 30 + 2) * 2
    return grid_height + 20 <= height <= grid_height + 120 and grid_width <= width <= grid_width + 130


def test_evaluate_reports_per_model_metrics(runs):
    vae = json.loads(invoke("evaluate", runs["vae"], "--json", "--device", "cpu").stdout)
    assert {"test_mse_per_pixel", "test_bce_per_image", "test_neg_elbo", "test_nll"} <= set(vae)
    assert vae["nll_samples"] == 4 and 0 < vae["test_nll"] < vae["test_neg_elbo"] + 5
    stacked = json.loads(invoke("evaluate", runs["stacked_ae"], "--json").stdout)
    assert 0 < stacked["test_mse_per_pixel"] < 0.2 and "test_neg_elbo" not in stacked
    denoise = json.loads(invoke("evaluate", runs["denoising_ae"], "--json").stdout)
    assert {"corrupted_mse_per_pixel", "denoised_mse_per_pixel"} <= set(denoise)
    text = invoke("evaluate", runs["vae"], "--nll-samples", "2")
    assert text.exit_code == 0 and "test_neg_elbo" in text.stdout and "nll_samples 2" in text.stdout


def test_sample_grid(runs, tmp_path):
    result = invoke("sample", runs["vae"], "--out", tmp_path / "s.png", "--n", 16, "--seed", 3)
    assert result.exit_code == 0, result.output
    assert holds_grid(tmp_path / "s.png", 4, 4)


def test_sample_refuses_non_generative_runs(runs, tmp_path):
    assert_one_line_error(invoke("sample", runs["stacked_ae"], "--out", tmp_path / "s.png"), 1, "only the VAE samples")
    assert not (tmp_path / "s.png").exists()


def test_reconstruct_rows(runs, tmp_path):
    assert invoke("reconstruct", runs["stacked_ae"], "--out", tmp_path / "r.png", "--n", 5).exit_code == 0
    assert holds_grid(tmp_path / "r.png", 2, 5)  # originals above reconstructions
    assert invoke("reconstruct", runs["denoising_ae"], "--out", tmp_path / "d.png", "--n", 5).exit_code == 0
    assert holds_grid(tmp_path / "d.png", 3, 5)  # clean, corrupted, denoised


def test_interpolate_and_plot(runs, tmp_path):
    result = invoke("interpolate", runs["vae"], "--out", tmp_path / "i.png", "--steps", 6, "--pairs", 2)
    assert result.exit_code == 0, result.output
    assert holds_grid(tmp_path / "i.png", 2, 8)  # start, 6 steps, end
    result = invoke("plot", runs["vae"], "--out", tmp_path / "p.png")
    assert result.exit_code == 0, result.output
    assert png(tmp_path / "p.png").shape[1] > 500 and png(tmp_path / "p-latent.png").shape[1] > 500
    assert not (tmp_path / "p-manifold.png").exists()  # the latent is 20-D


def test_plot_agent_run(tmp_path, tiny_agent_overrides):
    args = ["train", CONFIGS / "cartpole_reinforce.yaml", "--run-dir", tmp_path / "agent", "--quiet"]
    for item in tiny_agent_overrides:
        args += ["--set", item]
    assert invoke(*args).exit_code == 0
    result = invoke("plot", tmp_path / "agent", "--out", tmp_path / "agent.png")
    assert result.exit_code == 0, result.output
    png(tmp_path / "agent.png")


def test_resume_cli(runs):
    result = invoke("train", "--resume", runs["stacked_ae"], "--quiet")
    assert result.exit_code == 0 and "done: 1 epochs" in result.output  # already at its configured epochs
    assert_one_line_error(invoke("train", CONFIGS / "fashion_vae.yaml", "--resume", runs["vae"]), 1, "--resume takes the run dir")
    assert_one_line_error(invoke("train"), 1, "give a CONFIG")


def test_kind_mismatches(runs, tmp_path):
    assert_one_line_error(invoke("render", runs["vae"], "--out", tmp_path / "x.gif"), 1, "cannot render episodes")
    assert_one_line_error(invoke("sample", runs["vae"], "--out", tmp_path / "x.jpg"), 1, ".png")


def test_data_fetch_prints_location():
    result = invoke("data", "fetch")
    assert result.exit_code == 0 and "fashion-mnist" in result.stdout and "checksums good" in result.stdout


def test_unwritable_outputs_and_a_full_disk_are_one_line(runs, tmp_path, monkeypatch):
    import errno
    import os

    assert_one_line_error(invoke("sample", runs["vae"], "--out", "/proc/x.png"), 1, "cannot write /proc/x.png")
    keep = tmp_path / "keep.png"
    keep.write_bytes(b"precious")

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", full)
    assert_one_line_error(invoke("sample", runs["vae"], "--out", keep), 1, "No space left on device")
    assert keep.read_bytes() == b"precious" and [p.name for p in tmp_path.iterdir()] == ["keep.png"]


# -- issue 11: conditional and convolutional VAEs, FID --------------------------------------------------------------
@pytest.fixture(scope="module")
def generative(tmp_path_factory):
    """A tiny conditional conv VAE, a tiny 2-D MLP VAE and a tiny CNN classifier, trained on real images."""
    root = tmp_path_factory.mktemp("gen")
    small = ["data.limit=600", "data.validation=100", "train.epochs=1"]
    jobs = {
        "cvae": ("fashion_cvae.yaml", ["model.conv=[8, 16]", "model.hidden=[32]", "vae.nll_samples=3"]),
        "vae2d": ("fashion_vae.yaml", ["model.hidden=[32]", "model.latent=2", "vae.nll_samples=3"]),
        "cnn": ("fashion_cnn.yaml", [("model.layers=[{type: conv, channels: 4, kernel: 3}, {type: max_pool}, "
                                      "{type: flatten}, {type: dense, units: 16}]")]),
    }
    for name, (config, extra) in jobs.items():
        args = ["train", CONFIGS / config, "--run-dir", root / name, "--quiet", "--device", "cpu"]
        for item in small + extra:
            args += ["--set", item]
        result = invoke(*args)
        assert result.exit_code == 0, result.output
    return root


def test_conditional_samples_by_label_and_class_grid(generative, tmp_path):
    result = invoke("sample", generative / "cvae", "--out", tmp_path / "bags.png", "--label", "Bag", "--n", 6)
    assert result.exit_code == 0 and "6 samples" in result.output, result.output
    assert holds_grid(tmp_path / "bags.png", 2, 3)
    result = invoke("sample", generative / "cvae", "--out", tmp_path / "grid.png", "--n", 40)  # n is the total
    assert result.exit_code == 0 and "40 samples" in result.output, result.output
    assert holds_grid(tmp_path / "grid.png", 10, 4) and png(tmp_path / "grid.png").shape[1] > (4 * 30 + 2) * 2 + 60
    result = invoke("sample", generative / "cvae", "--out", tmp_path / "mixed.png", "--n", 16)  # classes in turn
    assert result.exit_code == 0 and "16 samples" in result.output and holds_grid(tmp_path / "mixed.png", 4, 4)
    for args, message in [(["--label", "dog"], "unknown label 'dog'"), (["--label", "12"], "unknown label '12'")]:
        assert_one_line_error(invoke("sample", generative / "cvae", "--out", tmp_path / "x.png", *args), 1, message)
    assert_one_line_error(invoke("sample", generative / "vae2d", "--out", tmp_path / "x.png", "--label", "Bag"), 1,
                          "is not conditional")
    assert_one_line_error(invoke("sample", generative / "cvae", "--out", tmp_path / "x.png", "--temperature", "nan"), 1,
                          "temperature must be a number from 0 to 10")
    assert not (tmp_path / "x.png").exists()
    result = invoke("sample", generative / "cvae", "--out", tmp_path / "cold.png", "--n", 20, "--temperature", 0.5)
    assert result.exit_code == 0 and "20 samples" in result.output, result.output


def test_conditional_reconstruct_interpolate_and_api(generative, tmp_path):
    from rlgen import api

    run = api.load(generative / "cvae")
    assert run.sample(5, label="Ankle boot").shape == (5, 1, 28, 28)
    assert run.sample(16).shape == (16, 1, 28, 28)  # n is the number of images, whatever the classes
    rows = run.reconstruct(4, out=tmp_path / "r.png")
    assert [r.shape[0] for r in rows] == [4, 4] and holds_grid(tmp_path / "r.png", 2, 4)
    walks = run.interpolate(5, 2, out=tmp_path / "w.png")
    assert [w.shape[0] for w in walks] == [7, 7] and holds_grid(tmp_path / "w.png", 2, 7)
    report = run.evaluate(nll_samples=3)
    assert report["nll_of"] == "p(x | label)" and report["test_nll"] < report["test_neg_elbo"] + 20


def test_fid_and_label_accuracy(generative):
    result = invoke("evaluate", generative / "cvae", "--fid", generative / "cnn", "--fid-samples", 300, "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["fid"] > report["fid_floor_train_vs_test"] > 0
    assert str(generative / "cnn") in report["fid_features"] and "sha256" in report["fid_features"]
    assert 0 <= report["label_accuracy"] <= 1 and len(report["label_accuracy_per_class"]) == 10
    assert 0.1 < report["classifier_test_accuracy"] <= 1 and report["fid_generated_images"] == 300
    assert report["sampling_temperature"] == 1.0
    plain = invoke("evaluate", generative / "vae2d", "--fid", generative / "cnn", "--fid-samples", 300,
                   "--temperature", 0.7)
    assert plain.exit_code == 0 and plain.stdout.startswith("FID ") and "label accuracy" not in plain.stdout
    assert "300 samples at temperature 0.7 vs" in plain.stdout
    assert_one_line_error(invoke("evaluate", generative / "cvae", "--fid", generative / "vae2d"), 1,
                          "--fid needs a classifier run")
    assert_one_line_error(invoke("evaluate", generative / "cnn", "--fid", generative / "cnn"), 1,
                          "cannot generate images")


def test_two_dimensional_latent_plots(generative, tmp_path):
    result = invoke("plot", generative / "vae2d", "--out", tmp_path / "c.png")
    assert result.exit_code == 0, result.output
    assert png(tmp_path / "c-latent.png").shape[1] > 500
    assert holds_grid(tmp_path / "c-manifold.png", 20, 20)


def test_a_likelihood_the_data_does_not_fit_is_one_line(tmp_path):
    result = invoke("train", CONFIGS / "fashion_conv_vae.yaml", "--run-dir", tmp_path / "r",
                    "--set", "vae.likelihood=continuous_bernoulli")
    assert_one_line_error(result, 2, "fashion_conv_vae.yaml: vae.likelihood continuous_bernoulli is a density",
                          "needs the bernoulli likelihood")
    assert not (tmp_path / "r").exists()
