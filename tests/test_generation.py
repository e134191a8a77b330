"""Issue 11's formulas and models: the continuous Bernoulli, dynamic binarisation, the Fréchet distance,
convolutional autoencoders' shapes, and the conditional VAE."""

import math

import pytest
import torch

from rlgen.autoencoders.build import build_autoencoder
from rlgen.autoencoders.config import AE_CONFIGS
from rlgen.autoencoders.likelihoods import (bernoulli_nll, continuous_bernoulli_log_norm, continuous_bernoulli_mean,
                                            continuous_bernoulli_nll)
from rlgen.autoencoders.nets import conv_shapes
from rlgen.autoencoders.priors import VampPrior, gaussian_log_density, pairwise_log_density
from rlgen.classifiers.fid import frechet_distance, gaussian_stats
from rlgen.config import load_config
from rlgen.data import IMAGE_SHAPE, DataConfig, Split, batch_inputs, binarized, load_splits, parse_label
from rlgen.errors import ConfigError, RlgenError
from tests.conftest import CONFIGS

LOGITS = torch.tensor([-30.0, -8.0, -2.5, -0.3, -1e-4, 0.0, 2e-3, 0.05, 1.0, 4.0, 12.0, 40.0], dtype=torch.float64)


def vae(*overrides, name="conv_vae"):
    return load_config(CONFIGS / f"fashion_{name}.yaml", ["device=cpu", *overrides], AE_CONFIGS)


# -- the continuous Bernoulli ------------------------------------------------------------------------------------------
def test_continuous_bernoulli_integrates_to_one_and_has_its_mean():
    x = torch.linspace(0, 1, 200_001, dtype=torch.float64)
    for l in LOGITS:
        density = torch.exp(-continuous_bernoulli_nll(l.expand(len(x), 1), x.unsqueeze(1)))  # one pixel per row
        assert torch.trapezoid(density, x).item() == pytest.approx(1.0, abs=1e-6), float(l)
        mean = torch.trapezoid(density * x, x).item()
        assert continuous_bernoulli_mean(l).item() == pytest.approx(mean, abs=1e-5), float(l)


def test_continuous_bernoulli_normaliser_matches_its_closed_form():
    lam = torch.sigmoid(LOGITS[LOGITS.abs() > 0.1])
    closed = torch.log(2 * torch.atanh(1 - 2 * lam) / (1 - 2 * lam))  # Loaiza-Ganem & Cunningham, eq. (7)
    assert torch.allclose(continuous_bernoulli_log_norm(torch.logit(lam)), closed, atol=1e-9)
    assert continuous_bernoulli_log_norm(torch.zeros(1)).item() == pytest.approx(math.log(2))  # C(½) = 2
    small = torch.tensor([1e-5, -3e-4], requires_grad=True)  # the series branch has finite gradients
    continuous_bernoulli_log_norm(small).sum().backward()
    assert torch.isfinite(small.grad).all()


def test_bernoulli_nll_is_binary_cross_entropy_and_its_gradient():
    logits = torch.randn(4, 9, requires_grad=True)
    x = torch.rand(4, 9)
    expected = torch.nn.functional.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(-1)
    assert torch.allclose(bernoulli_nll(logits, x), expected, atol=1e-5)
    bernoulli_nll(logits, x).sum().backward()
    assert torch.allclose(logits.grad, torch.sigmoid(logits) - x, atol=1e-6)


# -- dynamic binarisation ----------------------------------------------------------------------------------------------
def test_dynamic_binarisation_statistics():
    grey = torch.tensor([0, 64, 128, 255], dtype=torch.uint8).repeat(20_000, 1)  # 20,000 images of 4 pixels
    split = Split(grey, torch.zeros(len(grey), dtype=torch.long), binarize=True)
    torch.manual_seed(0)
    first, second = batch_inputs(split, grey), batch_inputs(split, grey)
    assert set(first.unique().tolist()) == {0.0, 1.0}
    assert torch.allclose(first.mean(0), grey[0].double().div(255).float(), atol=0.01)  # P(1) = grey level
    assert not torch.equal(first, second)  # a fresh draw per batch
    assert first[:, 0].sum() == 0 and first[:, 3].sum() == len(grey)  # 0 and 1 stay as they are
    fixed = binarized(Split(grey, split.y), seed=5)
    assert torch.equal(fixed.x, binarized(Split(grey, split.y), seed=5).x)  # held-out splits: drawn once, by seed
    assert set(fixed.x.unique().tolist()) == {0, 255}


