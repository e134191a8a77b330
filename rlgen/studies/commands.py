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
              help="Runs at once; each gets cores // jobs threads, so the machine is never oversubscribed.")
@click.option("--report", "report_dir", type=click.Path(path_type=Path, file_okay=False),
              help="Only redraw the tables and pictures of the sweep in this folder.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def sweep(sweep_file: Path | None, out: Path | None, jobs: int, report_dir: Path | None, quiet: bool):
    """Train a base config over a grid of settings × seeds, then tabulate and plot the results.

    Every run is an ordinary run directory under OUT/runs/<cell>/seed<N>. Running the same command again
    continues the sweep: finished runs are skipped and interrupted ones resumed. The results are OUT/runs.csv,
    OUT/cells.csv (mean, std, 95 % bootstrap interval and interquartile mean per cell), OUT/curves.png and
    OUT/final.png.

    \b
    Examples:
      rlgen sweep configs/sweeps/fashion_batch_size.yaml --jobs 2
      rlgen sweep configs/sweeps/cartpole_credit.yaml --out runs/credit --jobs 2
      rlgen sweep --report runs/credit
    """
    from rlgen.studies.report import report
    from rlgen.studies.spec import load_spec
    from rlgen.studies.sweep import existing_runs, run_sweep

    if report_dir is not None:
        if sweep_file is not None or out is not None:
            raise RlgenError("--report takes only the sweep's folder")
        spec, runs = existing_runs(report_dir)
        _show(report(report_dir, spec, runs))
        return
    if sweep_file is None:
        raise RlgenError("give a SWEEP_FILE to run, or --report SWEEP_DIR")
    spec, base = load_spec(sweep_file)
    out = out or Path("runs") / "sweeps" / sweep_file.stem
    try:
        failures = run_sweep(spec, base, out, jobs, quiet)
    except KeyboardInterrupt:
        raise Interrupted(f"interrupted; run the same command again to continue the sweep in {out}") from None
    spec, runs = existing_runs(out)
    _show(report(out, spec, runs))
    if failures:
        raise RlgenError(f"{len(failures)} run(s) failed, first {failures[0]}")


def _show(result: dict) -> None:
    cells = result["cells"]
    name = cells[0]["metric"]
    width = max(len(c["cell"]) for c in cells)
    click.echo(f"{'cell':<{width}}  runs  {name} mean [95 % CI]        IQM      train s")
    for c in cells:
        click.echo(f"{c['cell']:<{width}}  {c['runs']:>4}  {c['final_mean']:>10.4g} [{c['final_ci_low']:.4g}, "
                   f"{c['final_ci_high']:.4g}]  {c['final_iqm']:>8.4g}  {c['train_seconds_mean']:>7.2f}")
    click.echo(f"{result['runs']} of {result['planned']} runs finished; wrote {', '.join(result['files'])}")
