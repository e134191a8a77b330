"""Pictures of forecasts: a few series, their inputs, the values that followed and each forecaster's forecast."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from rlgen.atomic import atomic_output

Forecasts = dict[str, torch.Tensor]  # label → (n, horizon) forecasts of the same n series


def plot_forecasts(rows: list[tuple[str, torch.Tensor, torch.Tensor, Forecasts]], out: Path, title: str) -> None:
    """One row of panels per (row title, inputs (n, steps), truth (n, horizon), forecasts): panel j shows series j's
    input, the truth after it and every forecast, markers on the forecast steps."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    columns = max(len(inputs) for _, inputs, _, _ in rows)
    fig, axes = plt.subplots(len(rows), columns, figsize=(4.2 * columns, 3.3 * len(rows)), squeeze=False,
                             sharey=True)
    colors = plt.cm.tab10(np.arange(10))
    for r, (row_title, inputs, truth, forecasts) in enumerate(rows):
        steps, horizon = inputs.shape[1], truth.shape[1]
        after = np.arange(steps, steps + horizon)
        for j in range(columns):
            ax = axes[r][j]
            if j >= len(inputs):
                ax.axis("off")
                continue
            ax.plot(np.arange(steps), inputs[j].cpu().numpy(), ".-", color="0.35", markersize=3, label="input")
            ax.plot(after, truth[j].cpu().numpy(), "o-", color="black", markersize=4, label="truth")
            for k, (label, values) in enumerate(forecasts.items()):
                ax.plot(after, values[j].cpu().numpy(), "x-", color=colors[k % 10], markersize=5, label=label)
            ax.set_xlim(0, steps + horizon)
            ax.grid(alpha=0.3)
            ax.set_xlabel("step")
            if j == 0:
                ax.set_ylabel("x(t)")
            ax.set_title(f"{row_title}: series {j}", fontsize=9)
        axes[r][0].legend(fontsize=7, loc="lower left")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    with atomic_output(out) as tmp:
        fig.savefig(tmp, dpi=100, format="png")
    plt.close(fig)