def test_binarised_splits_are_the_same_for_every_run():
    cfg = DataConfig(limit=300, validation=100, binarize="dynamic")
    a, b = load_splits(cfg, "cpu", seed=0), load_splits(cfg, "cpu", seed=7)
    assert torch.equal(a.test.x, b.test.x) and torch.equal(a.val.x, b.val.x)
    assert a.train.binarize and not a.test.binarize and set(a.test.x.unique().tolist()) == {0, 255}
    grey = load_splits(DataConfig(limit=300, validation=100), "cpu")
    assert not grey.train.binarize and len(grey.test.x.unique()) > 2


def test_a_likelihood_the_data_does_not_fit_is_refused():
    with pytest.raises(ConfigError, match="binarised data .* needs the bernoulli likelihood"):
        vae("vae.likelihood=continuous_bernoulli")  # the shipped conv VAE binarises
    vae("vae.likelihood=continuous_bernoulli", "data.binarize=null")


# -- the Fréchet distance ----------------------------------------------------------------------------------------------
def test_frechet_distance_of_diagonal_gaussians_by_hand():
    m1, m2 = torch.tensor([0.0, 1.0, 2.0]), torch.tensor([1.0, 1.0, 0.0])
    s1, s2 = torch.tensor([1.0, 4.0, 9.0]), torch.tensor([4.0, 1.0, 9.0])  # variances
    # ‖m1 − m2‖² + Σ (σ1 − σ2)² = 5 + (1 + 1 + 0)
    assert frechet_distance(m1, torch.diag(s1), m2, torch.diag(s2)) == pytest.approx(7.0)


def test_frechet_distance_of_non_commuting_covariances_by_hand():
    generator = torch.Generator().manual_seed(0)
    for _ in range(5):
        a, b = torch.randn(2, 2, generator=generator, dtype=torch.float64), torch.randn(2, 2, generator=generator,
                                                                                          dtype=torch.float64)
        s1, s2 = a @ a.T + 0.1 * torch.eye(2, dtype=torch.float64), b @ b.T + 0.1 * torch.eye(2, dtype=torch.float64)
        product = s1 @ s2  # for a 2×2 matrix with positive eigenvalues, Tr √M = √(Tr M + 2·√det M)
        trace_root = math.sqrt(torch.trace(product).item() + 2 * math.sqrt(torch.det(product).item()))
        by_hand = torch.trace(s1).item() + torch.trace(s2).item() - 2 * trace_root
        zero = torch.zeros(2, dtype=torch.float64)
        assert frechet_distance(zero, s1, zero, s2) == pytest.approx(by_hand, rel=1e-9, abs=1e-9)


def test_frechet_distance_of_samples_of_one_gaussian_is_near_zero():
    generator = torch.Generator().manual_seed(1)
    mix = torch.randn(8, 8, generator=generator)
    a, b = torch.randn(20_000, 8, generator=generator) @ mix, torch.randn(20_000, 8, generator=generator) @ mix
    same = frechet_distance(*gaussian_stats(a), *gaussian_stats(b))
    shifted = frechet_distance(*gaussian_stats(a), *gaussian_stats(b + 1.0))
    gap = a.double().mean(0) - b.double().mean(0)
    assert same < 0.1  # only the covariances' terms change when one set is shifted
    assert shifted - same == pytest.approx((gap - 1).square().sum().item() - gap.square().sum().item(), rel=1e-9)


