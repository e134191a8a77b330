"""The image verbs of the command line: `rlgen sample`, `reconstruct` and `interpolate` (rlgen.cli adds them to
`rlgen`); each calls the run's kind through the Python API, so a kind without images refuses in one line."""

from __future__ import annotations

from pathlib import Path

import click

from rlgen.cli_options import DEVICE_HELP, PNG, RUN_DIR, SEED, TEMPERATURE


@click.command()
@click.argument("run_dir", type=RUN_DIR)
@click.option("--out", type=PNG, required=True, help="FILE.png to write.")
@click.option("--n", default=64, show_default=True, type=click.IntRange(min=1, max=4096), help="Number of images.")
@click.option("--seed", default=0, show_default=True, type=SEED)
@click.option("--label", help="Conditional VAE: the class to draw, by number or name (8, Bag, 'Ankle boot').")
@click.option("--temperature", default=1.0, show_default=True, type=TEMPERATURE,
              help="Scale of the latent noise: below 1, more typical images and less variety; 0 decodes the prior's "
                   "means.")
@click.option("--device", default="auto", show_default=True, help=DEVICE_HELP)
def sample(run_dir: Path, out: Path, n: int, seed: int, label: str | None, temperature: float, device: str):
    """Generate new images with a VAE run: decode z drawn from its prior into a PNG grid. A conditional VAE draws
    the class --label asks for; without --label its N images take the classes in turn, and a multiple of 10 gives
    one row per class (--n 100: ten of each).

    \b
    Examples:
      rlgen sample runs/fashion_vae/<run> --out samples.png --n 64
      rlgen sample runs/fashion_cvae/<run> --out bags.png --label Bag --n 16
      rlgen sample runs/fashion_cvae/<run> --out classes.png --n 100     # a 10 x 10 class grid
      rlgen sample runs/fashion_cvae/<run> --out typical.png --n 100 --temperature 0.6
    """
    from rlgen import api

    run = api.load(run_dir)
    images = run.sample(n, seed=seed, out=out, device=device, label=label, temperature=temperature)
    click.echo(f"wrote {out} ({len(images)} samples)")


@click.command()
@click.argument("run_dir", type=RUN_DIR)
@click.option("--out", type=PNG, required=True, help="FILE.png to write.")
@click.option("--n", default=10, show_default=True, type=click.IntRange(min=1, max=100), help="Test images.")
@click.option("--seed", default=0, show_default=True, type=SEED, help="Which test images.")
@click.option("--device", default="auto", show_default=True, help=DEVICE_HELP)
def reconstruct(run_dir: Path, out: Path, n: int, seed: int, device: str):
    """Test images above their reconstructions (denoisers: clean, corrupted, denoised).

    \b
    Example:
      rlgen reconstruct runs/fashion_denoising_ae/<run> --out denoised.png
    """
    from rlgen import api

    rows = api.load(run_dir).reconstruct(n, seed=seed, out=out, device=device)
    click.echo(f"wrote {out} ({len(rows)} rows of {n} images)")


@click.command()
@click.argument("run_dir", type=RUN_DIR)
@click.option("--out", type=PNG, required=True, help="FILE.png to write.")
@click.option("--steps", default=10, show_default=True, type=click.IntRange(min=2, max=100), help="Points per walk.")
@click.option("--pairs", default=4, show_default=True, type=click.IntRange(min=1, max=50), help="Walks (rows).")
@click.option("--seed", default=0, show_default=True, type=SEED, help="Which test images.")
@click.option("--device", default="auto", show_default=True, help=DEVICE_HELP)
def interpolate(run_dir: Path, out: Path, steps: int, pairs: int, seed: int, device: str):
    """A walk in latent space between pairs of test images (each row: start, decoded walk, end).

    \b
    Example:
      rlgen interpolate runs/fashion_vae/<run> --out walk.png --steps 12
    """
    from rlgen import api

    api.load(run_dir).interpolate(steps, pairs, seed=seed, out=out, device=device)
    click.echo(f"wrote {out} ({pairs} walks of {steps} steps)")
