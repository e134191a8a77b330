"""Classifiers: the lab model's layer table, learning on a real subset, test metrics per class, and lower layers
reused from a trained autoencoder (frozen and cached, frozen, fine-tuned)."""

import shutil

import pytest
import torch
from safetensors.torch import load_file

from rlgen import api
from rlgen.data import CLASS_NAMES
from rlgen.errors import ConfigError
from tests.conftest import CONFIGS, assert_resume_equals_uninterrupted, fix_threads

TINY = ["device=cpu", "data.limit=1500", "data.validation=300", "train.eval_batch_size=500"]


def test_summary_of_the_lab_model_matches_keras():
    table = api.summary(CONFIGS / "fashion_mlp.yaml")
    rows = [line for line in table.splitlines() if "(Linear)" in line]
    assert [row.split()[-1] for row in rows] == ["100,480", "16,512", "1,290"]
    assert "Total params: 118,282" in table and "Trainable params: 118,282" in table
    assert "(B, 784)" in table and "(B, 10)" in table


@pytest.mark.parametrize("path", sorted(CONFIGS.glob("*.yaml")), ids=lambda p: p.name)
def test_every_shipped_config_has_a_summary(path):
    table = api.summary(path)
    learns = "baseline: last_value" not in path.read_text()  # the naive forecast has no layers at all
    assert "Total params:" in table and ("(Linear)" in table) == learns


@pytest.fixture(scope="module")
def mlp_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("classifier")
    return api.train(CONFIGS / "fashion_mlp.yaml", TINY + ["train.epochs=3"], run_dir=root / "mlp", quiet=True)


def test_the_mlp_learns_on_a_real_subset(mlp_run):
    rows = mlp_run.metrics()
    assert len(rows) == 3 and rows[-1]["train/loss"] < rows[0]["train/loss"]
    assert mlp_run.result.monitor == "val/accuracy" and mlp_run.result.best_score > 0.7
    report = mlp_run.evaluate(device="cpu")
    assert report["images"] == 1500 and report["test_accuracy"] > 0.7
    assert list(report["per_class_accuracy"]) == list(CLASS_NAMES)
    matrix = torch.tensor(report["confusion_matrix"])
    assert matrix.sum() == 1500 and matrix.diag().sum() / 1500 == pytest.approx(report["test_accuracy"])
    per_class = matrix.diag().double() / matrix.sum(1).double()
    assert per_class.tolist() == pytest.approx(list(report["per_class_accuracy"].values()))


def test_a_small_cnn_trains(tmp_path):
    layers = ("model.layers=[{type: conv, channels: 4, kernel: 3, padding: same, batch_norm: true}, "
              "{type: max_pool, kernel: 4}, {type: flatten}, {type: dense, units: 16}]")
    run = api.train(CONFIGS / "fashion_cnn.yaml", TINY + ["train.epochs=3", "train.batch_size=32", layers], run_dir=tmp_path / "cnn",
                    quiet=True)
    assert run.evaluate(device="cpu")["test_accuracy"] > 0.5


@pytest.fixture(scope="module")
def encoder_run(tmp_path_factory):
    """A stacked autoencoder 784-300-150 trained briefly without labels: the source of pretrained layers."""
    root = tmp_path_factory.mktemp("pretrained")
    return api.train(CONFIGS / "fashion_stacked_ae.yaml", TINY + ["train.epochs=1"], run_dir=root / "sae", quiet=True)


def pretrained(encoder_run, freeze=True, cache=True, lr_scale=1.0):
    return [f"pretrained={{run: {encoder_run.path}, module: encoder, freeze: {str(freeze).lower()}, "
            f"cache: {str(cache).lower()}, lr_scale: {lr_scale}}}",
            "model.layers=[{type: dense, units: 32}]", "train.precision=fp32", "train.epochs=2"]