# -- convolutional autoencoders ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("kernel", [2, 3, 4, 5])
@pytest.mark.parametrize("algo, name", [("vae", "conv_vae"), ("stacked_ae", "stacked_ae"),
                                        ("denoising_ae", "denoising_ae")])
def test_conv_autoencoders_reconstruct_the_image_shape(kernel, algo, name):
    cfg = vae("model.conv=[4, 8, 8]", f"model.conv_kernel={kernel}", "model.hidden=[32]", "model.latent=6", name=name)
    model = build_autoencoder(cfg)
    x = torch.rand(3, *IMAGE_SHAPE)
    out = model.losses(x, torch.tensor([0, 1, 2]))
    assert out["loss"].ndim == 0 and torch.isfinite(out["loss"])
    assert model.reconstruct(x).shape == x.shape
    assert any(isinstance(m, torch.nn.ConvTranspose2d) for m in model.decoder.modules())


def test_a_refining_convolution_ends_the_decoder_at_full_resolution():
    model = build_autoencoder(vae("model.conv=[4, 8]", "model.hidden=[32]", "model.decoder_refine=6"))
    last_up = [m for m in model.decoder.modules() if isinstance(m, torch.nn.ConvTranspose2d)][-1]
    refine = [m for m in model.decoder.modules() if isinstance(m, torch.nn.Conv2d)
              and not isinstance(m, torch.nn.ConvTranspose2d)]
    assert last_up.out_channels == 6 and len(refine) == 1
    assert (refine[0].in_channels, refine[0].out_channels, refine[0].stride) == (6, 1, (1, 1))
    x = torch.rand(3, *IMAGE_SHAPE)
    assert model.reconstruct(x).shape == x.shape and model.sample(2).shape == (2, *IMAGE_SHAPE)


def test_conv_configs_that_cannot_work_are_one_line():
    with pytest.raises(ConfigError, match=r"model.conv\[3\]"):
        build_autoencoder(vae("model.conv=[4, 4, 4, 4]", "model.conv_kernel=5"))  # 28 → 13 → 6 → 2 → 0
    with pytest.raises(ConfigError, match="tied weights need an MLP"):
        vae("model.conv=[4]", "stacked.tied=true", name="stacked_ae")
    with pytest.raises(ConfigError, match="layer-wise pretraining needs an MLP"):
        vae("model.conv=[4]", "denoising.layerwise_epochs=1", name="denoising_ae")
    with pytest.raises(ConfigError, match="decoder_refine needs a convolutional decoder"):
        vae("model.conv=[]", "model.decoder_refine=8")


# -- the conditional VAE -----------------------------------------------------------------------------------------------
def test_conditional_vae_depends_on_the_label():
    torch.manual_seed(0)
    for conv in ("[4, 8]", "[]"):
        model = build_autoencoder(vae("vae.conditional=true", f"model.conv={conv}", "model.hidden=[32]")).eval()
        z = torch.randn(5, model.latent)
        bags, boots = model.decode(z, torch.full((5,), 8)), model.decode(z, torch.full((5,), 9))
        assert not torch.allclose(bags, boots)
        x = torch.rand(5, *IMAGE_SHAPE)
        assert not torch.allclose(model.encode(x, torch.zeros(5, dtype=torch.long)), model.encode(x, torch.ones(5, dtype=torch.long)))
        half = torch.full((5, 10), 0.0)
        half[:, 8:] = 0.5  # a soft label halfway between two classes
        assert model.decode(z, half).shape == (5, *IMAGE_SHAPE)
        nll = model.importance_sampled_nll(x, 30, torch.arange(5))
        assert nll.shape == (5,) and (nll < model.negative_elbo(x, torch.arange(5)) + 50).all()
        with pytest.raises(ValueError, match="needs the images' labels"):
            model.encode(x)


