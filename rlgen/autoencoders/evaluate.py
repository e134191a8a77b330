"""Test-set metrics of a trained autoencoder."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from rlgen.autoencoders.base import Autoencoder
from rlgen.autoencoders.stacked import DenoisingAutoencoder
from rlgen.autoencoders.vae import VariationalAutoencoder
from rlgen.data import Split, to_inputs
from rlgen.metrics import ProgressBar

NLL_CHUNK = 20_000  # importance samples × images decoded at once: bounds the (K, B, pixels) tensor


@torch.no_grad()
def evaluate_autoencoder(model: Autoencoder, test: Split, batch_size: int = 1000, nll_samples: int = 1000,
                         seed: int = 0, quiet: bool = True) -> dict[str, float | int]:
    """Reconstruction MSE (per pixel and per image) and BCE (per image) of the deterministic reconstruction;
    denoisers also report the error of corrupted inputs and of their denoised versions against the clean images;
    the VAE also reports the negative ELBO and the importance-sampled negative log-likelihood (nats per image;
    −log p(x | label) for a conditional VAE)."""
    torch.manual_seed(seed)  # corruption and the VAE's sampling draw from the global generator
    model.eval()
    n, pixels = len(test), model.pixels
    sums: dict[str, torch.Tensor] = {}
    is_vae = isinstance(model, VariationalAutoencoder)

    def add(key: str, per_image: torch.Tensor) -> None:
        sums[key] = sums.get(key, 0.0) + per_image.sum()

    with ProgressBar(n, f"evaluating ({nll_samples:,} importance samples per image)" if is_vae else "evaluating",
                     quiet) as bar:
        for start in range(0, n, batch_size):
            x = to_inputs(test.x[start : start + batch_size])
            y = test.y[start : start + batch_size]
            flat = x.flatten(1)
            logits = model.decode_logits(model.encode(x, y), y).float()
            add("squared_error", (model.pixel_mean(logits) - flat).square().sum(-1))
            add("bce", F.binary_cross_entropy_with_logits(logits, flat, reduction="none").sum(-1))
            if isinstance(model, DenoisingAutoencoder):
                corrupted = model.corrupt(x)
                add("corrupted_squared_error", (corrupted - x).flatten(1).square().sum(-1))
                add("denoised_squared_error", (model.reconstruct(corrupted) - x).flatten(1).square().sum(-1))
            if is_vae:
                add("neg_elbo", model.negative_elbo(x, y))
                chunk = max(1, NLL_CHUNK // nll_samples)
                for i in range(0, len(x), chunk):
                    add("nll", model.importance_sampled_nll(x[i : i + chunk], nll_samples, y[i : i + chunk]))
            bar.update(min(start + batch_size, n), "")
    totals = {key: float(value) for key, value in sums.items()}
    report: dict[str, float | int | str] = {
        "images": n,
        "test_mse_per_pixel": totals["squared_error"] / (n * pixels),
        "test_mse_per_image": totals["squared_error"] / n,
        "test_bce_per_image": totals["bce"] / n,
    }
    if "corrupted_squared_error" in totals:
        report["corrupted_mse_per_pixel"] = totals["corrupted_squared_error"] / (n * pixels)
        report["denoised_mse_per_pixel"] = totals["denoised_squared_error"] / (n * pixels)
    if is_vae:
        report["test_neg_elbo"] = totals["neg_elbo"] / n
        report["test_nll"] = totals["nll"] / n
        report["nll_samples"] = nll_samples
        report["likelihood"] = model.cfg.likelihood
        report["nll_of"] = "p(x | label)" if model.conditional else "p(x)"
    return report
