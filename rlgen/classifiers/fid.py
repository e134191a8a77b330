"""A Fréchet distance between sets of images, on features of one of rlgen's own Fashion-MNIST classifiers.

FID (Heusel et al., 2017) compares the Gaussians fitted to two sets of feature vectors:
    d² = ‖μ₁ − μ₂‖² + Tr(Σ₁ + Σ₂ − 2·(Σ₁Σ₂)^½).
Inception-v3 features (the usual choice) are neither available offline nor made for 28×28 greyscale clothes, so
the features here are the input of a trained classifier's output layer. Distances are comparable only between
images scored with the same classifier: the report names it, with a digest of its weights.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import torch

from rlgen.classifiers.model import Classifier
from rlgen.data import NUM_CLASSES, to_inputs
from rlgen.errors import RlgenError
from rlgen.registry import open_run


def gaussian_stats(features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and (unbiased) covariance of (N, d) feature vectors, in float64."""
    f = features.double()
    return f.mean(0), torch.cov(f.T)


def _sqrtm_psd(matrix: torch.Tensor) -> torch.Tensor:
    values, vectors = torch.linalg.eigh(matrix)
    return (vectors * values.clamp(min=0).sqrt()) @ vectors.T


def frechet_distance(mean1: torch.Tensor, cov1: torch.Tensor, mean2: torch.Tensor, cov2: torch.Tensor) -> float:
    """d² between N(mean1, cov1) and N(mean2, cov2). Tr((Σ₁Σ₂)^½) is computed as Tr((A Σ₂ A)^½) with A = Σ₁^½, whose
    argument is symmetric positive semi-definite (the same eigenvalues as Σ₁Σ₂)."""
    root = _sqrtm_psd(cov1.double())
    middle = root @ cov2.double() @ root
    cross = torch.linalg.eigvalsh((middle + middle.T) / 2).clamp(min=0).sqrt().sum()
    value = (mean1 - mean2).double().square().sum() + torch.trace(cov1.double()) + torch.trace(cov2.double()) - 2 * cross
    return float(value.clamp(min=0))


@dataclass
class FeatureExtractor:
    """The penultimate layer of a trained classifier run: what its output layer sees."""

    model: Classifier
    name: str  # names the classifier, so that numbers from different ones are never mixed

    @torch.no_grad()
    def features(self, images: torch.Tensor, batch_size: int = 1000) -> torch.Tensor:
        """(N, C, H, W) images in [0, 1] (or uint8) → (N, d) float32 features on the CPU."""
        return torch.cat([self.model.body(self.model.features(to_inputs(images[i : i + batch_size]))).float().cpu()
                          for i in range(0, len(images), batch_size)])

    @torch.no_grad()
    def predict(self, images: torch.Tensor, batch_size: int = 1000) -> torch.Tensor:
        return torch.cat([self.model(to_inputs(images[i : i + batch_size])).argmax(-1).cpu()
                          for i in range(0, len(images), batch_size)])


def load_extractor(path: Path, device: torch.device) -> tuple[FeatureExtractor, float]:
    """The feature extractor of a classifier run, and that classifier's own test accuracy."""
    run, cfg, kind = open_run(path)
    if kind.name != "classifier":
        raise RlgenError(f"--fid needs a classifier run for its features; {path} is a {cfg.algo} run (kind {kind.name})")
    model = kind.load_model(run, cfg, device)
    digest = hashlib.sha256((run.path / "model.safetensors").read_bytes()).hexdigest()[:12]
    test = kind.test_split(cfg, device)
    extractor = FeatureExtractor(model, "")
    accuracy = (extractor.predict(test.x) == test.y.cpu()).float().mean().item()
    width = extractor.features(test.x[:2]).shape[1]
    extractor.name = (f"{run.path} ({width}-d input of the output layer; test accuracy {accuracy:.4f}; "
                      f"model.safetensors sha256 {digest})")
    return extractor, accuracy


def fid_report(extractor: FeatureExtractor, generated: torch.Tensor, test: torch.Tensor, train: torch.Tensor,
               asked: torch.Tensor | None = None) -> dict[str, object]:
    """FID of generated images against the test images, and of the training images against them (the floor a
    perfect model would reach with this many images); with `asked` (the class each image was generated as) the
    fraction the classifier assigns to that class, overall and per class."""
    test_stats = gaussian_stats(extractor.features(test))
    report: dict[str, object] = {
        "fid": frechet_distance(*gaussian_stats(extractor.features(generated)), *test_stats),
        "fid_floor_train_vs_test": frechet_distance(*gaussian_stats(extractor.features(train)), *test_stats),
        "fid_generated_images": len(generated),
        "fid_test_images": len(test),
        "fid_features": extractor.name,
    }
    if asked is not None:
        hit = (extractor.predict(generated) == asked.cpu()).float()
        report["label_accuracy"] = hit.mean().item()
        report["label_accuracy_per_class"] = {str(k): hit[asked.cpu() == k].mean().item() for k in range(NUM_CLASSES)
                                              if (asked == k).any()}
    return report
