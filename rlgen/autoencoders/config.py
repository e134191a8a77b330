"""Typed configs of autoencoder runs: shared sections, then one run config per model."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from rlgen.autoencoders.likelihoods import LABELS, Likelihood
from rlgen.data import NUM_CLASSES, DataConfig
from rlgen.epochs import EpochTrainConfig
from rlgen.idx_data import DATA_SETS
from rlgen.nets import Activation, Init, MLPConfig
from rlgen.optim import OptimizerConfig
from rlgen.schema import RunBase, Strict, Width, Widths


class AutoencoderNetConfig(Strict):
    """Encoder pixels [→ convolutions] → hidden… → latent; the decoder mirrors it (latent → reversed hidden…
    [→ transposed convolutions] → pixel logits). See rlgen.autoencoders.nets."""

    conv: Annotated[list[Width], Field(max_length=4)] = Field(default_factory=list)
    """Channels of the encoder's strided convolutions (each halves height and width: [32, 64] gives 28 → 14 → 7);
    the decoder mirrors them with transposed convolutions. []: an MLP on the pixel vector."""
    conv_kernel: int = Field(default=4, ge=2, le=5)
    """Kernel size of every (transposed) convolution; stride 2, padding 1."""
    decoder_refine: int = Field(default=0, ge=0, le=1024)
    """Conv decoders: the last transposed convolution gives this many channels at full resolution, and a 3×3
    stride-1 convolution turns them into the pixel logits (finer detail than one transposed convolution can draw;
    0: none)."""

    hidden: Widths = Field(default_factory=lambda: [300])
    """Hidden layer sizes of the encoder, outermost first."""
    latent: Width = 150
    """Size of the coding (stacked, denoising) or of the latent Gaussian (VAE)."""
    activation: Activation = "elu"
    init: Init = "he_normal"
    batch_norm: bool = False
    dropout: float = Field(default=0.0, ge=0.0, lt=1.0)

    @model_validator(mode="after")
    def _refine_needs_conv(self) -> "AutoencoderNetConfig":
        if self.decoder_refine and not self.conv:
            raise ValueError("model.decoder_refine needs a convolutional decoder (model.conv not empty)")
        return self

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
    then fine-tune for train.epochs (0: train the whole stack from the start). MLP autoencoders only."""


class DenoisingConfig(StackedConfig):
    noise: Literal["gaussian", "dropout"] = "gaussian"
    """Corruption during training: add N(0, noise_std²) to each pixel, or zero each pixel with prob. dropout_rate."""
    noise_std: float = Field(default=0.3, gt=0, le=1e3)
    dropout_rate: float = Field(default=0.3, gt=0, lt=1)


class VAEConfig(Strict):
    beta: float = Field(default=1.0, ge=0.0, le=1e3)
    """Weight of the KL term (Higgins et al., 2017); 1 is the ELBO."""
    likelihood: Likelihood = "bernoulli"
    """p(x|z) per pixel: "bernoulli" (binary cross-entropy; a likelihood only on binary data, see data.binarize)
    or "continuous_bernoulli" (a proper density on grey levels in [0, 1]); see rlgen.autoencoders.likelihoods."""
    conditional: bool = False
    """Class-conditional VAE: the label enters encoder and decoder, so that samples can be asked for by class."""
    label_every_layer: bool = False
    """Conditional VAE: every layer of the decoder sees the label (a learned scale and shift per class and feature,
    FiLM), not only its input beside z."""
    class_guidance: float = Field(default=0.0, ge=0.0, le=1e4)
    """Conditional VAE: weight λ of a class-consistency term. A guide classifier (the encoder's convolutions, if any,
    and a dense layer of `guide_hidden` units) learns the labels of the real training images alongside, and images decoded
    from z ~ p(z | y) pay λ × its cross-entropy against y (the guide itself is not trained on them). 0: none."""
    guide_hidden: Width = 128
    """Units of the guide classifier's dense layer (with vae.class_guidance)."""
    nll_samples: int = Field(default=1000, ge=1, le=10**6)
    """Importance samples per test image for the negative log-likelihood estimate (Burda et al., 2016)."""
    prior: Literal["standard", "vamp"] = "standard"
    """p(z): "standard" N(0, I), or "vamp", the VampPrior (Tomczak & Welling, 2018): a mixture of the encoder's
    posteriors at learned pseudo-inputs (per class for a conditional VAE); see rlgen.autoencoders.priors."""
    pseudo_inputs: int = Field(default=500, ge=1, le=10_000)
    """The VampPrior's number of pseudo-inputs K (each training step also encodes these K images)."""


