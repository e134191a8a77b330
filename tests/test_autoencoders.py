"""Autoencoder formulas and invariants, learning on a small real subset, and exact resume."""

import math

import pytest
import torch
from torch.distributions import Normal, kl_divergence

from rlgen import api
from rlgen.autoencoders.build import build_autoencoder
from rlgen.autoencoders.config import AE_CONFIGS
from rlgen.autoencoders.vae import gaussian_kl
from rlgen.config import load_config
from rlgen.data import IMAGE_SHAPE
from rlgen.errors import TrainingInterrupted
from rlgen.metrics import MetricsLogger
from tests.conftest import CONFIGS, fix_threads

SMALL = ["device=cpu", "data.limit=2000", "data.validation=500", "train.batch_size=64"]
PIXELS = math.prod(IMAGE_SHAPE)


def config(name, *overrides):
    return load_config(CONFIGS / f"fashion_{name}.yaml", SMALL + list(overrides), AE_CONFIGS)


def images(n):
    return torch.rand(n, *IMAGE_SHAPE)


def test_kl_matches_closed_form_and_torch():
    assert gaussian_kl(torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, 0.0]])).item() == pytest.approx(0.5)
    # σ² = e: ½(e − 1 − 1) per unit
    assert gaussian_kl(torch.zeros(1, 3), torch.ones(1, 3)).item() == pytest.approx(1.5 * (math.e - 2))
    mean, logvar = torch.randn(7, 5), torch.randn(7, 5)
    expected = kl_divergence(Normal(mean, (0.5 * logvar).exp()), Normal(0.0, 1.0)).sum(-1)
    assert torch.allclose(gaussian_kl(mean, logvar), expected, atol=1e-5)


def test_vae_loss_is_reconstruction_plus_beta_kl():
    torch.manual_seed(0)
    model = build_autoencoder(config("vae", "vae.beta=2.5"))
    out = model(images(16))
    assert torch.allclose(out.loss, out.recon_loss + out.reg_loss)
    assert out.z.shape == (16, 20) and out.recon_logits.shape == (16, PIXELS)
    assert model.reconstruct(images(3)).shape == (3, *IMAGE_SHAPE) and model.sample(5).shape == (5, *IMAGE_SHAPE)


@pytest.mark.parametrize("prior", ["standard", "vamp"])
def test_importance_sampled_nll_is_tighter_than_the_elbo(prior):
    torch.manual_seed(0)
    model = build_autoencoder(config("vae", f"vae.prior={prior}", "vae.pseudo_inputs=20")).eval()
    x = images(64)
    neg_elbo = model.negative_elbo(x).mean()
    nll = model.importance_sampled_nll(x, 200).mean()
    assert nll < neg_elbo  # log p(x) ≥ IWAE bound ≥ ELBO (Burda et al., 2016)


def test_tied_stacked_autoencoder_shares_weight_storage():
    model = build_autoencoder(config("stacked_ae", "stacked.tied=true"))
    first, last = model.encoder[1][0], model.decoder[-1][0]  # encoder[0] flattens the images
    assert last.weight.data_ptr() == first.weight.data_ptr()
    untied = build_autoencoder(config("stacked_ae"))
    decoder_weights = 150 * 300 + 300 * PIXELS  # what tying removes
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    assert count(model) == count(untied) - decoder_weights


@pytest.mark.parametrize("noise", ["gaussian", "dropout"])
def test_corruption_only_in_training_mode(noise):
    model = build_autoencoder(config("denoising_ae", f"denoising.noise={noise}"))
    seen = []
    model.encoder.register_forward_pre_hook(lambda module, args: seen.append(args[0].clone()))
    x = images(8)
    model.train()
    model(x)
    assert not torch.equal(seen[-1], x)  # the encoder saw a corrupted input
    model.eval()
    out_a, out_b = model(x), model(x)
    assert torch.equal(seen[-1], x) and torch.equal(out_a.recon_logits, out_b.recon_logits)


@pytest.mark.parametrize("name, extra", [("stacked_ae", []), ("stacked_ae", ["stacked.tied=true", "stacked.layerwise_epochs=1"]),
                                          ("denoising_ae", []), ("vae", [])],
                         ids=["stacked", "stacked-tied-layerwise", "denoising", "vae"])
def test_each_model_learns_on_a_real_subset(tmp_path, name, extra):
    from rlgen.data import load_splits
    from rlgen.epochs import validate

    cfg = config(name, "train.epochs=3", *extra)
    with torch.no_grad():
        torch.manual_seed(0)
        before = validate(build_autoencoder(cfg), load_splits(cfg.data, "cpu").val, 500)["loss"]
    run = api.train(cfg, run_dir=tmp_path / "run", quiet=True)
    rows = run.metrics()
    assert run.result.progress == 3 and len(rows) == 3 and run.result.unit == "epochs"
    assert rows[-1]["val/loss"] < rows[0]["val/loss"] < before
    assert rows[-1]["train/loss"] < rows[0]["train/loss"]


def test_early_stopping_with_patience(tmp_path):
    # SGD steps of 1e-30 leave every weight unchanged, so validation never improves after the first epoch
    cfg = config("stacked_ae", "train.epochs=6", "train.patience=2", "optimizer.lr=1e-30", "optimizer.name=sgd")
    run = api.train(cfg, run_dir=tmp_path / "run", quiet=True)
    assert run.result.status == "stopped early" and run.result.progress == 3
    assert run.run.state().progress == 3 and len(run.metrics()) == 3


@pytest.mark.parametrize("name, extra", [
    ("denoising_ae", []),  # corruption noise makes RNG state matter
    ("cvae", ["model.conv=[4, 8]", "model.hidden=[16]", "vae.pseudo_inputs=20"]),  # guidance draws from p(z | y)
])
def test_resume_equals_an_uninterrupted_run(tmp_path, monkeypatch, name, extra):
    cfg = config(name, "train.epochs=3", "data.limit=1000", *extra)
    fix_threads(monkeypatch)
    api.train(cfg, run_dir=tmp_path / "whole", quiet=True)
    original_log = MetricsLogger.log

    def crash_at_epoch_two(self, step, metrics):
        original_log(self, step, metrics)
        if step == 2:  # epoch 2 is logged but its checkpoint is not yet written: resume must redo epoch 2
            raise KeyboardInterrupt

    monkeypatch.setattr(MetricsLogger, "log", crash_at_epoch_two)
    with pytest.raises(TrainingInterrupted):
        api.train(cfg, run_dir=tmp_path / "broken", quiet=True)
    assert api.load(tmp_path / "broken").run.state().progress == 1
    monkeypatch.setattr(MetricsLogger, "log", original_log)
    resumed = api.resume(tmp_path / "broken", quiet=True)
    assert resumed.result.progress == 3

    from safetensors.torch import load_file

    for name in ("model.safetensors", "checkpoint.safetensors"):
        a, b = load_file(tmp_path / "whole" / name), load_file(tmp_path / "broken" / name)
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a), name
    rows_a, rows_b = api.load(tmp_path / "whole").metrics(), resumed.metrics()
    drop = lambda rows: [{k: v for k, v in r.items() if not k.startswith("time/")} for r in rows]  # noqa: E731
    assert drop(rows_a) == drop(rows_b)
