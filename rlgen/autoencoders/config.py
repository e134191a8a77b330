"""Typed configs of autoencoder runs: shared sections, then one run config per model."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from rlgen.data import DataConfig
from rlgen.epochs import EpochTrainConfig
from rlgen.nets import Activation, Init, MLPConfig
from rlgen.optim import OptimizerConfig
from rlgen.schema import RunBase, Strict, Width, Widths


class AutoencoderNetConfig(Strict):
    """Encoder pixels → hidden… → latent; the decoder mirrors it (latent → reversed hidden… → pixel logits)."""

    hidden: Widths = Field(default_factory=lambda: [300])
    """Hidden layer sizes of the encoder, outermost first."""
    latent: Width = 150
    """Size of the coding (stacked, denoising) or of the latent Gaussian (VAE)."""
    activation: Activation = "elu"
    init: Init = "he_normal"
    batch_norm: bool = False
    dropout: float = Field(default=0.0, ge=0.0, lt=1.0)

    def mlp(self, hidden: list[int], output_activation: Activation = "identity") -> MLPConfig:
        return MLPConfig(
            hidden=hidden,
            activation=self.activation,
            init=self.init,
            batch_norm=self.batch_norm,
            dropout=self.dropout,
            output_activation=output_activation,
        )


class StackedConfig(Strict):
    tied: bool = False
    """Decoder layers use the transposed encoder weights (with their own biases)."""
    loss: Literal["mse", "bce"] = "mse"
    """Reconstruction loss per pixel: squared error of sigmoid outputs, or binary cross-entropy of the logits."""
    layerwise_epochs: int = Field(default=0, ge=0, le=100_000)
    """Greedy layer-wise pretraining: train one shallow autoencoder per layer for this many epochs each, stack them,
    then fine-tune for train.epochs (0: train the whole stack from the start)."""


class DenoisingConfig(StackedConfig):
    noise: Literal["gaussian", "dropout"] = "gaussian"
    """Corruption during training: add N(0, noise_std²) to each pixel, or zero each pixel with prob. dropout_rate."""
    noise_std: float = Field(default=0.3, gt=0, le=1e3)
    dropout_rate: float = Field(default=0.3, gt=0, lt=1)


class VAEConfig(Strict):
    beta: float = Field(default=1.0, ge=0.0, le=1e3)
    """Weight of the KL term (Higgins et al., 2017); 1 is the ELBO."""
    nll_samples: int = Field(default=100, ge=1, le=10**6)
    """Importance samples per test image for the negative log-likelihood estimate (Burda et al., 2016)."""


class AERunConfig(RunBase):
    data: DataConfig = Field(default_factory=DataConfig)
    model: AutoencoderNetConfig = Field(default_factory=AutoencoderNetConfig)
    optimizer: OptimizerConfig = Field(default_factory=OptimizerConfig)
    train: EpochTrainConfig = Field(default_factory=EpochTrainConfig)


class StackedRunConfig(AERunConfig):
    algo: Literal["stacked_ae"]
    stacked: StackedConfig = Field(default_factory=StackedConfig)


class DenoisingRunConfig(AERunConfig):
    algo: Literal["denoising_ae"]
    denoising: DenoisingConfig = Field(default_factory=DenoisingConfig)


class VAERunConfig(AERunConfig):
    algo: Literal["vae"]
    vae: VAEConfig = Field(default_factory=VAEConfig)

    @model_validator(mode="after")
    def _needs_a_hidden_layer(self) -> "VAERunConfig":
        if not self.model.hidden:
            raise ValueError("model.hidden needs at least one layer for the VAE's mean and log-variance heads")
        return self


AE_CONFIGS: dict[str, type[AERunConfig]] = {
    "stacked_ae": StackedRunConfig,
    "denoising_ae": DenoisingRunConfig,
    "vae": VAERunConfig,
}
