"""A sweep's results: OUT/runs.csv (one row per run), OUT/cells.csv (per cell: mean, std, 95 % bootstrap intervals
and the interquartile mean of the final metric, the best monitored value, the run length and the seconds), and two
pictures: OUT/curves.png (each cell's learning curve, the mean over seeds with a 95 % bootstrap band) and
OUT/final.png (the final metric, the run length when it varies, and the training seconds against the first swept
setting, one line per combination of the others)."""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path
from typing import Any

import numpy as np

from rlgen.atomic import atomic_output, atomic_write_text
from rlgen.errors import RlgenError
from rlgen.metrics import read_metrics
from rlgen.studies.spec import SweepSpec, short_value
from rlgen.studies.stats import BOOTSTRAP_SEED, describe
from rlgen.studies.sweep import PlannedRun, StudyDir, run_state

STATISTICS = ("final", "best", "progress", "train_seconds", "wall_seconds")
CURVE_POINTS = 100
CURVE_RESAMPLES = 1000


def run_row(run: PlannedRun, metric: str | None, wall: dict[str, float]) -> dict[str, Any]:
    """One finished run's results."""
    from rlgen import api

    handle = api.load(run.path)
    state, meta = handle.run.state(), handle.run.meta
    metric = metric or meta.monitor
    rows = handle.metrics()
    values = [row[metric] for row in rows if metric in row and math.isfinite(row[metric])]
    return {"cell": run.cell.label(), "cell_id": run.cell.name,
            **{key: short_value(value) for key, value in run.cell.settings.items()},
            "seed": run.seed, "status": state.status, "metric": metric, "final": values[-1] if values else math.nan,
            "best": state.best_score if metric == meta.monitor and state.best_score is not None else math.nan,
            "progress": state.progress, "unit": meta.unit, "train_seconds": state.train_seconds,
            "wall_seconds": wall.get(run.key, math.nan)}


def curve(run: PlannedRun, metric: str) -> tuple[np.ndarray, np.ndarray]:
    rows = read_metrics(run.path / "metrics.csv")
    points = [(row["step"], row[metric]) for row in rows if metric in row and math.isfinite(row[metric])]
    return np.array([p[0] for p in points], dtype=float), np.array([p[1] for p in points], dtype=float)


def aggregate(rows: list[dict[str, Any]], spec: SweepSpec) -> list[dict[str, Any]]:
    """One entry per cell with runs: counts and each statistic's summary; with a baseline, `baseline` (its cell's
    label) and `final_vs_baseline` (the cell's mean final metric over its baseline cell's)."""
    entries: dict[str, dict[str, Any]] = {}
    for cell in spec.cells():
        mine = [row for row in rows if row["cell_id"] == cell.name]  # (labels of two cells may read alike)
        if not mine:
            continue
        entry: dict[str, Any] = {"cell": cell.label(), **{k: short_value(v) for k, v in cell.settings.items()},
                                 "runs": len(mine), "metric": mine[0]["metric"], "unit": mine[0]["unit"],
                                 "solved": sum(row["status"] == "solved" for row in mine)}
        for name in STATISTICS:
            for stat, value in describe([row[name] for row in mine]).items():
                if stat != "n":
                    entry[f"{name}_{stat}"] = value
        entries[cell.name] = entry
    for cell in spec.cells():
        baseline = spec.baseline_of(cell)
        if baseline is not None and cell.name in entries:
            reference = entries.get(baseline.name, {}).get("final_mean", math.nan)
            entries[cell.name]["baseline"] = baseline.label()
            entries[cell.name]["final_vs_baseline"] = entries[cell.name]["final_mean"] / reference if reference \
                else math.nan
    return list(entries.values())


def write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    columns = list(dict.fromkeys(key for row in rows for key in row))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, columns)
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_text(path, buffer.getvalue())


