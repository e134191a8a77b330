"""Pictures from a trained autoencoder: samples, reconstructions and latent walks as PNG grids."""

from __future__ import annotations

from pathlib import Path

import torch

from rlgen.autoencoders.base import Autoencoder
from rlgen.autoencoders.stacked import DenoisingAutoencoder
from rlgen.data import Split, to_inputs
from rlgen.errors import RlgenError
from rlgen.images import image_grid, square_rows, write_png


def pick_images(test: Split, n: int, seed: int) -> torch.Tensor:
    """n test images in [0, 1], chosen by seed."""
    pick = torch.randperm(len(test), generator=torch.Generator().manual_seed(seed))[:n]
    return to_inputs(test.x[pick.to(test.x.device)])


@torch.no_grad()
def sample_images(model: Autoencoder, algo: str, out: Path | None, n: int, seed: int) -> torch.Tensor:
    """n new images (n, C, H, W); also a PNG grid when `out` is given."""
    if not model.generative:
        raise RlgenError(f"a {algo} run does not generate images; only the VAE samples new images (try reconstruct)")
    images = model.sample(n, torch.Generator().manual_seed(seed))
    if out is not None:
        write_png(image_grid(square_rows(images)), out)
    return images


@torch.no_grad()
def reconstruct_images(model: Autoencoder, test: Split, out: Path | None, n: int, seed: int) -> list[torch.Tensor]:
    """Rows of test images and their reconstructions; a denoiser gives clean, corrupted and denoised rows."""
    x = pick_images(test, n, seed)
    if isinstance(model, DenoisingAutoencoder):
        torch.manual_seed(seed)
        corrupted = model.corrupt(x)
        rows = [x, corrupted, model.reconstruct(corrupted)]
    else:
        rows = [x, model.reconstruct(x)]
    if out is not None:
        write_png(image_grid(rows), out)
    return rows


@torch.no_grad()
def interpolate_images(model: Autoencoder, test: Split, out: Path | None, steps: int, pairs: int,
                       seed: int) -> list[torch.Tensor]:
    """Each row walks in a straight line through latent space from one test image's coding to another's."""
    x = pick_images(test, 2 * pairs, seed)
    z = model.encode(x)  # (2·pairs, latent); the posterior mean for the VAE
    weights = torch.linspace(0, 1, steps, device=x.device).unsqueeze(1)  # (steps, 1)
    rows = []
    for p in range(pairs):
        walk = model.decode((1 - weights) * z[2 * p] + weights * z[2 * p + 1])  # (steps, C, H, W)
        rows.append(torch.cat([x[2 * p : 2 * p + 1], walk, x[2 * p + 1 : 2 * p + 2]]))
    if out is not None:
        write_png(image_grid(rows), out)
    return rows
