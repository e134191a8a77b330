"""The autoencoder base: encode images, decode to pixel logits, optional input corruption, and named losses.

Images come in as (B, C, H, W) in [0, 1]; the decoders give flat pixel logits (B, D) with D = C·H·W, and
`reconstruct`, `decode` and `sample` give images back in the input's shape. Labels `y` (B,) reach every method;
only a conditional model uses them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
from torch import nn

from rlgen.autoencoders.nets import decode_logits
from rlgen.data import NUM_CLASSES
from rlgen.epochs import EpochModel, Losses


@dataclass
class AutoencoderOutput:
    loss: torch.Tensor  # total loss the optimizer minimises (scalar)
    recon_loss: torch.Tensor  # reconstruction term (scalar, batch mean)
    reg_loss: torch.Tensor  # regularisation term: the VAE's β·KL, 0 for the others (l1/l2 live in the optimizer)
    recon_logits: torch.Tensor  # (B, D) decoder output before the sigmoid, flat
    z: torch.Tensor  # (B, latent) the coding that was decoded
    extra: Losses = field(default_factory=dict)  # a model's own further terms, logged by name

    def losses(self) -> Losses:
        return {"loss": self.loss, "recon_loss": self.recon_loss, "reg_loss": self.reg_loss, **self.extra}


class Autoencoder(EpochModel):
    """Subclasses define `encode`, `decoder` and `loss_terms`; corruption is the identity unless overridden."""

    generative = False  # True when decoding z drawn from a prior gives samples (the VAE)
    conditional = False  # True when the label enters encoder and decoder
    decoder: nn.Module  # (B, latent [+ classes]) → (B, D) pixel logits

    def __init__(self, image_shape: tuple[int, ...]):
        super().__init__()
        self.image_shape = tuple(image_shape)
        self.pixels = math.prod(self.image_shape)

    def encode(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """The deterministic coding of images x (the mean for the VAE): (B, C, H, W) → (B, latent)."""
        raise NotImplementedError

    def decode_logits(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return decode_logits(self.decoder, z)  # (…, D)

    def pixel_mean(self, logits: torch.Tensor) -> torch.Tensor:
        """The decoder's expected pixel values in [0, 1] from its logits."""
        return torch.sigmoid(logits)

    def decode(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """Images in [0, 1] from codings: (…, latent) → (…, C, H, W)."""
        return self.pixel_mean(self.decode_logits(z, y).float()).unflatten(-1, self.image_shape)

    def reconstruct(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """Images in [0, 1] from images in [0, 1], no corruption and no sampling."""
        return self.decode(self.encode(x, y), y)

    def corrupt(self, x: torch.Tensor) -> torch.Tensor:
        return x

    def pictures(self, x: torch.Tensor, y: torch.Tensor) -> dict[str, list[torch.Tensor]]:
        """Reconstructions (a denoiser: of corrupted images) of the validation images; a generative model's samples
        from a fixed seed too (a conditional one's: the classes in turn), so that epochs compare."""
        shown = self.corrupt(x)
        pictures = {"reconstructions": [x, *([shown] if shown is not x else []), self.reconstruct(shown, y)]}
        if self.generative:
            labels = torch.arange(16, device=x.device) % NUM_CLASSES if self.conditional else None
            images = self.sample(16, torch.Generator().manual_seed(0), labels)
            pictures["samples"] = [images[:8], images[8:]]
        return pictures

    def forward(self, x: torch.Tensor, x_in: torch.Tensor | None = None, y: torch.Tensor | None = None
                ) -> AutoencoderOutput:
        """x: clean images in [0, 1]. x_in: what to encode; by default corrupt(x) in training mode and x in
        evaluation mode. The reconstruction is always compared with the clean x."""
        if x_in is None:
            x_in = self.corrupt(x) if self.training else x
        return self.loss_terms(x, x_in, y)

    def losses(self, x: torch.Tensor, y: torch.Tensor) -> Losses:
        return self(x, y=y).losses()  # the images are their own targets; labels only condition

    def loss_terms(self, x: torch.Tensor, x_in: torch.Tensor, y: torch.Tensor | None = None) -> AutoencoderOutput:
        raise NotImplementedError
