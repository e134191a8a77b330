"""The `rlgen` command line: parse, then call the Python API (rlgen.api). No training logic here."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

STARTED = time.perf_counter()

import click

from rlgen import __version__
from rlgen.cli_options import DEVICE_HELP, PNG, RUN_DIR, SEED, TEMPERATURE, THREADS_HELP, SeedList
from rlgen.errors import Interrupted, RlgenError, TrainingInterrupted


def one_line(message: str) -> str:
    """A message as a single printable line: control characters (a newline in a user's key, say) are escaped."""
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in message)


class RlgenGroup(click.Group):
    """Turns rlgen's own errors, and click's usage errors, into one line on stderr and a non-zero exit code, without
    a traceback."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        try:
            return super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except click.exceptions.Exit as exc:  # --help, --version
            sys.exit(exc.exit_code)
        except click.ClickException as exc:  # a bad option value, a missing argument, an unknown command
            where = f"{exc.ctx.command_path}: " if getattr(exc, "ctx", None) is not None else ""
            click.echo(one_line(f"rlgen: error: {where}{exc.format_message()} (see --help)"), err=True)
            sys.exit(exc.exit_code)
        except click.exceptions.Abort:
            click.echo("rlgen: interrupted", err=True)
            sys.exit(130)

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except RlgenError as exc:
            if os.environ.get("RANK", "0") in ("", "0"):
                click.echo(one_line(f"rlgen: error: {exc}"), err=True)
            else:  # a data-parallel run's ranks fail alike: rank 0 says why, and its exit ends the others
                time.sleep(5)
            sys.exit(exc.exit_code)
        except KeyboardInterrupt:
            click.echo("rlgen: interrupted", err=True)
            sys.exit(130)


@click.group(cls=RlgenGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, "-V", "--version", prog_name="rlgen")
def main() -> None:
    """rlgen: policy-gradient agents, autoencoders and classifiers on one small PyTorch core.

    \b
    Examples:
      rlgen train configs/cartpole_reinforce.yaml
      rlgen train configs/fashion_mlp.yaml --set train.epochs=3 --run-dir runs/mlp
      rlgen evaluate runs/mlp
      rlgen summary configs/fashion_cnn.yaml
      rlgen render runs/cartpole_reinforce/<run> --out cartpole.gif
    """


def _interrupted(exc: TrainingInterrupted) -> Interrupted:
    if exc.saved:
        return Interrupted(f"interrupted; what was learned so far is saved in {exc.run_dir}")
    return Interrupted(f"interrupted before anything was learned; nothing was kept in {exc.run_dir}")


@main.command()
@click.argument("config", type=click.Path(path_type=Path, dir_okay=False), required=False)
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help="Override a config field (repeatable).")
@click.option("--set-file", type=click.Path(path_type=Path, dir_okay=False),
              help="A YAML file of overrides, {dotted.key: value} (as `rlgen tune` writes); --set wins over it.")
@click.option("--run-dir", type=RUN_DIR, help="Where to write the run (default: runs/<config>/<time>-seed<N>).")
@click.option("--resume", type=RUN_DIR,
              help="Continue an interrupted run from its last checkpoint (not SB3 runs); with --set of its budget "
                   "(train.epochs, train.total_steps), continue a finished one.")
@click.option("--overwrite", is_flag=True,
              help="A run already in --run-dir is moved aside to <run-dir>.old-<time> (never deleted).")
@click.option("--init-from", type=RUN_DIR, help="Start from this run's best weights (same kind, same layers).")
@click.option("--device", help=DEVICE_HELP)
@click.option("--seed", type=SEED, help="Override the config's seed.")
@click.option("--seeds", "seed_list", type=SeedList(),
              help="Train these seeds at once, as one batched model in this process (REINFORCE or A2C on the torch "
                   "CartPole): 0-31 or 0,3,7. --run-dir is then the folder of their run dirs seed<N>.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@click.option("--threads", type=click.IntRange(1, 1024), help=THREADS_HELP)
@click.option("--timings", is_flag=True, help="Also print where the command's time went.")
@click.option("--check", "check_only", is_flag=True,
              help="Only check the config (schema, device, environment, model size); train nothing.")
@click.option("--nproc", type=click.IntRange(1, 1024), default=1, show_default=True,
              help="Data-parallel processes on this machine (starts torchrun; gloo on the CPU, NCCL on GPUs).")
def train(config: Path | None, overrides: tuple[str, ...], set_file: Path | None, run_dir: Path | None,
          resume: Path | None, overwrite: bool, init_from: Path | None, device: str | None, seed: int | None,
          seed_list: list[int] | None, quiet: bool, threads: int | None, timings: bool, check_only: bool, nproc: int):
    """Train the model a YAML CONFIG describes; the run directory gets config, weights, metrics. CONFIG is a file
    or the name of a shipped config (`rlgen configs` lists them; a file of that name comes first).

    \b
    Examples:
      rlgen train cartpole_ppo
      rlgen train configs/cartpole_reinforce.yaml
      rlgen train configs/cartpole_reinforce.yaml --seed 1 --set optimizer.lr=0.005 --run-dir runs/try
      rlgen train configs/fashion_cnn.yaml --set train.epochs=3
      rlgen train configs/fashion_vae.yaml --set model.hidden=[500,500]
      rlgen train configs/cartpole_ppo.yaml --set-file runs/tune/cartpole_ppo/best.yaml
      rlgen train --resume runs/fashion_vae/<run>
      rlgen train --resume runs/fashion_vae/<run> --set train.epochs=60      # continue a finished run
      rlgen train fashion_vae --run-dir runs/vae --overwrite                 # the old runs/vae is moved aside
      rlgen train fashion_mlp --init-from runs/fashion_mlp/<run> --set optimizer.lr=0.0001
      rlgen train configs/fashion_cnn.yaml --set model.layers=[{type: flatten}] --check
      rlgen train configs/cartpole_a2c.yaml --timings
      rlgen train configs/cartpole_reinforce.yaml --seeds 0-31 --run-dir runs/reinforce-32
      rlgen train configs/fashion_cnn.yaml --nproc 2 --run-dir runs/cnn-dp
      torchrun --nproc-per-node 2 -m rlgen train configs/fashion_cnn.yaml --run-dir runs/cnn-dp
    """
    from rlgen import api, distributed
    from rlgen.config import read_overrides_file
    from rlgen.device import resolve_device

    imported = time.perf_counter()
    if set_file is not None:
        overrides = (*read_overrides_file(set_file), *overrides)
    if resume is not None and (overwrite or init_from is not None):
        raise RlgenError("--resume continues a run in place; --overwrite and --init-from are for new runs")
    if seed_list is not None:
        if config is None or seed is not None or resume is not None or nproc > 1 or check_only or init_from:
            raise RlgenError("--seeds trains the seeds of a CONFIG in one process: leave out --seed, --resume, "
                             "--init-from, --nproc and --check")
        try:
            runs = api.train_seeds(config, seed_list, list(overrides), run_dir=run_dir, device=device,
                                   threads=threads, quiet=quiet, overwrite=overwrite)
        except TrainingInterrupted as exc:
            raise _interrupted(exc) from None
        for run in runs:
            click.echo(f"seed {run.config.seed}: {run.result}")
        click.echo(f"run dirs: {runs[0].path.parent}/seed<N>")
        if timings:  # every seed's result holds the whole batch's timings
            _echo_timings(imported, f"{runs[0].result.describe_timings()} (all {len(runs)} seeds together)")
        return
    if nproc > 1 and not check_only:
        if distributed.launched_world().active:
            raise RlgenError("--nproc starts torchrun; under torchrun already, leave it out")
        if config is not None:  # bad input is found here, once, before any process starts
            with distributed.planned(nproc):
                api.check(config, list(overrides), seed=seed, device=device)
        args = [str(config)] if config is not None else []
        for item in overrides:
            args += ["--set", item]
        for flag, value in (("--run-dir", run_dir), ("--resume", resume), ("--device", device), ("--seed", seed),
                            ("--threads", threads), ("--init-from", init_from)):
            if value is not None:
                args += [flag, str(value)]
        args += [flag for flag, on in (("--quiet", quiet), ("--timings", timings), ("--overwrite", overwrite)) if on]
        code = distributed.launch(nproc, ["train", *args])
        if code in (1, 2, 130):  # rlgen's own exits: rank 0 has said why in one line
            sys.exit(code)
        if code:
            raise RlgenError(f"a training process died (exit code {code}); the others were stopped",
                             exit_code=code if 0 < code < 256 else 1)
        return
    if check_only:
        if config is None or resume is not None:
            raise RlgenError("--check takes a CONFIG file (and --set, --seed, --device)")
        cfg, _, kind = api.check(config, list(overrides), seed=seed, device=device)
        model, _ = kind.summary_model(cfg, None)
        count = sum(p.numel() for p in model.parameters())
        click.echo(f"{config}: a valid {cfg.algo} config (kind {kind.name}); {count:,} parameters, would train on "
                   f"{resolve_device(cfg.device)}; nothing was trained")
        return

    if resume is not None:
        if config is not None or run_dir is not None or seed is not None:
            raise RlgenError("--resume takes the run dir (and --set of its budget, --device, --quiet); its saved "
                             "config is used")
        target = resume
    elif config is None:
        raise RlgenError("give a CONFIG file to train, or --resume RUN_DIR")
    else:
        target = None
    try:
        if target is not None:
            run = api.resume(target, list(overrides), device=device, threads=threads, quiet=quiet)
        else:
            run = api.train(config, list(overrides), run_dir=run_dir, seed=seed, device=device, threads=threads,
                            quiet=quiet, overwrite=overwrite, init_from=init_from)
    except TrainingInterrupted as exc:
        raise _interrupted(exc) from None
    world = distributed.current()
    distributed.leave()
    if not world.is_main:  # rank 0 speaks for the run
        return
    click.echo(f"{run.result}\nrun dir: {run.path}")
    if timings:
        _echo_timings(imported, run.result.describe_timings())


def _echo_timings(imported: float, detail: str) -> None:
    whole = time.perf_counter() - STARTED
    click.echo(f"time: imports {imported - STARTED:.2f} s, {detail}; whole command {whole:.2f} s (after Python "
               f"started)")


@main.command()
@click.argument("run_dir", type=RUN_DIR)
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
def evaluate(run_dir: Path, episodes: int, seed: int, device: str, sample: bool, nll_samples: int | None,
             fid_run: Path | None, fid_samples: int, temperature: float, threads: int | None, as_json: bool,
             quiet: bool):
    """Evaluate a trained run: a classifier's test accuracy (per class too), an autoencoder's test losses (a VAE's
    −ELBO and importance-sampled NLL), or an agent's return over greedy episodes.

    \b
    Examples:
      rlgen evaluate runs/fashion_mlp/<run>
      rlgen evaluate runs/cartpole_reinforce/<run> --episodes 100 --json
      rlgen evaluate runs/fashion_vae/<run> --nll-samples 5000
      rlgen evaluate runs/fashion_cvae/<run> --fid runs/fashion_cnn/<run>
    """
    from rlgen import api

    run = api.load(run_dir)
    if fid_run is not None:
        report = run.fid(fid_run, n=fid_samples, seed=seed, device=device, temperature=temperature, threads=threads,
                         quiet=quiet)
    else:
        report = run.evaluate(episodes=episodes, seed=seed, greedy=not sample, nll_samples=nll_samples,
                              device=device, quiet=quiet, threads=threads)
    click.echo(json.dumps(report) if as_json else run.describe(report))


@main.command()
@click.argument("run_dir", type=RUN_DIR)
@click.option("--out", type=click.Path(path_type=Path), help="FILE.gif or FILE.mp4 to write.")
@click.option("--episodes", default=1, show_default=True, type=click.IntRange(1, 1000))
@click.option("--seed", default=0, show_default=True, type=SEED)
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
    from rlgen import api

    frames, returns = api.load(run_dir).render(out, episodes=episodes, seed=seed, fps=fps, human=human, device=device)
    shown = ", ".join(f"{r:.0f}" for r in returns)
    if out is not None:
        click.echo(f"wrote {out} ({frames} frames; episode returns: {shown})")
    else:
        click.echo(f"played {len(returns)} episode(s) in a window; episode returns: {shown}")


@main.command()
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


@main.command()
@click.argument("source", type=click.Path(path_type=Path))
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help="Override a config field (repeatable).")
def summary(source: Path, overrides: tuple[str, ...]):
    """A per-layer table of the model a CONFIG file or a RUN directory builds: output shapes and parameter counts.

    \b
    Examples:
      rlgen summary configs/fashion_mlp.yaml
      rlgen summary configs/fashion_cnn.yaml --set train.batch_size=64
      rlgen summary runs/fashion_vae/<run>
    """
    from rlgen import api

    if source.is_dir() and overrides:
        raise RlgenError("--set applies to a CONFIG file; a run dir's saved config is used as it is")
    click.echo(api.summary(source, list(overrides)))


@main.group()
def data() -> None:
    """Datasets used by rlgen."""


@data.command("fetch")
@click.option("--name", "name", type=click.Choice(["fashion_mnist", "mnist"]), default="fashion_mnist",
              show_default=True, help="The data set.")
@click.option("--data-dir", type=RUN_DIR,
              help="Folder to use; downloaded into when it holds none of the files (default: search, then download "
                   "into the cache).")
def data_fetch(name: str, data_dir: Path | None):
    """Find a data set (or download it) and check every file against its official checksums.

    \b
    Examples:
      rlgen data fetch
      rlgen data fetch --name mnist
      rlgen data fetch --name mnist --data-dir data/mnist
    """
    from rlgen.idx_data import DATA_SETS, fetch, load_image_set

    data_set = DATA_SETS[name]
    data = load_image_set(fetch(data_dir, data_set=data_set), validation=0, data_set=data_set)
    click.echo(f"{data_set.title}: {data.source} ({len(data.train_x) + len(data.val_x):,} training and "
               f"{len(data.test_x):,} test images, checksums good)")


def _add_commands() -> None:
    from rlgen.config_commands import configs
    from rlgen.export_command import export
    from rlgen.image_commands import interpolate, reconstruct, sample
    from rlgen.studies.commands import sweep, tune

    for command in (sample, reconstruct, interpolate, sweep, tune, configs, export):
        main.add_command(command)


_add_commands()


def entry() -> None:
    """The `rlgen` command. Once the command has finished and its output is flushed, the process ends at once:
    every file rlgen writes is complete by then (atomic writes, closed TensorBoard writers), and tearing down
    torch's module graph would add ~0.6 s to every command."""
    try:
        main()
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        if exc.code is not None and not isinstance(exc.code, int):
            print(exc.code, file=sys.stderr)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
