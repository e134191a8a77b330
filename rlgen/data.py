"""Data for models trained on a data set: the `data` config section, the splits as uint8 image tensors with int64
labels on the training device, and the one conversion of images to model input.

Images keep their shape, (N, 1, 28, 28) for Fashion-MNIST; a model that wants vectors flattens them itself. No other
module writes the images' size: models take `IMAGE_SHAPE` and `NUM_CLASSES` from here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import torch
from pydantic import Field

from rlgen.errors import RlgenError
from rlgen.fashion_mnist import CLASS_NAMES, IMAGE_SHAPE, load_fashion_mnist
from rlgen.schema import Strict

NUM_CLASSES = len(CLASS_NAMES)
__all__ = ["CLASS_NAMES", "IMAGE_SHAPE", "NUM_CLASSES", "DataConfig", "Split", "Splits", "batch_inputs", "binarized",
           "parse_label",
           "load_splits", "to_inputs"]


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
    binarize: Literal["dynamic"] | None = None
    """"dynamic": each training batch is a fresh Bernoulli draw of its images (pixel = 1 with the grey level's
    probability), the validation and test images are binarised once with a fixed seed, the same for every run
    (the setting the VAE literature reports likelihoods on). None: grey levels in [0, 1]."""


@dataclass
class Split:
    x: torch.Tensor  # (N, 1, 28, 28) uint8 images, or float features computed from them
    y: torch.Tensor  # (N,) int64 class labels
    binarize: bool = False  # each batch's images are a fresh Bernoulli draw (dynamic binarisation)

    def __len__(self) -> int:
        return len(self.x)


@dataclass
class Splits:
    train: Split
    val: Split
    test: Split
    source: Path | str  # where the data came from (a folder, or how it was generated)


def load_splits(cfg: DataConfig, device: torch.device | str, seed: int = 0) -> Splits:
    data = load_fashion_mnist(cfg.dir, cfg.validation, device, limit=cfg.limit)
    train = Split(data.train_x, data.train_y)
    if cfg.train_subset is not None:
        if cfg.train_subset > len(train):
            raise RlgenError(f"data.train_subset {cfg.train_subset} is more than the {len(train)} training images")
        pick = torch.randperm(len(train), generator=torch.Generator().manual_seed(seed))[: cfg.train_subset]
        pick = pick.to(train.x.device)
        train = Split(train.x[pick], train.y[pick])
    val, test = Split(data.val_x, data.val_y), Split(data.test_x, data.test_y)
    if cfg.binarize == "dynamic":
        train = Split(train.x, train.y, binarize=True)
        val, test = binarized(val, BINARIZE_SEED), binarized(test, BINARIZE_SEED + 1)
    return Splits(train, val, test, data.source)


BINARIZE_SEED = 20_190_000
"""The seed of the held-out splits' one binarisation: fixed, so that every run is tested on the same images."""


def binarized(split: Split, seed: int) -> Split:
    """The split's images drawn once as binary images (0 or 255), with a generator of its own."""
    probs = split.x.float().div(255.0).cpu()
    drawn = torch.bernoulli(probs, generator=torch.Generator().manual_seed(seed))
    return Split(drawn.mul(255).to(torch.uint8).to(split.x.device), split.y)


def batch_inputs(split: Split, batch: torch.Tensor) -> torch.Tensor:
    """A training batch as model input: `to_inputs`, then a fresh binary draw when the split binarises
    dynamically (from torch's global generator, whose state checkpoints keep)."""
    x = to_inputs(batch)
    return torch.bernoulli(x) if split.binarize else x


def to_inputs(batch: torch.Tensor) -> torch.Tensor:
    """Model input from stored data: uint8 pixels become floats in [0, 1]; float features pass as they are."""
    if batch.dtype == torch.uint8:
        return batch.float().div_(255.0)
    return batch


def parse_label(label: int | str) -> int:
    """A class from its number (0–9, as int or text) or its name, in any case ("Bag", "t-shirt/top", "Ankle boot")."""
    text = str(label).strip()
    if text.lstrip("-").isdigit() and len(text) < 6:
        number = int(text)
        if 0 <= number < NUM_CLASSES:
            return number
    else:
        squeezed = "".join(ch for ch in text.lower() if ch.isalnum())
        for number, name in enumerate(CLASS_NAMES):
            if squeezed and squeezed in ("".join(ch for ch in name.lower() if ch.isalnum()),
                                         *("".join(ch for ch in part.lower() if ch.isalnum())
                                           for part in name.split("/"))):
                return number
    shown = str(label) if len(str(label)) <= 40 else str(label)[:40] + "…"
    names = ", ".join(f"{i} {name}" for i, name in enumerate(CLASS_NAMES))
    raise RlgenError(f"unknown label {shown!r}: use a class number or name ({names})")
