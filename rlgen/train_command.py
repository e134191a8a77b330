"""`rlgen train`: a new run from a config, a batch of seeds, a data-parallel run under torchrun, a resumed or
continued run, or only `--check` (rlgen.cli adds it to `rlgen`)."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click

from rlgen.cli_options import DEVICE_HELP, RUN_DIR, SEED, STARTED, THREADS_HELP, SeedList
from rlgen.errors import Interrupted, RlgenError, TrainingInterrupted


def _interrupted(exc: TrainingInterrupted) -> Interrupted:
    if exc.saved:
        return Interrupted(f"interrupted; what was learned so far is saved in {exc.run_dir}")
    return Interrupted(f"interrupted before anything was learned; nothing was kept in {exc.run_dir}")


@click.command()
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
