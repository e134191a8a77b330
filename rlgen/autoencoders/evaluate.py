"""Test-set metrics of a trained autoencoder."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from rlgen.autoencoders.base import Autoencoder
from rlgen.autoencoders.stacked import DenoisingAutoencoder
from rlgen.autoencoders.vae import VariationalAutoencoder
from rlgen.data import to_inputs


@torch.no_grad()
def evaluate_autoencoder(
    model: Autoencoder, images: torch.Tensor, batch_size: int = 1000, nll_samples: int = 100, seed: int = 0
) -> dict[str, float | int]:
    """Reconstruction MSE (per pixel and per image) and BCE (per image) of the deterministic reconstruction;
    denoisers also report the error of corrupted inputs and of their denoised versions against the clean images;
    the VAE also reports the negative ELBO and the importance-sampled negative log-likelihood (nats per image)."""
    torch.manual_seed(seed)  # corruption and the VAE's sampling draw from the global generator
    model.eval()
    n, pixels = len(images), model.pixels
    sums: dict[str, torch.Tensor] = {}

    def add(key: str, per_image: torch.Tensor) -> None:
        sums[key] = sums.get(key, 0.0) + per_image.sum()

    for start in range(0, n, batch_size):
        x = to_inputs(images[start : start + batch_size])
        flat = x.flatten(1)
        logits = model.decode_logits(model.encode(x))
        add("squared_error", (torch.sigmoid(logits) - flat).square().sum(-1))
        add("bce", F.binary_cross_entropy_with_logits(logits, flat, reduction="none").sum(-1))
        if isinstance(model, DenoisingAutoencoder):
            corrupted = model.corrupt(x)
            add("corrupted_squared_error", (corrupted - x).flatten(1).square().sum(-1))
            add("denoised_squared_error", (model.reconstruct(corrupted) - x).flatten(1).square().sum(-1))
        if isinstance(model, VariationalAutoencoder):
            add("neg_elbo", model.negative_elbo(x))
            chunk = max(1, 20_000 // nll_samples)  # bounds the (K, B, pixels) tensor
            for i in range(0, len(x), chunk):
                add("nll", model.importance_sampled_nll(x[i : i + chunk], nll_samples))
    totals = {key: float(value) for key, value in sums.items()}
    report: dict[str, float | int] = {
        "images": n,
        "test_mse_per_pixel": totals["squared_error"] / (n * pixels),
        "test_mse_per_image": totals["squared_error"] / n,
        "test_bce_per_image": totals["bce"] / n,
    }
    if "corrupted_squared_error" in totals:
        report["corrupted_mse_per_pixel"] = totals["corrupted_squared_error"] / (n * pixels)
        report["denoised_mse_per_pixel"] = totals["denoised_squared_error"] / (n * pixels)
    if "neg_elbo" in totals:
        report["test_neg_elbo"] = totals["neg_elbo"] / n
        report["test_nll"] = totals["nll"] / n
        report["nll_samples"] = nll_samples
    return report
