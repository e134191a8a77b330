"""The autoencoder base: encode, decode to logits, optional input corruption, and named losses."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


@dataclass
class AutoencoderOutput:
    loss: torch.Tensor  # total loss the optimizer minimises (scalar)
    recon_loss: torch.Tensor  # reconstruction term (scalar, batch mean)
    reg_loss: torch.Tensor  # regularisation term: the VAE's β·KL, 0 for the others (l1/l2 live in the optimizer)
    recon_logits: torch.Tensor  # (B, 784) decoder output before the sigmoid
    z: torch.Tensor  # (B, latent) the coding that was decoded


class Autoencoder(nn.Module):
    """Subclasses define `encode`, `decoder` and `loss_terms`; corruption is the identity unless overridden."""

    generative = False  # True when decoding z ~ N(0, I) gives samples (the VAE)
    pretrain_epochs = 0  # epochs per layer of greedy layer-wise pretraining (stacked models can set it)
    decoder: nn.Module

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """The deterministic coding of x (the mean for the VAE): (B, 784) → (B, latent)."""
        raise NotImplementedError

    def decode_logits(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(z)

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """Images in [0, 1] from images in [0, 1], no corruption and no sampling."""
        return torch.sigmoid(self.decode_logits(self.encode(x)))

    def corrupt(self, x: torch.Tensor) -> torch.Tensor:
        return x

    def forward(self, x: torch.Tensor, x_in: torch.Tensor | None = None) -> AutoencoderOutput:
        """x: clean images in [0, 1], (B, 784). x_in: what to encode; by default corrupt(x) in training mode and x
        in evaluation mode. The reconstruction is always compared with the clean x."""
        if x_in is None:
            x_in = self.corrupt(x) if self.training else x
        return self.loss_terms(x, x_in)

    def loss_terms(self, x: torch.Tensor, x_in: torch.Tensor) -> AutoencoderOutput:
        raise NotImplementedError
