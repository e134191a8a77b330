"""Pictures of images: rows of (n, C, H, W) images in [0, 1] as one PNG grid."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch

from rlgen.atomic import atomic_output


def image_grid(rows: list[torch.Tensor], scale: int = 2, pad: int = 2) -> np.ndarray:
    """Rows of (n, 1, H, W) images in [0, 1] → one uint8 picture, dark clothes on a light background like the
    Fashion-MNIST paper; nearest-neighbour upscaling by `scale`."""
    height, width = rows[0].shape[-2:]
    cols = max(len(r) for r in rows)
    grid = np.ones((len(rows) * (height + pad) + pad, cols * (width + pad) + pad), dtype=np.float32)
    for i, row in enumerate(rows):
        for j, image in enumerate(row.detach().float().cpu().clamp(0, 1).numpy()):
            top, left = pad + i * (height + pad), pad + j * (width + pad)
            grid[top : top + height, left : left + width] = 1.0 - image.reshape(height, width)
    picture = (grid * 255).round().astype(np.uint8)
    return np.kron(picture, np.ones((scale, scale), dtype=np.uint8))


def square_rows(images: torch.Tensor) -> list[torch.Tensor]:
    """n images as the rows of a near-square grid."""
    cols = math.ceil(math.sqrt(len(images)))
    return [images[i : i + cols] for i in range(0, len(images), cols)]


def write_png(picture: np.ndarray, out: Path) -> None:
    import imageio.v3 as iio

    with atomic_output(out) as tmp:
        iio.imwrite(tmp, picture, extension=".png")
