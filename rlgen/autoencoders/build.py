"""Building an autoencoder from its run config, and rebuilding a trained one from its run directory."""

from __future__ import annotations

from typing import Callable

import torch

from rlgen.autoencoders.base import Autoencoder
from rlgen.autoencoders.config import AERunConfig
from rlgen.autoencoders.stacked import DenoisingAutoencoder, StackedAutoencoder
from rlgen.autoencoders.vae import VariationalAutoencoder
from rlgen.data import IMAGE_SHAPE, NUM_CLASSES
from rlgen.rundir import RunDir

MODELS: dict[str, Callable[[AERunConfig], Autoencoder]] = {
    "stacked_ae": lambda cfg: StackedAutoencoder(cfg.model, cfg.stacked, IMAGE_SHAPE),
    "denoising_ae": lambda cfg: DenoisingAutoencoder(cfg.model, cfg.denoising, IMAGE_SHAPE),
    "vae": lambda cfg: VariationalAutoencoder(cfg.model, cfg.vae, IMAGE_SHAPE, NUM_CLASSES),
}


def build_autoencoder(cfg: AERunConfig) -> Autoencoder:
    return MODELS[cfg.algo](cfg)


def load_autoencoder(run: RunDir, cfg: AERunConfig, device: torch.device, name: str = "model") -> Autoencoder:
    model = build_autoencoder(cfg).to(device)
    run.load_weights(model, name, device)
    model.eval()
    return model
