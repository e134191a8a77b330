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
    assert png(tmp_path / "s.png").shape == ((4 * 30 + 2) * 2, (4 * 30 + 2) * 2)  # 4×4 cells of 28+2 px, scale 2


def test_sample_refuses_non_generative_runs(runs, tmp_path):
    assert_one_line_error(invoke("sample", runs["stacked_ae"], "--out", tmp_path / "s.png"), 1, "only the VAE samples")
    assert not (tmp_path / "s.png").exists()


def test_reconstruct_rows(runs, tmp_path):
    assert invoke("reconstruct", runs["stacked_ae"], "--out", tmp_path / "r.png", "--n", 5).exit_code == 0
    assert png(tmp_path / "r.png").shape[0] == (2 * 30 + 2) * 2  # originals above reconstructions
    assert invoke("reconstruct", runs["denoising_ae"], "--out", tmp_path / "d.png", "--n", 5).exit_code == 0
    assert png(tmp_path / "d.png").shape[0] == (3 * 30 + 2) * 2  # clean, corrupted, denoised


def test_interpolate_and_plot(runs, tmp_path):
    result = invoke("interpolate", runs["vae"], "--out", tmp_path / "i.png", "--steps", 6, "--pairs", 2)
    assert result.exit_code == 0, result.output
    assert png(tmp_path / "i.png").shape == ((2 * 30 + 2) * 2, (8 * 30 + 2) * 2)  # start, 6 steps, end
    assert invoke("plot", runs["vae"], "--out", tmp_path / "p.png").exit_code == 0
    assert png(tmp_path / "p.png").shape[1] > 500


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
    assert_one_line_error(invoke("train", CONFIGS / "fashion_vae.yaml", "--resume", runs["vae"]), 1, "--resume takes only")
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
