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
@click.argument("config", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help="Override a config field (repeatable).")
@click.option("--run-dir", type=RUN_DIR, help="Where to write the run (default: runs/<config>/<time>-seed<N>).")
@click.option("--device", help=DEVICE_HELP)
@click.option("--seed", type=click.IntRange(min=0), help="Override the config's seed.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def train(config: Path, overrides: tuple[str, ...], run_dir: Path | None, device: str | None, seed: int | None, quiet: bool):
    """Train the model a YAML CONFIG describes; the run directory gets config, weights, metrics.

    \b
    Examples:
      rlgen train configs/cartpole_reinforce.yaml
      rlgen train configs/cartpole_reinforce.yaml --seed 1 --set optimizer.lr=0.005 --run-dir runs/try
    """
    from rlgen import registry
    from rlgen.config import load_config
    from rlgen.rundir import RunDir, default_run_dir

    extra = list(overrides) + ([f"device={device}"] if device else []) + ([f"seed={seed}"] if seed is not None else [])
    cfg = load_config(config, extra, registry.schemas())
    run = RunDir.create(run_dir or default_run_dir(config, cfg.seed), cfg, {"config_source": str(config)})
    try:
        result = registry.train(cfg, run, quiet)
    except KeyboardInterrupt:
        raise Interrupted(f"interrupted; what was learned so far is saved in {run.path}") from None
    status = "solved" if result.solved else "budget spent"
    click.echo(
        f"{status}: {result.env_steps:,} env steps, {result.train_seconds:.1f} s training, "
        f"best eval return {result.best_eval_return:.1f}\nrun dir: {run.path}"
    )


@main.command()
@click.argument("run_dir", type=RUN_DIR)
@click.option("--episodes", default=100, show_default=True, type=click.IntRange(min=1))
@click.option("--seed", default=0, show_default=True, type=click.IntRange(min=0), help="Episode k resets with seed+k.")
@click.option("--device", default="auto", show_default=True, help=DEVICE_HELP)
@click.option("--sample", is_flag=True, help="Sample actions instead of taking the most likely one.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def evaluate(run_dir: Path, episodes: int, seed: int, device: str, sample: bool, as_json: bool):
    """Evaluate a trained run: mean / std / min / max return over greedy episodes.

    \b
    Example:
      rlgen evaluate runs/cartpole_reinforce/<run> --episodes 100 --json
    """
    from agents.evaluate import evaluate_run

    result = evaluate_run(run_dir, episodes, seed, device, greedy=not sample)
    if as_json:
        click.echo(json.dumps(result))
    else:
        click.echo(
            f"{result['env_id']}: mean return {result['mean_return']:.2f} ± {result['std_return']:.2f} "
            f"(min {result['min_return']:.0f}, max {result['max_return']:.0f}) over {episodes} episodes"
        )


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
    """
    from agents.render import render_run

    frames, returns = render_run(run_dir, out, episodes, seed, fps, human, device)
    if out is not None:
        shown = ", ".join(f"{r:.0f}" for r in returns)
        click.echo(f"wrote {out} ({frames} frames; episode returns: {shown})")


if __name__ == "__main__":
    main()
