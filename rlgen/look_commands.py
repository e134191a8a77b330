"""The verbs that look at a trained run (rlgen.cli adds them to `rlgen`): `rlgen evaluate`, `render` and `plot`; the
first two also take another tool's model file (a stable-baselines3 .zip) with --env."""

from __future__ import annotations

import json
from pathlib import Path

import click

from rlgen.cli_options import DEVICE_HELP, PNG, RUN_DIR, SEED, TEMPERATURE, THREADS_HELP
from rlgen.errors import RlgenError
from rlgen.registry import kind_of_file

RUN_OR_FILE = click.Path(path_type=Path)
ENV_HELP = "With a model FILE (a stable-baselines3 .zip): the gymnasium environment it plays."
ALGO_HELP = ("With a model FILE: the algorithm that saved it (PPO, A2C, SAC, TD3, DDPG, DQN, RecurrentPPO; default: "
             "read from the file).")


def _file_or_run(path: Path, env: str | None, algo: str | None) -> bool:
    """True when `path` is another tool's model file (which needs --env); --env and --algo are for files only."""
    if path.is_file():
        if env is None:
            raise RlgenError(f"{path} is a model file: name the environment it plays with --env (--env CartPole-v1)")
        return True
    if env is not None or algo is not None:
        raise RlgenError("--env and --algo are for a model file (a stable-baselines3 .zip); a run dir knows its own")
    return False


@click.command()
@click.argument("run_dir", type=RUN_OR_FILE, metavar="RUN_DIR|FILE")
@click.option("--env", help=ENV_HELP)
@click.option("--algo", help=ALGO_HELP)
@click.option("--episodes", default=100, show_default=True, type=click.IntRange(1, 10**6), help="Agents: episodes.")
@click.option("--seed", default=0, show_default=True, type=SEED,
              help="Agents: seeds the episodes' start states. Autoencoders: seeds the sampling.")
@click.option("--device", default="auto", show_default=True, help=DEVICE_HELP)
@click.option("--sample", is_flag=True, help="Agents: sample actions instead of taking the most likely one.")
@click.option("--nll-samples", type=click.IntRange(1, 10**6),
              help="VAE: importance samples per image for the NLL (default: the config's vae.nll_samples).")
@click.option("--fid", "fid_run", type=RUN_DIR,
              help="VAE: instead, the Fréchet distance of generated images to the test images on the features of "
                   "this classifier run (and a conditional VAE's label accuracy).")
@click.option("--fid-samples", default=10_000, show_default=True, type=click.IntRange(2, 10**6),
              help="With --fid: generated images.")
@click.option("--temperature", default=1.0, show_default=True, type=TEMPERATURE,
              help="With --fid: scale of the latent noise of the generated images (1: the model as trained).")