def report(out: Path, spec: SweepSpec, runs: list[PlannedRun]) -> dict[str, Any]:
    """Write runs.csv, cells.csv, curves.png and final.png into OUT from the finished runs; returns the cell table
    and the paths."""
    wall = StudyDir(out).wall_times()
    finished = [run for run in runs if run_state(run) == "done"]
    rows = [run_row(run, spec.metric, wall) for run in finished]
    if not rows:
        raise RlgenError(f"{out}: no run of this sweep has finished yet; nothing to report")
    cells = aggregate(rows, spec)
    write_csv(Path(out) / "runs.csv", rows)
    write_csv(Path(out) / "cells.csv", cells)
    metric = rows[0]["metric"]
    cells_ = spec.cells()
    unique = len({c.label() for c in cells_}) == len(cells_)  # else the folder names, which always differ
    curves = {(c.label() if unique else c.name): [curve(run, metric) for run in finished if run.cell == c]
              for c in cells_}
    plot_curves({label: c for label, c in curves.items() if c}, metric, rows[0]["unit"], Path(out) / "curves.png",
                title=f"{spec.title()}: {metric} by cell (mean over seeds, 95 % bootstrap band)")
    plot_final(cells, spec, Path(out) / "final.png", title=f"{spec.title()}: {len(rows)} runs")
    files = [str(Path(out) / name) for name in ("runs.csv", "cells.csv", "curves.png", "final.png")]
    extra = kind_figure(out, spec, finished)
    return {"cells": cells, "runs": len(rows), "planned": len(runs), "files": files + ([str(extra)] if extra else [])}


def kind_figure(out: Path, spec: SweepSpec, finished: list[PlannedRun]) -> Path | None:
    """The picture the runs' kind draws of a study (a forecaster's forecasts against the truth), if it has one."""
    from rlgen.registry import open_run

    cells: dict[str, list[tuple[Any, Any]]] = {}
    kind = None
    for run in finished:
        run_dir, cfg, kind = open_run(run.path)
        cells.setdefault(run.cell.label(), []).append((run_dir, cfg))
    return kind.study_figure(cells, Path(out), spec.title()) if kind is not None else None


def mean_band(curves: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The seeds' curves on one grid of steps, each value held until the seed's next one (evaluations fall at other
    steps in each seed) and after its last (a run that stopped because it solved keeps its final score), with
    their mean and a 95 % percentile bootstrap band of the mean."""
    union = np.unique(np.concatenate([steps for steps, _ in curves if len(steps)]))
    grid = union if len(union) <= CURVE_POINTS else np.linspace(union[0], union[-1], CURVE_POINTS)
    table = np.stack([_held(grid, s, v) for s, v in curves if len(s)])  # (seeds, points)
    mean = np.nanmean(table, axis=0)
    if len(table) < 2:
        return grid, mean, mean, mean
    rng = np.random.default_rng(BOOTSTRAP_SEED)
    draws = table[rng.integers(0, len(table), size=(CURVE_RESAMPLES, len(table)))]  # (R, seeds, points)
    with np.errstate(all="ignore"):
        means = np.nanmean(draws, axis=1)
    low, high = np.nanquantile(means, [0.025, 0.975], axis=0)
    return grid, mean, low, high


def _held(grid: np.ndarray, steps: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Each grid point's latest value at or before it (NaN before the first)."""
    index = np.searchsorted(steps, grid, side="right") - 1
    return np.where(index >= 0, values[np.clip(index, 0, None)], np.nan)


def _pyplot():
    import warnings

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    warnings.filterwarnings("ignore", message="Mean of empty slice")
    warnings.filterwarnings("ignore", message="All-NaN slice")
    return plt


def _save(fig, out: Path) -> None:
    with atomic_output(out) as tmp:
        fig.savefig(tmp, dpi=100, format="png")


def plot_curves(curves: dict[str, list[tuple[np.ndarray, np.ndarray]]], metric: str, unit: str, out: Path,
                title: str) -> None:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 5))
    colors = plt.cm.viridis(np.linspace(0, 0.9, max(1, len(curves))))
    epochs = unit == "epochs"  # every seed validates at every epoch: lines through the points, whole-epoch ticks
    for color, (label, runs) in zip(colors, curves.items()):
        grid, mean, low, high = mean_band(runs)
        if epochs:
            ax.plot(grid, mean, color=color, marker="o" if len(grid) < 30 else None, markersize=3,
                    label=f"{label} ({len(runs)})")
            ax.fill_between(grid, low, high, color=color, alpha=0.2, linewidth=0)
        else:  # evaluations fall at other steps in each seed: each value held until the next
            ax.step(grid, mean, where="post", color=color, label=f"{label} ({len(runs)})")
            ax.fill_between(grid, low, high, step="post", color=color, alpha=0.2, linewidth=0)
    if epochs:
        from matplotlib.ticker import MaxNLocator

        ax.xaxis.set_major_locator(MaxNLocator(nbins=6, integer=True))
    ax.set_xlabel(unit or "step")
    ax.set_ylabel(metric)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=2 if len(curves) > 8 else 1)
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    _save(fig, out)
    plt.close(fig)