def test_a_decoder_labelled_at_every_layer_starts_as_the_plain_one_and_scales_and_shifts_each_layer_by_class():
    for conv in ("[4, 8]", "[]"):
        torch.manual_seed(0)
        plain = build_autoencoder(vae("vae.conditional=true", f"model.conv={conv}", "model.hidden=[32]")).eval()
        torch.manual_seed(0)
        labelled = build_autoencoder(vae("vae.conditional=true", "vae.label_every_layer=true", f"model.conv={conv}",
                                         "model.hidden=[32]")).eval()
        weights = [m for m in plain.decoder.modules() if isinstance(m, (torch.nn.Linear, torch.nn.ConvTranspose2d))]
        assert len(labelled.decoder.film) == len(weights) and all(
            f.out_features == 2 * (w.out_features if isinstance(w, torch.nn.Linear) else w.out_channels)
            for f, w in zip(labelled.decoder.film, weights))
        labelled.load_state_dict(plain.state_dict(), strict=False)  # same weights, FiLM at zero
        z, y = torch.randn(4, plain.latent), torch.tensor([0, 3, 8, 9])
        assert torch.allclose(labelled.decode(z, y), plain.decode(z, y), atol=1e-6)
        # by hand: class 3's shift on the decoder's first layer, and nothing for the other classes
        first = labelled.decoder.film[0]
        width = first.out_features // 2
        with torch.no_grad():
            first.weight[width:, 3] = 1.0  # β_3 = 1 on every unit of the first layer
        changed = ~torch.isclose(labelled.decode(z, y), plain.decode(z, y), atol=1e-6).flatten(1).all(-1)
        assert changed.tolist() == [False, True, False, False]
    with pytest.raises(ConfigError, match="label_every_layer needs a conditional VAE"):
        vae("vae.label_every_layer=true")


def test_class_guidance_judges_decoded_prior_draws_with_a_guide_that_learns_only_from_real_images():
    torch.manual_seed(0)
    for prior, conv in (("vamp", "[4, 8]"), ("standard", "[]")):
        model = build_autoencoder(vae("vae.conditional=true", "vae.class_guidance=5", "vae.guide_hidden=16",
                                      f"vae.prior={prior}", "vae.pseudo_inputs=20", f"model.conv={conv}",
                                      "model.hidden=[32]"))
        x, y = torch.rand(6, *IMAGE_SHAPE), torch.tensor([0, 1, 2, 7, 8, 9])
        out = model(x, y=y)
        terms = out.losses()
        assert set(terms) == {"loss", "recon_loss", "reg_loss", "guide_loss", "guide_real_loss"}
        expected = terms["recon_loss"] + terms["reg_loss"] + 5 * terms["guide_loss"] + terms["guide_real_loss"]
        assert torch.allclose(terms["loss"], expected)
        guide = list(model.guide.parameters())
        decoder = list(model.decoder.parameters())
        from_drawn = torch.autograd.grad(terms["guide_loss"], guide + decoder, retain_graph=True, allow_unused=True)
        assert all(g is None for g in from_drawn[: len(guide)])  # the guide does not learn from drawn images
        assert all(g is not None and g.abs().sum() > 0 for g in from_drawn[len(guide) :])  # the decoder does
        from_real = torch.autograd.grad(terms["guide_real_loss"], guide + decoder, allow_unused=True)
        assert all(g is not None for g in from_real[: len(guide)]) and all(g is None for g in from_real[len(guide) :])
        assert model.guide(x).shape == (6, 10)
    with pytest.raises(ConfigError, match="class_guidance needs a conditional VAE"):
        vae("vae.class_guidance=1")


def test_labels_by_number_or_name():
    assert [parse_label(t) for t in ("Bag", "bag", "8", 8, "T-shirt/top", "tshirt", "ANKLE BOOT", "0")] == [
        8, 8, 8, 8, 0, 0, 9, 9 - 9]
    for bad in ("10", "-1", "dog", "", "Bags"):
        with pytest.raises(RlgenError, match="unknown label"):
            parse_label(bad)


