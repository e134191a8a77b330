"""The `rlgen` command line: parse, load the config, call one library function. No training logic here."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from rlgen import __version__
from rlgen.errors import Interrupted, RlgenError

RUN_DIR = click.Path(path_type=Path, file_okay=False)
DEVICE_HELP = "auto (CUDA when present), cpu, cuda or cuda:N."


class RlgenGroup(click.Group):
    """Turns rlgen's own errors into one line on stderr and a non-zero exit code, without a traceback."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except RlgenError as exc:
            click.echo(f"rlgen: error: {exc}", err=True)
            sys.exit(exc.exit_code)
        except KeyboardInterrupt:
            click.echo("rlgen: interrupted", err=True)
            sys.exit(130)


@click.group(cls=RlgenGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, "-V", "--version", prog_name="rlgen")
def main() -> None:
    """rlgen: policy-gradient agents and autoencoders on one small PyTorch core.

    \b
    Examples:
      rlgen train configs/cartpole_reinforce.yaml
      rlgen evaluate runs/cartpole_reinforce/<run> --episodes 100
      rlgen render runs/cartpole_reinforce/<run> --out cartpole.gif
    """


@main.command()
@click.argument("config", type=click.Path(path_type=Path, dir_okay=False), required=False)
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help="Override a config field (repeatable).")
@click.option("--run-dir", type=RUN_DIR, help="Where to write the run (default: runs/<config>/<time>-seed<N>).")
@click.option("--resume", type=RUN_DIR, help="Continue an interrupted run from its last checkpoint (not SB3 runs).")
@click.option("--device", help=DEVICE_HELP)
@click.option("--seed", type=click.IntRange(min=0), help="Override the config's seed.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def train(config: Path | None, overrides: tuple[str, ...], run_dir: Path | None, resume: Path | None,
          device: str | None, seed: int | None, quiet: bool):
    """Train the model a YAML CONFIG describes; the run directory gets config, weights, metrics.

    \b
    Examples:
      rlgen train configs/cartpole_reinforce.yaml
      rlgen train configs/cartpole_reinforce.yaml --seed 1 --set optimizer.lr=0.005 --run-dir runs/try
      rlgen train configs/fashion_vae.yaml --set train.epochs=20
      rlgen train --resume runs/fashion_vae/<run>
      rlgen train --resume runs/cartpole_ppo/<run>
    """
    from rlgen import registry
    from rlgen.config import load_config
    from rlgen.rundir import RunDir, default_run_dir

    if resume is not None:
        if config is not None or overrides or run_dir is not None or seed is not None:
            raise RlgenError("--resume takes only the run dir (and --device, --quiet); its saved config is used")
        run, cfg = registry.open_run(resume)
        if device:
            cfg.device = device
    elif config is None:
        raise RlgenError("give a CONFIG file to train, or --resume RUN_DIR")
    else:
        extra = list(overrides) + ([f"device={device}"] if device else []) + ([f"seed={seed}"] if seed is not None else [])
        cfg = load_config(config, extra, registry.schemas())
        run = RunDir.create(run_dir or default_run_dir(config, cfg.seed), cfg, {"config_source": str(config)})
    try:
        summary = registry.train(cfg, run, quiet, resume=resume is not None)
    except KeyboardInterrupt:
        raise Interrupted(f"interrupted; what was learned so far is saved in {run.path}") from None
    click.echo(f"{summary}\nrun dir: {run.path}")


@main.command()
@click.argument("run_dir", type=RUN_DIR)
@click.option("--episodes", default=100, show_default=True, type=click.IntRange(min=1), help="Agents: episodes.")
@click.option("--seed", default=0, show_default=True, type=click.IntRange(min=0),
              help="Agents: episode k resets with seed+k. Autoencoders: seeds the sampling.")