def _numeric(values: list[Any]) -> bool:
    return all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)


def plot_final(cells: list[dict[str, Any]], spec: SweepSpec, out: Path, title: str) -> None:
    """Panels against the first swept setting (its values in the sweep's order; a log axis for positive numbers
    spanning 100× or more), one line per combination of the other settings, 95 % bootstrap intervals as bars."""
    plt = _pyplot()
    keys = spec.swept_keys()
    axis_key = keys[0] if spec.grid or spec.configs else None
    axis_values = spec.values_of(axis_key) if axis_key else [None]
    panels = [("final", cells[0]["metric"] + " (final)")]
    if len({round(c["progress_mean"], 6) for c in cells}) > 1:
        panels.append(("progress", f"{cells[0]['unit'] or 'steps'} run"))
    panels.append(("train_seconds", "training seconds"))
    numeric = axis_key is not None and _numeric(axis_values)
    log = numeric and min(axis_values) > 0 and max(axis_values) / min(axis_values) >= 100
    fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 4.2), squeeze=False)
    groups: dict[str, list[dict[str, Any]]] = {}
    for cell in cells:
        others = ", ".join(f"{k.rsplit('.', 1)[-1]}={cell[k]}" for k in keys if k != axis_key and k in cell)
        groups.setdefault(others, []).append(cell)
    for ax, (name, label) in zip(axes[0], panels):
        for others, members in groups.items():
            order = {short_value(v): i for i, v in enumerate(axis_values)}
            members = sorted(members, key=lambda c: order.get(c.get(axis_key, ""), 0) if axis_key else 0)
            xs = [axis_values[order[c[axis_key]]] if numeric else order.get(c.get(axis_key, ""), 0) for c in members] \
                if axis_key else list(range(len(members)))
            mean = np.array([c[f"{name}_mean"] for c in members])
            low = np.array([c[f"{name}_ci_low"] for c in members])
            high = np.array([c[f"{name}_ci_high"] for c in members])
            ax.errorbar(xs, mean, yerr=[mean - low, high - mean], marker="o", capsize=3, label=others or None)
        if log:
            ax.set_xscale("log")
        spread = [c[f"{name}_mean"] for c in cells if c[f"{name}_mean"] > 0]
        if spread and len(spread) == len(cells) and max(spread) / min(spread) >= 30:
            ax.set_yscale("log")  # 0.5 s beside 200 s; an MSE of 0.003 beside 0.26
        if axis_key and not numeric:
            ax.set_xticks(range(len(axis_values)), [short_value(v) for v in axis_values], rotation=20)
        elif not axis_key:
            ax.set_xticks(range(len(cells)), [c["cell"] for c in cells], rotation=20, fontsize=7)
        ax.set_xlabel(axis_key or "cell")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        if any(groups):
            ax.legend(fontsize=7)
    fig.suptitle(f"{title} (mean, 95 % bootstrap interval)", fontsize=10)
    fig.tight_layout()
    _save(fig, out)
    plt.close(fig)