@click.option("--threads", type=click.IntRange(1, 1024), help=THREADS_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option("--quiet", is_flag=True, help="No progress bar (it goes to stderr, so --json output is clean anyway).")
def evaluate(run_dir: Path, env: str | None, algo: str | None, episodes: int, seed: int, device: str, sample: bool,
             nll_samples: int | None, fid_run: Path | None, fid_samples: int, temperature: float,
             threads: int | None, as_json: bool, quiet: bool):
    """Evaluate a trained run: a classifier's test accuracy (per class too), an autoencoder's test losses (a VAE's
    −ELBO and importance-sampled NLL), or an agent's return over greedy episodes; or a stable-baselines3 model
    saved as a .zip (--env: the environment it plays), loaded with SB3's own loader.

    \b
    Examples:
      rlgen evaluate runs/fashion_mlp/<run>
      rlgen evaluate runs/cartpole_reinforce/<run> --episodes 100 --json
      rlgen evaluate runs/fashion_vae/<run> --nll-samples 5000
      rlgen evaluate runs/fashion_cvae/<run> --fid runs/fashion_cnn/<run>
      rlgen evaluate ppo_cartpole.zip --env CartPole-v1
    """
    from rlgen import api

    if _file_or_run(run_dir, env, algo):
        report = api.evaluate_file(run_dir, env, episodes=episodes, seed=seed, greedy=not sample, algo=algo,
                                   device=device, quiet=quiet)
        click.echo(json.dumps(report) if as_json else kind_of_file(run_dir).describe(report))
        return
    run = api.load(run_dir)
    if fid_run is not None:
        report = run.fid(fid_run, n=fid_samples, seed=seed, device=device, temperature=temperature, threads=threads,
                         quiet=quiet)
    else:
        report = run.evaluate(episodes=episodes, seed=seed, greedy=not sample, nll_samples=nll_samples,
                              device=device, quiet=quiet, threads=threads)
    click.echo(json.dumps(report) if as_json else run.describe(report))


@click.command()
@click.argument("run_dir", type=RUN_OR_FILE, metavar="RUN_DIR|FILE")
@click.option("--env", help=ENV_HELP)
@click.option("--algo", help=ALGO_HELP)
@click.option("--out", type=click.Path(path_type=Path), help="FILE.gif or FILE.mp4 to write.")
@click.option("--episodes", default=1, show_default=True, type=click.IntRange(1, 1000))
@click.option("--seed", default=0, show_default=True, type=SEED)
@click.option("--fps", default=50, show_default=True, type=click.IntRange(min=1, max=240))
@click.option("--human", is_flag=True, help="Also play in a window (needs a display).")
@click.option("--device", default="auto", show_default=True, help=DEVICE_HELP)
def render(run_dir: Path, env: str | None, algo: str | None, out: Path | None, episodes: int, seed: int, fps: int,
           human: bool, device: str):
    """Record a trained agent playing greedily, as a GIF or MP4 (a run, or a stable-baselines3 .zip with --env).

    \b
    Examples:
      rlgen render runs/cartpole_reinforce/<run> --out cartpole.gif
      rlgen render runs/cartpole_reinforce/<run> --out cartpole.mp4 --episodes 3
      rlgen render runs/cartpole_reinforce/<run> --human
      rlgen render ppo_cartpole.zip --env CartPole-v1 --out sb3.gif
    """
    from rlgen import api

    if _file_or_run(run_dir, env, algo):
        frames, returns = api.render_file(run_dir, env, out, episodes=episodes, seed=seed, fps=fps, human=human,
                                          algo=algo, device=device)
    else:
        frames, returns = api.load(run_dir).render(out, episodes=episodes, seed=seed, fps=fps, human=human,
                                                   device=device)
    shown = ", ".join(f"{r:.0f}" for r in returns)
    if out is not None:
        click.echo(f"wrote {out} ({frames} frames; episode returns: {shown})")
    else:
        click.echo(f"played {len(returns)} episode(s) in a window; episode returns: {shown}")


@click.command()
@click.argument("run_dirs", nargs=-1, required=True, type=RUN_DIR, metavar="RUN_DIR...")
@click.option("--out", type=PNG, required=True, help="FILE.png to write.")
@click.option("--label", "labels", multiple=True, help="Several runs: the legend's name of each, in order (repeat).")
@click.option("--device", default="auto", show_default=True, help=DEVICE_HELP)
def plot(run_dirs: tuple[Path, ...], out: Path, labels: tuple[str, ...], device: str):
    """Training and validation curves of any run from its metrics.csv; for a classifier also the test set's
    confusion matrix, beside them as FILE-confusion.png; for an autoencoder the test images' codings coloured by
    class (FILE-latent.png) and, for a 2-D VAE latent, the decoded manifold (FILE-manifold.png). Several runs: their
    curves overlaid in one figure, a colour each.

    \b
    Examples:
      rlgen plot runs/fashion_vae/<run> --out curves.png
      rlgen plot runs/fashion_cnn/<run> --out cnn.png      # also writes cnn-confusion.png
      rlgen plot runs/r32/seed0 runs/r32/seed1 runs/r32/seed2 --out seeds.png
      rlgen plot runs/lr-small runs/lr-big --label "lr 1e-4" --label "lr 1e-2" --out lr.png
    """
    from rlgen import api

    if len(run_dirs) == 1 and not labels:
        written = api.load(run_dirs[0]).plot(out, device=device)
    else:
        written = [api.plot_runs(list(run_dirs), out, labels=list(labels) or None)]
    click.echo("wrote " + ", ".join(map(str, written)))
