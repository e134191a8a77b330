"""The `rlgen sweep` command (the studies' part of the command line; rlgen.cli adds it to `rlgen`)."""

from __future__ import annotations

from pathlib import Path

import click

from rlgen.errors import Interrupted, RlgenError


@click.command()
@click.argument("sweep_file", type=click.Path(path_type=Path, dir_okay=False), required=False)
@click.option("--out", type=click.Path(path_type=Path, file_okay=False),
              help="The sweep's folder (default: runs/sweeps/<sweep file name>).")
@click.option("--jobs", type=click.IntRange(1, 256), default=1, show_default=True,
              help="Runs at once; each takes its share of the cores (agents one thread), so the machine is never "
                   "oversubscribed.")
@click.option("--report", "report_dir", type=click.Path(path_type=Path, file_okay=False),
              help="Only redraw the tables and pictures of the sweep in this folder.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def sweep(sweep_file: Path | None, out: Path | None, jobs: int, report_dir: Path | None, quiet: bool):
    """Train a base config over a grid of settings × seeds, then tabulate and plot the results.

    Every run is an ordinary run directory under OUT/runs/<cell>/seed<N>. Running the same command again
    continues the sweep: finished runs are skipped and interrupted ones resumed. The results are OUT/runs.csv,
    OUT/cells.csv (mean, std, 95 % bootstrap interval and interquartile mean per cell), OUT/curves.png and
    OUT/final.png.

    SWEEP_FILE is a file or a shipped sweep's name (`rlgen configs` lists them).

    \b
    Examples:
      rlgen sweep fashion_batch_size --jobs 2
      rlgen sweep configs/sweeps/cartpole_credit.yaml --out runs/credit --jobs 2
      rlgen sweep --report runs/credit
    """
    from rlgen.studies import api as studies

    if report_dir is not None:
        if sweep_file is not None or out is not None:
            raise RlgenError("--report takes only the sweep's folder")
        _show(studies.sweep_report(report_dir))
        return
    if sweep_file is None:
        raise RlgenError("give a SWEEP_FILE to run, or --report SWEEP_DIR")
    out = out or Path("runs") / "sweeps" / sweep_file.stem
    try:
        result = studies.sweep(sweep_file, out, jobs=jobs, quiet=quiet)
    except KeyboardInterrupt:
        raise Interrupted(f"interrupted; run the same command again to continue the sweep in {out}") from None
    _show(result)
    if result["failures"]:
        raise RlgenError(f"{len(result['failures'])} run(s) failed, first {result['failures'][0]}")


def _show(result: dict) -> None:
    cells = result["cells"]
    name = cells[0]["metric"]
    agents = cells[0]["unit"] == "env steps"
    width = max(len(c["cell"]) for c in cells)
    versus = "final_vs_baseline" in cells[0]
    click.echo(f"{'cell':<{width}}  runs  {name} mean [95 % CI]  IQM  {'× baseline  ' if versus else ''}"
               f"{'solved  steps  ' if agents else ''}train s")
    for c in cells:
        solved = f"{c['solved']:>4}/{c['runs']:<3} {c['progress_mean']:>9,.0f}  " if agents else ""
        ratio = f"{c['final_vs_baseline']:>10.4f}  " if versus else ""
        click.echo(f"{c['cell']:<{width}}  {c['runs']:>4}  {c['final_mean']:.4g} [{c['final_ci_low']:.4g}, "
                   f"{c['final_ci_high']:.4g}]  {c['final_iqm']:.4g}  {ratio}{solved}{c['train_seconds_mean']:.2f}")
    click.echo(f"{result['runs']} of {result['planned']} runs finished; wrote {', '.join(result['files'])}")


@click.command()
@click.argument("config", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--space", "space_file", type=click.Path(path_type=Path, dir_okay=False), required=True,
              help="The search space (YAML): params with low/high[/log] or choices, seeds, objective.")
@click.option("--trials", type=click.IntRange(1, 100_000), default=20, show_default=True,
              help="Finished (complete or pruned) trials to reach, counting those of an earlier run of the study.")
@click.option("--jobs", type=click.IntRange(1, 256), default=1, show_default=True,
              help="Worker processes on one study; each run takes its share of the cores.")
@click.option("--out", type=click.Path(path_type=Path, file_okay=False),
              help="The study's folder (default: runs/tune/<config name>).")
@click.option("--quiet", is_flag=True, help="No line per trial.")
@click.option("--worker", type=int, hidden=True, help="(internal) run as worker N of a study whose folder is locked.")
def tune(config: Path, space_file: Path, trials: int, jobs: int, out: Path | None, quiet: bool, worker: int | None):
    """Search CONFIG's settings with Optuna (TPE sampler, median pruner on the runs' own evaluations).

    The study lives in OUT/study.journal: running the command again continues it, and several processes (or
    machines sharing the folder) can work on it. OUT/best.yaml holds the best trial's settings, for
    `rlgen train CONFIG --set-file OUT/best.yaml`; OUT/trials.csv lists every trial.

    CONFIG and the --space file are files or shipped names (`rlgen configs` lists them).

    \b
    Examples:
      rlgen tune cartpole_ppo --space tune_cartpole_ppo --trials 40 --jobs 2
      rlgen tune configs/fashion_vae.yaml --space configs/sweeps/tune_fashion_vae.yaml --trials 20
      rlgen train configs/cartpole_ppo.yaml --set-file runs/tune/cartpole_ppo/best.yaml
    """
    from rlgen.studies import api as studies
    from rlgen.studies import tune as tuning

    out = out or Path("runs") / "tune" / config.stem
    if worker is not None:  # a process the coordinator started: the folder is its to lock
        space = tuning.load_space(space_file)
        tuning.work(config, space, out, trials, None, worker, quiet)
        return
    try:
        result = studies.tune(config, space_file, trials=trials, jobs=jobs, out=out, quiet=quiet)
    except KeyboardInterrupt:
        raise Interrupted(f"interrupted; run the same command again to continue the study in {out}") from None
    best = result["best"]
    click.echo(f"{result['complete']} trials complete, {result['pruned']} pruned; best: trial {best.number}, value "
               f"{best.value:.6g}")
    for key, value in best.params.items():
        click.echo(f"  {key}: {value}")
    click.echo(f"wrote {', '.join(result['files'])}")
