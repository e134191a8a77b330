"""Stacked (deep, symmetric) autoencoders and their denoising variant (Vincent et al., 2008).

Géron's textbook model is 784-300-150-300-784 with ELU, He init and an l2 penalty; the coding layer keeps the
activation. The decoder ends in logits: the sigmoid gives pixels in [0, 1].
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from rlgen.autoencoders.base import Autoencoder, AutoencoderOutput
from rlgen.autoencoders.config import AutoencoderNetConfig, DenoisingConfig, StackedConfig
from rlgen.autoencoders.nets import build_decoder, build_encoder
from rlgen.epochs import Losses, Phase
from rlgen.nets import build_mlp


def pixel_loss(kind: str, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean per pixel and image: squared error of sigmoid(logits), or binary cross-entropy of the logits."""
    logits = logits.float()  # the loss is float32 even when the network ran under bf16 autocast
    if kind == "mse":
        return F.mse_loss(torch.sigmoid(logits), target)
    return F.binary_cross_entropy_with_logits(logits, target)


class StackedAutoencoder(Autoencoder):
    def __init__(self, net: AutoencoderNetConfig, cfg: StackedConfig, image_shape: tuple[int, ...]):
        super().__init__(image_shape)
        self.cfg = cfg
        # an MLP's encoder[0] flattens the images and encoder[1:] are its layers, one block per linear layer
        self.encoder = build_encoder(net, image_shape, net.latent, output_activation=net.activation)
        if cfg.tied:  # MLPs only (the config refuses tied convolutions)
            self.decoder = build_mlp(net.mlp(net.hidden[::-1]), net.latent, self.pixels, tie_to=self.encoder)
        else:
            self.decoder = build_decoder(net, image_shape, net.latent)

    def encode(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.encoder(x)

    def loss_terms(self, x: torch.Tensor, x_in: torch.Tensor, y: torch.Tensor | None = None) -> AutoencoderOutput:
        z = self.encoder(x_in)
        logits = self.decoder(z)
        recon = pixel_loss(self.cfg.loss, logits, x.flatten(1))
        return AutoencoderOutput(recon, recon, torch.zeros((), device=x.device), logits, z)

    # -- greedy layer-wise pretraining (Hinton & Salakhutdinov, 2006; Bengio et al., 2007) ----------------------------
    def layer_pair(self, k: int) -> nn.ModuleList:
        """Encoder layer k and the decoder layer that mirrors it: the shallow autoencoder of phase k."""
        return nn.ModuleList([self.encoder[1 + k], self.decoder[len(self.decoder) - 1 - k]])

    def layer_loss(self, k: int):
        """Loss of phase k: reconstruct the output of the k frozen outer layers (the pixels when k = 0)."""
        encoder_block, decoder_block = self.layer_pair(k)

        def loss(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
            if k == 0:
                x_in = self.corrupt(x) if self.training else x
                return pixel_loss(self.cfg.loss, decoder_block(encoder_block(x_in.flatten(1))), x.flatten(1))
            with torch.no_grad():
                target = self.encoder[: 1 + k](x)
            return F.mse_loss(decoder_block(encoder_block(target)).float(), target.float())

        return loss

    def pretraining(self) -> list[Phase]:
        """One shallow autoencoder per layer, outermost first, each on the codings of the layers before it."""
        layers = len(self.encoder) - 1
        return [Phase(f"pretraining layer {k + 1}/{layers}", self.layer_pair(k), self.layer_loss(k),
                      self.cfg.layerwise_epochs) for k in range(layers) if self.cfg.layerwise_epochs]


class DenoisingAutoencoder(StackedAutoencoder):
    """A stacked autoencoder trained to undo corruption; the corruption is applied in training mode only, and to
    validation batches, whose score is the training objective on held-out images."""

    cfg: DenoisingConfig

    def corrupt(self, x: torch.Tensor) -> torch.Tensor:
        if self.cfg.noise == "gaussian":
            return x + self.cfg.noise_std * torch.randn_like(x)
        keep = torch.rand_like(x) >= self.cfg.dropout_rate  # masking noise: dropped pixels become 0, no rescaling
        return x * keep

    def validation_losses(self, x: torch.Tensor, y: torch.Tensor) -> Losses:
        return self(x, x_in=self.corrupt(x), y=y).losses()
