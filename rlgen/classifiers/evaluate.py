"""Test-set metrics of a trained classifier: accuracy, loss, per-class accuracy and the confusion matrix."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from rlgen.atomic import atomic_output
from rlgen.classifiers.model import Classifier
from rlgen.data import Split, to_inputs


@torch.no_grad()
def confusion_matrix(model: Classifier, split: Split, num_classes: int, batch_size: int = 1000) -> tuple[torch.Tensor, float]:
    """(C, C) counts, row = true class, column = predicted class; and the mean cross-entropy."""
    model.eval()
    counts = torch.zeros(num_classes * num_classes, dtype=torch.int64, device=split.x.device)
    loss = torch.zeros((), device=split.x.device)
    for start in range(0, len(split), batch_size):
        x, y = to_inputs(split.x[start : start + batch_size]), split.y[start : start + batch_size]
        logits = model.logits(x).float()
        loss += F.cross_entropy(logits, y, reduction="sum")
        counts += torch.bincount(y * num_classes + logits.argmax(-1), minlength=num_classes * num_classes)
    return counts.view(num_classes, num_classes).cpu(), float(loss) / len(split)


def report_from(counts: torch.Tensor, loss: float, class_names: tuple[str, ...]) -> dict:
    correct = counts.diag()
    per_class = correct.double() / counts.sum(1).clamp(min=1).double()
    return {
        "images": int(counts.sum()),
        "test_accuracy": float(correct.sum()) / max(int(counts.sum()), 1),
        "test_loss": loss,
        "per_class_accuracy": {name: float(a) for name, a in zip(class_names, per_class)},
        "confusion_matrix": counts.tolist(),
    }


def plot_confusion(counts: torch.Tensor, class_names: tuple[str, ...], title: str, out: Path) -> None:
    """The confusion matrix as a PNG: each row (true class) normalised to fractions, counts written in the cells."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fractions = (counts.double() / counts.sum(1, keepdim=True).clamp(min=1)).numpy()
    fig, ax = plt.subplots(figsize=(8.5, 7.5))
    image = ax.imshow(fractions, cmap="Blues", vmin=0, vmax=1)
    n = len(class_names)
    ax.set_xticks(np.arange(n), class_names, rotation=45, ha="right")
    ax.set_yticks(np.arange(n), class_names)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    for i in range(n):
        for j in range(n):
            ax.text(j, i, int(counts[i, j]), ha="center", va="center", fontsize=7,
                    color="white" if fractions[i, j] > 0.5 else "black")
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="fraction of the true class")
    accuracy = float(counts.diag().sum()) / max(int(counts.sum()), 1)
    ax.set_title(f"{title}: test accuracy {accuracy:.2%}")
    fig.tight_layout()
    with atomic_output(out) as tmp:
        fig.savefig(tmp, dpi=100, format="png")
    plt.close(fig)
