"""Pictures from a trained autoencoder: samples (by class for a conditional VAE), reconstructions and latent walks as
PNG grids titled with what the model is; the latent space as a scatter of test images coloured by class, and for a
2-D latent the decoded manifold."""

from __future__ import annotations

from pathlib import Path

import torch

from rlgen.autoencoders.base import Autoencoder
from rlgen.autoencoders.stacked import DenoisingAutoencoder
from rlgen.data import CLASS_NAMES, NUM_CLASSES, Split, to_inputs
from rlgen.errors import RlgenError
from rlgen.images import image_grid, square_rows, write_figure


def pick(test: Split, n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """n test images in [0, 1] and their labels, chosen by seed."""
    chosen = torch.randperm(len(test), generator=torch.Generator().manual_seed(seed))[:n].to(test.x.device)
    return to_inputs(test.x[chosen]), test.y[chosen]


def _write(rows: list[torch.Tensor], out: Path | None, title: str, row_labels: list[str] | None = None) -> None:
    if out is not None:
        write_figure(image_grid(rows), out, title, row_labels)


@torch.no_grad()
def sample_images(model: Autoencoder, algo: str, title: str, out: Path | None, n: int, seed: int,
                  label: int | None = None, temperature: float = 1.0,
                  classes: tuple[str, ...] = CLASS_NAMES) -> torch.Tensor:
    """n new images (n, C, H, W): `n` is always the number of images returned. A conditional VAE draws them of
    class `label`; with no label it spreads them over the classes in turn (0, 1, …, 9, 0, …), and when n is a multiple
    of 10 the grid has one row per class (n = 100: ten of each). `temperature`: see VAE.sample (named in the title
    unless 1); `classes`: the data set's class names, for the titles and rows."""
    if not model.generative:
        raise RlgenError(f"a {algo} run does not generate images; only the VAE samples new images (try reconstruct)")
    generator = torch.Generator().manual_seed(seed)
    if temperature != 1.0:
        title = f"temperature {temperature:g} · {title}"
    if label is not None and not model.conditional:
        raise RlgenError(f"this {algo} run is not conditional (vae.conditional: false): it cannot sample a chosen class")
    if not model.conditional:
        images = model.sample(n, generator, temperature=temperature)
        _write(square_rows(images), out, f"{n} samples · {title}")
        return images
    if label is not None:
        images = model.sample(n, generator, torch.full((n,), label), temperature)
        _write(square_rows(images), out, f"{n} samples of class {label} ({classes[label]}) · {title}")
        return images
    if n % NUM_CLASSES:
        images = model.sample(n, generator, torch.arange(n) % NUM_CLASSES, temperature)
        _write(square_rows(images), out, f"{n} samples, classes in turn · {title}")
        return images
    per_class = n // NUM_CLASSES
    images = model.sample(n, generator, torch.arange(NUM_CLASSES).repeat_interleave(per_class), temperature)
    _write(list(images.split(per_class)), out, f"{per_class} samples per class · {title}", list(classes))
    return images


@torch.no_grad()
def reconstruct_images(model: Autoencoder, test: Split, title: str, out: Path | None, n: int,
                       seed: int) -> list[torch.Tensor]:
    """Rows of test images and their reconstructions; a denoiser gives clean, corrupted and denoised rows."""
    x, y = pick(test, n, seed)
    if isinstance(model, DenoisingAutoencoder):
        torch.manual_seed(seed)
        corrupted = model.corrupt(x)
        rows, names = [x, corrupted, model.reconstruct(corrupted)], ["test", "corrupted", "denoised"]
    else:
        rows, names = [x, model.reconstruct(x, y)], ["test", "reconstructed"]
    _write(rows, out, f"reconstructions · {title}", names)
    return rows


@torch.no_grad()
def interpolate_images(model: Autoencoder, test: Split, title: str, out: Path | None, steps: int, pairs: int,
                       seed: int) -> list[torch.Tensor]:
    """Each row walks in a straight line through latent space from one test image's coding to another's; a
    conditional model's label walks with it, from one one-hot label to the other."""
    x, y = pick(test, 2 * pairs, seed)
    z = model.encode(x, y)  # (2·pairs, latent); the posterior mean for the VAE
    weights = torch.linspace(0, 1, steps, device=x.device).unsqueeze(1)  # (steps, 1)
    onehot = torch.nn.functional.one_hot(y, NUM_CLASSES).float()
    rows = []
    for p in range(pairs):
        a, b = 2 * p, 2 * p + 1
        labels = (1 - weights) * onehot[a] + weights * onehot[b] if model.conditional else None
        walk = model.decode((1 - weights) * z[a] + weights * z[b], labels)  # (steps, C, H, W)
        rows.append(torch.cat([x[a : a + 1], walk, x[b : b + 1]]))
    _write(rows, out, f"latent walks · {title}")
    return rows


@torch.no_grad()
def latent_codes(model: Autoencoder, test: Split, batch_size: int = 1000) -> torch.Tensor:
    """The codings (posterior means) of every test image: (N, latent)."""
    parts = [model.encode(to_inputs(test.x[i : i + batch_size]), test.y[i : i + batch_size])
             for i in range(0, len(test), batch_size)]
    return torch.cat(parts).float().cpu()


def project_2d(codes: torch.Tensor) -> tuple[torch.Tensor, str]:
    """The codes themselves when 2-D, else their projection on the two principal components."""
    if codes.shape[1] == 2:
        return codes, "z₁, z₂"
    centred = codes - codes.mean(0)
    _, singular, vh = torch.linalg.svd(centred, full_matrices=False)
    share = (singular[:2].square().sum() / singular.square().sum()).item()
    return centred @ vh[:2].T, f"first two principal components, {share:.0%} of the variance"


def plot_latent(model: Autoencoder, test: Split, title: str, out: Path,
                classes: tuple[str, ...] = CLASS_NAMES) -> None:
    """Scatter of the test images' codings, coloured by class (`classes`: their names, for the legend)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from rlgen.atomic import atomic_output

    points, axes_name = project_2d(latent_codes(model, test))
    labels = test.y.cpu()
    fig, ax = plt.subplots(figsize=(7.5, 6), dpi=100)
    cmap = plt.get_cmap("tab10")
    for k, name in enumerate(classes):
        chosen = labels == k
        ax.scatter(points[chosen, 0], points[chosen, 1], s=2, color=cmap(k), label=name, alpha=0.6)
    ax.set_title(f"test images in latent space: {axes_name}\n{title}", fontsize=9)
    ax.legend(markerscale=6, fontsize=8, loc="center left", bbox_to_anchor=(1, 0.5))
    fig.tight_layout()
    with atomic_output(out) as tmp:
        fig.savefig(tmp, dpi=100, format="png")
    plt.close(fig)


@torch.no_grad()
def manifold_images(model: Autoencoder, title: str, out: Path | None, size: int = 20) -> list[torch.Tensor]:
    """A 2-D latent's decoded manifold: z on a size×size grid of the prior's quantiles 0.05…0.95."""
    quantiles = torch.distributions.Normal(0.0, 1.0).icdf(torch.linspace(0.05, 0.95, size))
    device = next(model.parameters()).device
    rows = [model.decode(torch.stack([quantiles, torch.full((size,), q)], 1).to(device)) for q in quantiles.flip(0)]
    _write(rows, out, f"decoded latent grid, z at N(0, 1) quantiles 0.05–0.95 · {title}")
    return rows
