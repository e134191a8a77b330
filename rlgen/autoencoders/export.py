"""An autoencoder's encoder and decoder as plain modules for `rlgen export` (rlgen/export.py)."""

from __future__ import annotations

import torch
from torch import nn

from rlgen.data import NUM_CLASSES, Split, to_inputs
from rlgen.export import Exportable, model_exportable

SAMPLES = 64


class Encoder(nn.Module):
    """Images in [0, 1] (N, C, H, W) [and labels (N,) int64, for a conditional VAE] → codings (N, latent): the
    VAE's posterior mean."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, images: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return self.model.encode(images, labels)


class Decoder(nn.Module):
    """Codings (N, latent) [and labels (N,) int64] → images (N, C, H, W): the decoder's expected pixels in [0, 1]."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, codings: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return self.model.decode(codings, labels)


def autoencoder_exportable(model, part: str, test: Split, latent: int, seed: int = 0) -> Exportable:
    conditional = bool(getattr(model, "conditional", False))
    label_names = ("labels",) if conditional else ()
    if part == "encoder":
        labels = (test.y[:SAMPLES].long(),) if conditional else ()
        note = "the posterior mean" if model.generative else ""
        return model_exportable(part, Encoder(model), (to_inputs(test.x[:SAMPLES]), *labels),
                                ("images", *label_names), "codings", note)
    noise = torch.randn(SAMPLES, latent, generator=torch.Generator().manual_seed(seed))
    labels = (torch.arange(SAMPLES) % NUM_CLASSES,) if conditional else ()
    return model_exportable(part, Decoder(model), (noise, *labels), ("codings", *label_names), "images",
                            "pixel means in [0, 1]")