def test_cached_and_uncached_frozen_training_reach_the_same_weights(tmp_path, monkeypatch, encoder_run):
    fix_threads(monkeypatch)
    cached = api.train(CONFIGS / "fashion_mlp.yaml", TINY + pretrained(encoder_run), run_dir=tmp_path / "c",
                       quiet=True)
    uncached = api.train(CONFIGS / "fashion_mlp.yaml", TINY + pretrained(encoder_run, cache=False),
                         run_dir=tmp_path / "u", quiet=True)
    assert cached.meta.info["features_cached"] and not uncached.meta.info["features_cached"]
    a, b = (load_file(run.path / "checkpoint.safetensors") for run in (cached, uncached))
    weights = [k for k in a if k.startswith("t")]
    assert a.keys() == b.keys() and weights
    for key in weights:
        assert torch.allclose(a[key], b[key], atol=1e-5, rtol=1e-4), key
    # the frozen layers are the autoencoder's encoder, unchanged by training
    encoder = load_file(encoder_run.path / "model.safetensors")
    final = load_file(cached.path / "model.safetensors")
    lower = {k: v for k, v in final.items() if k.startswith("lower.")}
    assert len(lower) == 4 and all(torch.equal(v, encoder[k.replace("lower.", "encoder.", 1)]) for k, v in lower.items())
    assert "Non-trainable params: 280,650" in cached.summary()  # 784·300+300 + 300·150+150


def test_fine_tuning_moves_the_pretrained_layers(tmp_path, encoder_run):
    run = api.train(CONFIGS / "fashion_mlp.yaml", TINY + pretrained(encoder_run, freeze=False, lr_scale=0.1),
                    run_dir=tmp_path / "f", quiet=True)
    encoder = load_file(encoder_run.path / "model.safetensors")
    final = load_file(run.path / "model.safetensors")
    assert not torch.equal(final["lower.1.0.weight"], encoder["encoder.1.0.weight"])
    assert "Non-trainable params: 0" in run.summary()


def test_a_classifier_does_not_need_its_source_run_once_trained(tmp_path, encoder_run):
    source = shutil.copytree(encoder_run.path, tmp_path / "sae")
    run = api.train(CONFIGS / "fashion_mlp.yaml", TINY + [f"pretrained={{run: {source}}}", "train.epochs=1"],
                    run_dir=tmp_path / "c", quiet=True)
    before = run.evaluate(device="cpu")["test_accuracy"]
    shutil.rmtree(source)
    assert api.load(run.path).evaluate(device="cpu")["test_accuracy"] == before


def test_bad_pretrained_sources_are_one_line(tmp_path, encoder_run, mlp_run):
    with pytest.raises(ConfigError, match="'decoderr' is not part of a stacked_ae model; its parts are encoder, decoder"):
        api.train(CONFIGS / "fashion_mlp.yaml", TINY + [f"pretrained={{run: {encoder_run.path}, module: decoderr}}"],
                  run_dir=tmp_path / "a", quiet=True)
    agent = api.train(CONFIGS / "cartpole_reinforce.yaml", ["train.total_steps=100", "train.eval_episodes=1",
                                                            "train.target_return=null"], run_dir=tmp_path / "agent",
                      quiet=True)
    with pytest.raises(ConfigError, match="is a reinforce run; pretrained layers come from a run trained on images"):
        api.train(CONFIGS / "fashion_mlp.yaml", TINY + [f"pretrained={{run: {agent.path}}}"], run_dir=tmp_path / "b",
                  quiet=True)
    # a classifier's own layers can be the source too, by any module path: its body under a new output layer
    reused = api.train(CONFIGS / "fashion_mlp.yaml", TINY + [f"pretrained={{run: {mlp_run.path}, module: body}}",
                                                            "model.layers=[]", "train.epochs=6"],
                       run_dir=tmp_path / "c", quiet=True)
    assert reused.evaluate(device="cpu")["test_accuracy"] > 0.6


def test_without_a_validation_split_the_training_metrics_choose(tmp_path, encoder_run):
    run = api.train(CONFIGS / "fashion_mlp.yaml", TINY + ["data.validation=0", "data.train_subset=300",
                                                         "train.epochs=2"] + pretrained(encoder_run)[:1],
                    run_dir=tmp_path / "c", quiet=True)
    rows = run.metrics()
    assert run.result.monitor == "train/accuracy" and not any(k.startswith("val/") for k in rows[-1])
    assert run.result.best_score == max(row["train/accuracy"] for row in rows)
    assert run.meta.info["train_images"] == 300


def test_resuming_a_cached_frozen_run_equals_an_uninterrupted_one(tmp_path, encoder_run, monkeypatch):
    # the resumed run rebuilds its cache of frozen-layer features from the checkpoint's frozen layers
    assert_resume_equals_uninterrupted(CONFIGS / "fashion_mlp.yaml", TINY + pretrained(encoder_run) + ["train.epochs=3"],
                                       tmp_path, monkeypatch)
