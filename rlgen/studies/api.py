"""Studies from Python: `rlgen.sweep(...)` and `rlgen.tune(...)`, what `rlgen sweep` and `rlgen tune` call."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rlgen.errors import RlgenError
from rlgen.shipped import find_config


def sweep(sweep_file: str | Path, out: str | Path | None = None, *, jobs: int = 1, quiet: bool = False
          ) -> dict[str, Any]:
    """Run (or continue) the sweep a YAML file (or a shipped sweep's name) describes, then write its tables and
    pictures into `out` (default runs/sweeps/<file name>). Returns {"cells": one dict per cell (means, intervals,
    IQM…), "runs", "planned", "files", "failures": one line per failed run}; failed runs do not raise, a bad sweep
    file does (RlgenError)."""
    from rlgen.studies.report import report
    from rlgen.studies.spec import load_spec
    from rlgen.studies.sweep import existing_runs, run_sweep

    if not 1 <= jobs <= 256:
        raise RlgenError(f"jobs {jobs}: give a number from 1 to 256")
    sweep_file = find_config(sweep_file, "sweep")
    spec = load_spec(sweep_file)
    out = Path(out) if out is not None else Path("runs") / "sweeps" / sweep_file.stem
    failures = run_sweep(spec, out, jobs, quiet)
    spec, runs = existing_runs(out)
    return {**report(out, spec, runs), "failures": failures}


def sweep_report(out: str | Path) -> dict[str, Any]:
    """Redraw the tables and pictures of the sweep in `out` from its finished runs."""
    from rlgen.studies.report import report
    from rlgen.studies.sweep import existing_runs

    spec, runs = existing_runs(Path(out))
    return report(Path(out), spec, runs)


def tune(config: str | Path, space: str | Path, *, trials: int = 20, jobs: int = 1, out: str | Path | None = None,
         quiet: bool = False) -> dict[str, Any]:
    """Search CONFIG's settings (a file or a shipped name; `space` too) on Optuna until `trials` trials have
    finished (an earlier study in `out`, default runs/tune/<config name>, is continued). Returns {"best": Optuna's
    best trial, "trials": rows, "complete", "pruned", "files"}; OUT/best.yaml is what `rlgen train CONFIG
    --set-file` takes."""
    from rlgen.studies.tune import tune as run_tune

    if not 1 <= trials <= 100_000 or not 1 <= jobs <= 256:
        raise RlgenError(f"trials {trials}, jobs {jobs}: give 1–100,000 trials and 1–256 jobs")
    config, space = find_config(config), find_config(space, "search space")
    out = Path(out) if out is not None else Path("runs") / "tune" / config.stem
    return run_tune(config, space, out, trials, jobs, quiet)