def test_conv_shapes_follow_the_floor_division():
    cfg = vae("model.conv=[4, 8, 16]").model
    assert conv_shapes(cfg, IMAGE_SHAPE) == [(1, 28, 28), (4, 14, 14), (8, 7, 7), (16, 3, 3)]
    assert conv_shapes(cfg, IMAGE_SHAPE, extra_channels=10)[0] == (11, 28, 28)


# -- the VampPrior -----------------------------------------------------------------------------------------------------
def test_pairwise_gaussian_log_density_equals_the_direct_one():
    torch.manual_seed(0)
    z = torch.randn(3, 7, 5, dtype=torch.float64)
    mean, logvar = torch.randn(4, 5, dtype=torch.float64), torch.randn(4, 5, dtype=torch.float64)
    direct = gaussian_log_density(z.unsqueeze(-2), mean, logvar)  # (3, 7, 4) through a (3, 7, 4, 5) tensor
    assert torch.allclose(pairwise_log_density(z, mean, logvar), direct, atol=1e-10)
    one = torch.distributions.Normal(mean[1], (0.5 * logvar[1]).exp()).log_prob(z[0, 2]).sum()
    assert direct[0, 2, 1].item() == pytest.approx(one.item(), abs=1e-10)


def test_vamp_prior_is_a_mixture_of_its_own_class_components():
    torch.manual_seed(0)
    prior = VampPrior(25, IMAGE_SHAPE, num_classes=10).double()  # classes 0–4 own 3 components, 5–9 own 2
    mean, logvar = torch.randn(25, 3, dtype=torch.float64), torch.randn(25, 3, dtype=torch.float64)
    z, y = torch.randn(2, 4, 3, dtype=torch.float64), torch.tensor([0, 4, 5, 9])
    got = prior.log_density(z, mean, logvar, y)
    for b, label in enumerate(y.tolist()):
        own = [k for k in range(25) if k % 10 == label]
        for s in range(2):
            mixture = sum(gaussian_log_density(z[s, b], mean[k], logvar[k]).exp() for k in own) / len(own)
            assert got[s, b].item() == pytest.approx(mixture.log().item(), rel=1e-9)
    unconditional = VampPrior(25, IMAGE_SHAPE).double().log_density(z, mean, logvar)
    everything = gaussian_log_density(z.unsqueeze(-2), mean, logvar).exp().mean(-1).log()
    assert torch.allclose(unconditional, everything, atol=1e-10)
    picked = prior.pick(1000, torch.Generator().manual_seed(0), torch.full((1000,), 3))
    assert set(picked.tolist()) == {3, 13, 23}  # every one of class 3's components, and only those


def test_vamp_vae_samples_its_components_and_trains():
    torch.manual_seed(0)
    model = build_autoencoder(vae("vae.prior=vamp", "vae.pseudo_inputs=20", "vae.conditional=true",
                                  "model.conv=[4, 8]", "model.hidden=[32]"))
    x, y = torch.rand(6, *IMAGE_SHAPE), torch.arange(6)
    out = model(x, y=y)
    out.loss.backward()
    assert model.vamp.logits.grad.abs().sum() > 0  # the pseudo-inputs learn
    assert model.sample(4, torch.Generator().manual_seed(1), torch.tensor([8, 8, 9, 9])).shape == (4, *IMAGE_SHAPE)
    model.eval()
    means = model.decode(model.prior_components()[0][[8, 18]], torch.tensor([8, 8]))  # class 8's two components
    cold = model.sample(50, torch.Generator().manual_seed(1), torch.full((50,), 8), temperature=0)
    assert all(torch.allclose(image, means[0]) or torch.allclose(image, means[1]) for image in cold)
    assert "VampPrior, K = 20" in vae("vae.prior=vamp", "vae.pseudo_inputs=20").describe()
    assert "class guidance 10" in vae("vae.conditional=true", "vae.class_guidance=10").describe()
    with pytest.raises(ConfigError, match="at least one pseudo-input per class"):
        vae("vae.prior=vamp", "vae.pseudo_inputs=5", "vae.conditional=true")