class AERunConfig(RunBase):
    data: DataConfig = Field(default_factory=DataConfig)
    model: AutoencoderNetConfig = Field(default_factory=AutoencoderNetConfig)
    optimizer: OptimizerConfig = Field(default_factory=OptimizerConfig)
    train: EpochTrainConfig = Field(default_factory=EpochTrainConfig)

    def describe(self) -> str:
        """What the model is, for figure titles: "conv VAE, Bernoulli, binarised data"."""
        return f"{'conv' if self.model.conv else 'MLP'} {self.algo}"


def _check_conv(cfg: AERunConfig, section: StackedConfig) -> None:
    if cfg.model.conv and section.tied:
        raise ValueError("tied weights need an MLP autoencoder (model.conv empty)")
    if cfg.model.conv and section.layerwise_epochs:
        raise ValueError("layer-wise pretraining needs an MLP autoencoder (model.conv empty)")


class StackedRunConfig(AERunConfig):
    algo: Literal["stacked_ae"]
    stacked: StackedConfig = Field(default_factory=StackedConfig)

    @model_validator(mode="after")
    def _conv_limits(self) -> "StackedRunConfig":
        _check_conv(self, self.stacked)
        return self


class DenoisingRunConfig(AERunConfig):
    algo: Literal["denoising_ae"]
    denoising: DenoisingConfig = Field(default_factory=DenoisingConfig)

    @model_validator(mode="after")
    def _conv_limits(self) -> "DenoisingRunConfig":
        _check_conv(self, self.denoising)
        return self


class VAERunConfig(AERunConfig):
    algo: Literal["vae"]
    vae: VAEConfig = Field(default_factory=VAEConfig)

    @model_validator(mode="after")
    def _needs_a_hidden_layer(self) -> "VAERunConfig":
        if not self.model.hidden:
            raise ValueError("model.hidden needs at least one layer for the VAE's mean and log-variance heads")
        if self.vae.likelihood == "continuous_bernoulli" and self.data.binarize is not None:
            raise ValueError("vae.likelihood continuous_bernoulli is a density on grey levels in [0, 1]; binarised "
                             "data (data.binarize) needs the bernoulli likelihood")
        for option in ("label_every_layer", "class_guidance"):
            if getattr(self.vae, option) and not self.vae.conditional:
                raise ValueError(f"vae.{option} needs a conditional VAE (vae.conditional: true)")
        if self.vae.prior == "vamp" and self.vae.conditional and self.vae.pseudo_inputs < NUM_CLASSES:
            raise ValueError(f"vae.pseudo_inputs {self.vae.pseudo_inputs}: a conditional VampPrior needs at least one "
                             f"pseudo-input per class ({NUM_CLASSES})")
        return self

    def describe(self) -> str:
        kind = f"{'conditional ' if self.vae.conditional else ''}{'conv' if self.model.conv else 'MLP'} VAE"
        if self.vae.prior == "vamp":
            kind += f" (VampPrior, K = {self.vae.pseudo_inputs})"
        if self.vae.class_guidance:
            kind += f", class guidance {self.vae.class_guidance:g}"
        data = "binarised" if self.data.binarize else "grey-level"
        return f"{kind}, {LABELS[self.vae.likelihood]} likelihood, {data} {DATA_SETS[self.data.name].title}"


AE_CONFIGS: dict[str, type[AERunConfig]] = {
    "stacked_ae": StackedRunConfig,
    "denoising_ae": DenoisingRunConfig,
    "vae": VAERunConfig,
}
