"""PNG grids of Fashion-MNIST images: samples, reconstructions and latent walks."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch

from rlgen.autoencoders.stacked import DenoisingAutoencoder
from rlgen.autoencoders.train import to_pixels
from rlgen.errors import RlgenError
from rlgen.outputs import atomic_output, check_output_path

SIDE = 28


def image_grid(rows: list[torch.Tensor], scale: int = 2, pad: int = 2) -> np.ndarray:
    """Rows of (n, 784) images in [0, 1] → one uint8 picture, dark clothes on a light background like the paper."""
    cols = max(len(r) for r in rows)
    cell = SIDE + pad
    grid = np.ones((len(rows) * cell + pad, cols * cell + pad), dtype=np.float32)
    for i, row in enumerate(rows):
        for j, image in enumerate(row.detach().float().cpu().clamp(0, 1).numpy()):
            top, left = pad + i * cell, pad + j * cell
            grid[top : top + SIDE, left : left + SIDE] = 1.0 - image.reshape(SIDE, SIDE)
    picture = (grid * 255).round().astype(np.uint8)
    return np.kron(picture, np.ones((scale, scale), dtype=np.uint8))  # nearest-neighbour upscaling


def write_png(picture: np.ndarray, out: Path) -> None:
    import imageio.v3 as iio

    with atomic_output(out) as tmp:
        iio.imwrite(tmp, picture, extension=".png")


def _open(run_path: Path, out: Path, device_name: str):
    from rlgen.autoencoders.build import load_autoencoder
    from rlgen.device import resolve_device
    from rlgen.registry import open_run

    check_output_path(out, (".png",))
    run, cfg = open_run(run_path, "autoencoder")
    device = resolve_device(device_name)
    return cfg, load_autoencoder(run, cfg, device), device


def _test_images(cfg, device, n: int, seed: int) -> torch.Tensor:
    from rlgen.fashion_mnist import load_fashion_mnist

    data = load_fashion_mnist(cfg.data.dir, cfg.data.validation, device, limit=cfg.data.limit)
    pick = torch.randperm(len(data.test_x), generator=torch.Generator().manual_seed(seed))[:n]
    return to_pixels(data.test_x[pick.to(device)])


@torch.no_grad()
def sample_run(run_path: Path, out: Path, n: int, seed: int, device_name: str) -> None:
    cfg, model, _ = _open(run_path, out, device_name)
    if not model.generative:
        raise RlgenError(f"{run_path} is a {cfg.algo} run; only the VAE samples new images (try reconstruct)")
    images = model.sample(n, torch.Generator().manual_seed(seed))
    cols = math.ceil(math.sqrt(n))
    write_png(image_grid([images[i : i + cols] for i in range(0, n, cols)]), out)


@torch.no_grad()
def reconstruct_run(run_path: Path, out: Path, n: int, seed: int, device_name: str) -> int:
    """Test images above their reconstructions; a denoiser shows clean, corrupted and denoised rows."""
    cfg, model, device = _open(run_path, out, device_name)
    x = _test_images(cfg, device, n, seed)
    if isinstance(model, DenoisingAutoencoder):
        torch.manual_seed(seed)
        corrupted = model.corrupt(x)
        rows = [x, corrupted, model.reconstruct(corrupted)]
    else:
        rows = [x, model.reconstruct(x)]
    write_png(image_grid(rows), out)
    return len(rows)


@torch.no_grad()
def interpolate_run(run_path: Path, out: Path, steps: int, pairs: int, seed: int, device_name: str) -> None:
    """Each row walks in a straight line through latent space from one test image's coding to another's."""
    cfg, model, device = _open(run_path, out, device_name)
    x = _test_images(cfg, device, 2 * pairs, seed)
    z = model.encode(x)  # (2·pairs, latent); the posterior mean for the VAE
    weights = torch.linspace(0, 1, steps, device=device).unsqueeze(1)  # (steps, 1)
    rows = []
    for p in range(pairs):
        start, end = z[2 * p], z[2 * p + 1]
        walk = torch.sigmoid(model.decode_logits((1 - weights) * start + weights * end))  # (steps, 784)
        rows.append(torch.cat([x[2 * p : 2 * p + 1], walk, x[2 * p + 1 : 2 * p + 2]]))
    write_png(image_grid(rows), out)