@click.option("--device", default="auto", show_default=True, help=DEVICE_HELP)
@click.option("--sample", is_flag=True, help="Agents: sample actions instead of taking the most likely one.")
@click.option("--nll-samples", type=click.IntRange(min=1), help="VAE: importance samples per image for the NLL.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def evaluate(run_dir: Path, episodes: int, seed: int, device: str, sample: bool, nll_samples: int | None, as_json: bool):
    """Evaluate a trained run: an agent's return over greedy episodes, or an autoencoder's test-set losses.

    \b
    Examples:
      rlgen evaluate runs/cartpole_reinforce/<run> --episodes 100 --json
      rlgen evaluate runs/fashion_vae/<run> --nll-samples 500
    """
    from rlgen.registry import open_run

    run, _ = open_run(run_dir)
    if run.meta.get("kind") == "autoencoder":
        from rlgen.autoencoders.evaluate import evaluate_run as evaluate_autoencoder_run

        result = evaluate_autoencoder_run(run_dir, device, nll_samples, seed)
        text = ", ".join(f"{k} {v:.5g}" if isinstance(v, float) else f"{k} {v}" for k, v in result.items() if k != "run_dir")
    else:
        from agents.evaluate import evaluate_run

        result = evaluate_run(run_dir, episodes, seed, device, greedy=not sample)
        text = (f"{result['env_id']}: mean return {result['mean_return']:.2f} ± {result['std_return']:.2f} "
                f"(min {result['min_return']:.0f}, max {result['max_return']:.0f}) over {episodes} episodes")
    click.echo(json.dumps(result) if as_json else text)


@main.command()
@click.argument("run_dir", type=RUN_DIR)
@click.option("--out", type=click.Path(path_type=Path), help="FILE.gif or FILE.mp4 to write.")
@click.option("--episodes", default=1, show_default=True, type=click.IntRange(min=1))
@click.option("--seed", default=0, show_default=True, type=click.IntRange(min=0))
@click.option("--fps", default=50, show_default=True, type=click.IntRange(min=1, max=240))
@click.option("--human", is_flag=True, help="Also play in a window (needs a display).")
@click.option("--device", default="auto", show_default=True, help=DEVICE_HELP)
def render(run_dir: Path, out: Path | None, episodes: int, seed: int, fps: int, human: bool, device: str):
    """Record a trained agent playing greedily, as a GIF or MP4.

    \b
    Examples:
      rlgen render runs/cartpole_reinforce/<run> --out cartpole.gif
      rlgen render runs/cartpole_reinforce/<run> --out cartpole.mp4 --episodes 3
      rlgen render runs/cartpole_reinforce/<run> --human
    """
    from agents.render import render_run

    frames, returns = render_run(run_dir, out, episodes, seed, fps, human, device)
    shown = ", ".join(f"{r:.0f}" for r in returns)
    if out is not None:
        click.echo(f"wrote {out} ({frames} frames; episode returns: {shown})")
    else:
        click.echo(f"played {len(returns)} episode(s) in a window; episode returns: {shown}")


PNG = click.Path(path_type=Path, dir_okay=False)


@main.command()
@click.argument("run_dir", type=RUN_DIR)
@click.option("--out", type=PNG, required=True, help="FILE.png to write.")
@click.option("--n", default=64, show_default=True, type=click.IntRange(min=1, max=4096), help="Number of images.")
@click.option("--seed", default=0, show_default=True, type=click.IntRange(min=0))
@click.option("--device", default="auto", show_default=True, help=DEVICE_HELP)
def sample(run_dir: Path, out: Path, n: int, seed: int, device: str):
    """Generate new images with a VAE run: decode z ~ N(0, I) into a PNG grid.

    \b
    Example:
      rlgen sample runs/fashion_vae/<run> --out samples.png --n 64
    """
    from rlgen.autoencoders.images import sample_run

    sample_run(run_dir, out, n, seed, device)
    click.echo(f"wrote {out} ({n} samples)")


@main.command()
@click.argument("run_dir", type=RUN_DIR)
@click.option("--out", type=PNG, required=True, help="FILE.png to write.")
@click.option("--n", default=10, show_default=True, type=click.IntRange(min=1, max=100), help="Test images.")
@click.option("--seed", default=0, show_default=True, type=click.IntRange(min=0), help="Which test images.")
@click.option("--device", default="auto", show_default=True, help=DEVICE_HELP)
def reconstruct(run_dir: Path, out: Path, n: int, seed: int, device: str):
    """Test images above their reconstructions (denoisers: clean, corrupted, denoised).

    \b
    Example:
      rlgen reconstruct runs/fashion_denoising_ae/<run> --out denoised.png
    """
    from rlgen.autoencoders.images import reconstruct_run

    rows = reconstruct_run(run_dir, out, n, seed, device)
    click.echo(f"wrote {out} ({rows} rows of {n} images)")


@main.command()
@click.argument("run_dir", type=RUN_DIR)
@click.option("--out", type=PNG, required=True, help="FILE.png to write.")
@click.option("--steps", default=10, show_default=True, type=click.IntRange(min=2, max=100), help="Points per walk.")
@click.option("--pairs", default=4, show_default=True, type=click.IntRange(min=1, max=50), help="Walks (rows).")
@click.option("--seed", default=0, show_default=True, type=click.IntRange(min=0), help="Which test images.")
@click.option("--device", default="auto", show_default=True, help=DEVICE_HELP)
def interpolate(run_dir: Path, out: Path, steps: int, pairs: int, seed: int, device: str):
    """A walk in latent space between pairs of test images (each row: start, decoded walk, end).

    \b
    Example:
      rlgen interpolate runs/fashion_vae/<run> --out walk.png --steps 12
    """
    from rlgen.autoencoders.images import interpolate_run

    interpolate_run(run_dir, out, steps, pairs, seed, device)
    click.echo(f"wrote {out} ({pairs} walks of {steps} steps)")


@main.command()
@click.argument("run_dir", type=RUN_DIR)
@click.option("--out", type=PNG, required=True, help="FILE.png to write.")
def plot(run_dir: Path, out: Path):
    """Training and validation curves of any run (agents too) from its metrics.csv.

    \b
    Example:
      rlgen plot runs/fashion_vae/<run> --out curves.png
    """
    from rlgen.plot import plot_run

    panels = plot_run(run_dir, out)
    click.echo(f"wrote {out} ({panels} panels)")


@main.group()
def data() -> None:
    """Datasets used by rlgen."""


@data.command("fetch")
@click.option("--data-dir", type=RUN_DIR, help="Folder to use (default: search, then download into the cache).")
def data_fetch(data_dir: Path | None):
    """Find Fashion-MNIST (downloading it if needed), check every file, and print where it is.

    \b
    Example:
      rlgen data fetch
    """
    from rlgen.fashion_mnist import load_fashion_mnist

    data = load_fashion_mnist(data_dir, validation=5000)
    click.echo(f"Fashion-MNIST: {data.source} ({len(data.train_x) + len(data.val_x)} training and "
               f"{len(data.test_x)} test images, checksums good)")


if __name__ == "__main__":
    main()
