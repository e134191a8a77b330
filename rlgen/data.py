"""Data for models trained on a data set: the `data` config section, the splits as uint8 image tensors with int64
labels on the training device, and the one conversion of images to model input.

Images keep their shape, (N, 1, 28, 28) for Fashion-MNIST and MNIST; a model that wants vectors flattens them itself.
No other module writes the images' size: models take `IMAGE_SHAPE` and `NUM_CLASSES` from here, and the class names
of a run's data set from `class_names`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import torch
from pydantic import Field

from rlgen.errors import RlgenError
from rlgen.idx_data import (CLASS_NAMES, DATA_SETS, IMAGE_SHAPE, NUM_CLASSES, load_image_set, locate, training_count,
                             validation_problem)
from rlgen.schema import Strict

__all__ = ["CLASS_NAMES", "IMAGE_SHAPE", "NUM_CLASSES", "DataConfig", "Split", "Splits", "batch_inputs", "binarized",
           "check_data", "class_names", "parse_label", "load_splits", "to_inputs"]


class DataConfig(Strict):
    """Which images a run trains, validates and tests on."""

    name: Literal["fashion_mnist", "mnist"] = "fashion_mnist"
    """The data set: Fashion-MNIST or MNIST (the same format and sizes); it names the classes and the checksums."""
    dir: str | None = None
    """Folder with the data set's four IDX files, used or refused, never replaced; None searches $RLGEN_DATA_DIR, the
    cache ~/.cache/rlgen/<set> and Debian's package, then downloads into the cache."""
    verify: bool = True
    """Check the files against the data set's official checksums. false: train on IDX files of your own (28 × 28
    uint8 images, labels 0-9; the format and sizes are still checked)."""
    validation: int | None = Field(default=None, ge=0, le=10**7)
    """Training images held out (the last ones) as the validation split. None: 1/12 of the training images (5,000 of
    60,000; 417 of data.limit=5000). 0 trains on all of them; the best weights and early stopping then follow the
    training metrics."""
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


def class_names(cfg: DataConfig) -> tuple[str, ...]:
    """The names of the data set's ten classes, in label order."""
    return DATA_SETS[cfg.name].class_names


def check_data(cfg: DataConfig) -> None:
    """What the data section alone makes impossible, before any file is read (for `--check` and before a run
    directory is made): a data.dir without the files, a validation split that does not fit the named set's training
    images under data.limit (a user's own files, data.verify: false, are counted when loaded)."""
    if cfg.dir is not None:
        locate(Path(cfg.dir), DATA_SETS[cfg.name])
    train_images = training_count(DATA_SETS[cfg.name], cfg.limit)
    if cfg.verify and cfg.validation is not None and not cfg.validation < train_images:
        raise RlgenError(validation_problem(cfg.validation, train_images, cfg.limit))


def load_splits(cfg: DataConfig, device: torch.device | str, seed: int = 0) -> Splits:
    data = load_image_set(cfg.dir, cfg.validation, device, limit=cfg.limit, data_set=DATA_SETS[cfg.name],
                          verify=cfg.verify)
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


def parse_label(label: int | str, names: tuple[str, ...] = CLASS_NAMES) -> int:
    """A class from its number (0–9, as int or text) or its name in `names`, in any case ("Bag", "t-shirt/top",
    "Ankle boot")."""
    text = str(label).strip()
    if text.lstrip("-").isdigit() and len(text) < 6:
        number = int(text)
        if 0 <= number < NUM_CLASSES:
            return number
    else:
        squeezed = "".join(ch for ch in text.lower() if ch.isalnum())
        for number, name in enumerate(names):
            if squeezed and squeezed in ("".join(ch for ch in name.lower() if ch.isalnum()),
                                         *("".join(ch for ch in part.lower() if ch.isalnum())
                                           for part in name.split("/"))):
                return number
    shown = str(label) if len(str(label)) <= 40 else str(label)[:40] + "…"
    if all(name == str(i) for i, name in enumerate(names)):  # the classes are digits (MNIST)
        raise RlgenError(f"unknown label {shown!r}: use a class number 0 to {len(names) - 1}")
    listed = ", ".join(f"{i} {name}" for i, name in enumerate(names))
    raise RlgenError(f"unknown label {shown!r}: use a class number or name ({listed})")
