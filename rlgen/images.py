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


def write_figure(picture: np.ndarray, out: Path, title: str, row_labels: list[str] | None = None,
                 scale: int = 2, pad: int = 2) -> None:
    """A grid from `image_grid` with a title above it (what the picture is: model, likelihood, data) and, when
    given, a label left of each row; written at one screen pixel per grid pixel."""
    import textwrap

    import matplotlib

    matplotlib.use("Agg")  # no display needed
    import matplotlib.pyplot as plt

    dpi = 100
    height, width = picture.shape[0] / dpi, picture.shape[1] / dpi
    left = 1.1 if row_labels else 0.05
    fig_w = max(width + left + 0.05, 3.0)  # a small grid still gets a title of a few lines, not a tall column
    margin = (fig_w - width - left - 0.05) / 2  # a narrower grid sits in the middle
    lines = textwrap.wrap(title, max(20, int((fig_w - 0.05) * 14)), break_on_hyphens=False)
    top = 0.1 + 0.16 * len(lines)
    fig_h = height + top + 0.05
    fig = plt.figure(figsize=(fig_w, fig_h), dpi=dpi)
    ax = fig.add_axes(((margin + left) / fig_w, 0.05 / fig_h, width / fig_w, height / fig_h))
    ax.imshow(picture, cmap="gray", vmin=0, vmax=255, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(False)
    if row_labels:
        pitch = (picture.shape[0] - pad * scale) / len(row_labels)
        ax.set_yticks([pad * scale + pitch * (i + 0.5) for i in range(len(row_labels))], row_labels, fontsize=8)
        ax.tick_params(length=0)
    fig.text(0.5, 1 - 0.06 / fig_h, "\n".join(lines), ha="center", va="top", fontsize=8)
    with atomic_output(out) as tmp:
        fig.savefig(tmp, dpi=dpi, format="png")
    plt.close(fig)
