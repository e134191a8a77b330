"""Training curves of any run (agent, autoencoder, classifier) from its metrics.csv, as a PNG (matplotlib)."""

from __future__ import annotations

import math
from pathlib import Path

from rlgen.atomic import atomic_output
from rlgen.errors import RlgenError
from rlgen.runstate import RunMeta

# (panel title, y label, [(metrics key, legend label)]); a panel is drawn when any of its keys has data.
PANELS = [
    ("Return", "return", [("rollout/ep_return_mean", "training episodes"), ("eval/return_mean", "greedy evaluation")]),
    ("Loss", "loss", [("train/loss", "train"), ("val/loss", "validation")]),
    ("Accuracy", "accuracy", [("train/accuracy", "train"), ("val/accuracy", "validation")]),
    ("Forecast", "MSE of the forecast", [("train/mse", "train"), ("val/mse", "validation")]),
    ("Reconstruction", "reconstruction loss", [("train/recon_loss", "train"), ("val/recon_loss", "validation")]),
    ("Regularisation", "β·KL", [("train/reg_loss", "train"), ("val/reg_loss", "validation")]),
    ("Policy", "", [("train/policy_loss", "policy loss"), ("train/value_loss", "value loss"), ("train/entropy", "entropy")]),
    ("Speed", "per second", [("time/steps_per_s", "env steps"), ("time/samples_per_s", "samples")]),
]


STYLES = ["-", "--", ":"]  # a panel's series, told apart by line style when several runs share the colours


def plot_curves(rows: list[dict[str, float]], meta: RunMeta, out: Path, title: str) -> int:
    """Write the curves of a run's metrics rows to `out` (checked by the caller); returns the number of panels."""
    return plot_runs([(None, rows)], meta.unit or "step", out, title)


def plot_runs(runs: list[tuple[str | None, list[dict[str, float]]]], x_label: str, out: Path, title: str) -> int:
    """The curves of one or several runs (label, metrics rows) in one figure, the same panels as for one run: each
    run its colour, each of a panel's series its line style. Returns the number of panels."""
    panels = []
    for name, y_label, series in PANELS:
        drawn = [(key, label) for key, label in series if any(key in row for _, rows in runs for row in rows)]
        zero = all(row.get(k, 0) == 0 for _, rows in runs for row in rows for k, _ in drawn)
        if drawn and not (name == "Regularisation" and zero):
            panels.append((name, y_label, drawn))
    if not panels:
        raise RlgenError("metrics.csv has no metrics to plot")

    import matplotlib

    matplotlib.use("Agg")  # no display needed
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    cols = min(3, len(panels))
    fig, axes = plt.subplots(math.ceil(len(panels) / cols), cols, figsize=(5 * cols, 3.6 * math.ceil(len(panels) / cols)),
                             squeeze=False)
    colours = plt.get_cmap("tab10")
    for ax, (name, y_label, series) in zip(axes.flat, panels):
        for r, (run_label, rows) in enumerate(runs):
            for s, (key, label) in enumerate(series):
                points = [(row["step"], row[key]) for row in rows if key in row and not math.isnan(row[key])]
                if not points:
                    continue
                legend = label if run_label is None else (run_label if len(series) == 1 else f"{run_label}: {label}")
                style = dict(color=colours(r % 10), linestyle=STYLES[s % len(STYLES)]) if len(runs) > 1 else {}
                ax.plot([p[0] for p in points], [p[1] for p in points], marker="o" if len(points) < 30 else None,
                        markersize=3, label=legend, **style)
        ax.set_title(name)
        # at most ~6 ticks (five-digit step counts ran into each other), whole numbers for epochs
        ax.xaxis.set_major_locator(MaxNLocator(nbins=5, integer=x_label == "epochs"))
        epochs = sorted({row["step"] for _, rows in runs for row in rows})
        if x_label == "epochs" and len(epochs) <= 5:  # the locator still finds 0.95 … 1.05 for a single epoch
            ax.set_xticks(epochs)
        ax.set_xlabel(x_label)
        ax.set_ylabel(y_label)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8 if len(runs) < 4 else 6)
    for ax in list(axes.flat)[len(panels):]:
        ax.axis("off")
    fig.suptitle(title)
    fig.tight_layout()
    with atomic_output(out) as tmp:
        fig.savefig(tmp, dpi=100, format="png")
    plt.close(fig)
    return len(panels)
