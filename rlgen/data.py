"""Data for models trained on a data set: the `data` config section, the splits as uint8 image tensors with int64
labels on the training device, and the one conversion of images to model input.

Images keep their shape, (N, 1, 28, 28) for Fashion-MNIST; a model that wants vectors flattens them itself. No other
module writes the images' size: models take `IMAGE_SHAPE` and `NUM_CLASSES` from here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from pydantic import Field

from rlgen.errors import RlgenError
from rlgen.fashion_mnist import CLASS_NAMES, IMAGE_SHAPE, load_fashion_mnist
from rlgen.schema import Strict

NUM_CLASSES = len(CLASS_NAMES)
__all__ = ["CLASS_NAMES", "IMAGE_SHAPE", "NUM_CLASSES", "DataConfig", "Split", "Splits", "load_splits", "to_inputs"]


class DataConfig(Strict):
    """Which Fashion-MNIST images a run trains, validates and tests on."""

    dir: str | None = None
    """Folder with the four Fashion-MNIST files; None searches $RLGEN_DATA_DIR, the cache and Debian's package."""
    validation: int = Field(default=5000, ge=0, le=10**7)
    """Training images held out (the last ones) as the validation split. 0 trains on all of them; the best weights
    and early stopping then follow the training metrics."""
    limit: int | None = Field(default=None, ge=2, le=10**9)
    """Keep only the first `limit` training and test images (quick experiments and tests)."""
    train_subset: int | None = Field(default=None, ge=1, le=10**9)
    """Train on a random subset of this many of the remaining training images, drawn with the run's seed (studies
    of few labels); validation and test splits are unchanged. None: all of them."""


@dataclass
class Split:
    x: torch.Tensor  # (N, 1, 28, 28) uint8 images, or float features computed from them
    y: torch.Tensor  # (N,) int64 class labels

    def __len__(self) -> int:
        return len(self.x)


@dataclass
class Splits:
    train: Split
    val: Split
    test: Split
    source: Path


def load_splits(cfg: DataConfig, device: torch.device | str, seed: int = 0) -> Splits:
    data = load_fashion_mnist(cfg.dir, cfg.validation, device, limit=cfg.limit)
    train = Split(data.train_x, data.train_y)
    if cfg.train_subset is not None:
        if cfg.train_subset > len(train):
            raise RlgenError(f"data.train_subset {cfg.train_subset} is more than the {len(train)} training images")
        pick = torch.randperm(len(train), generator=torch.Generator().manual_seed(seed))[: cfg.train_subset]
        pick = pick.to(train.x.device)
        train = Split(train.x[pick], train.y[pick])
    return Splits(train, Split(data.val_x, data.val_y), Split(data.test_x, data.test_y), data.source)


def to_inputs(batch: torch.Tensor) -> torch.Tensor:
    """Model input from stored data: uint8 pixels become floats in [0, 1]; float features pass as they are."""
    if batch.dtype == torch.uint8:
        return batch.float().div_(255.0)
    return batch
