"""Typed config of a classifier run."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from rlgen.data import DataConfig
from rlgen.epochs import EpochTrainConfig
from rlgen.layers import NetConfig
from rlgen.optim import OptimizerConfig
from rlgen.schema import RunBase, Strict


class PretrainedConfig(Strict):
    """Lower layers taken from another trained run (an autoencoder's encoder, say), below this config's layers."""

    run: str
    """Run directory of a trained autoencoder or classifier."""
    module: str = "encoder"
    """Which part of that run's model: a module path in its weights (encoder, trunk, encoder.1, lower, body…)."""
    freeze: bool = True
    """Keep the pretrained layers fixed (in evaluation mode: dropout off, batch norm on its running statistics)."""
    cache: bool = True
    """With frozen layers: compute their outputs for the training and validation images once, so that each epoch
    runs only the layers above them."""
    lr_scale: float = Field(default=1.0, gt=0.0, le=1e3)
    """Fine-tuning (freeze false): the pretrained layers' learning rate relative to the others'."""


class ClassifierRunConfig(RunBase):
    """A classifier of Fashion-MNIST images: the layers of `model`, then a dense layer to the 10 class logits
    (softmax cross-entropy loss)."""

    algo: Literal["classifier"]
    data: DataConfig = Field(default_factory=DataConfig)
    model: NetConfig = Field(default_factory=lambda: NetConfig(layers=[{"type": "flatten"}]))
    """Layers between the input (or the pretrained layers' output) and the output layer."""
    pretrained: PretrainedConfig | None = None
    optimizer: OptimizerConfig = Field(default_factory=OptimizerConfig)
    train: EpochTrainConfig = Field(default_factory=lambda: EpochTrainConfig(batch_size=32))


    @model_validator(mode="after")
    def _no_cache_of_fresh_draws(self) -> "ClassifierRunConfig":
        p = self.pretrained
        if self.data.binarize is not None and p is not None and p.freeze and p.cache:
            raise ValueError("data.binarize draws new training images every batch, so the frozen layers' outputs "
                             "cannot be cached: set pretrained.cache false")
        return self
