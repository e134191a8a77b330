"""Autoencoder runs (stacked, denoising, variational) as a registered kind: `rlgen.kinds` entry point
`autoencoder`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from rlgen.autoencoders.build import build_autoencoder
from rlgen.autoencoders.config import AE_CONFIGS, AERunConfig
from rlgen.autoencoders.evaluate import evaluate_autoencoder
from rlgen.autoencoders.images import interpolate_images, reconstruct_images, sample_images
from rlgen.dataset_kind import DatasetKind
from rlgen.rundir import RunDir


class AutoencoderKind(DatasetKind):
    name = "autoencoder"
    configs = dict(AE_CONFIGS)

    def build_model(self, cfg: AERunConfig, run: RunDir | None = None):
        return build_autoencoder(cfg)

    def run_info(self, cfg: AERunConfig, model) -> dict[str, Any]:
        return {"generative": model.generative}

    def evaluate(self, run: RunDir, cfg: AERunConfig, device: torch.device, *, episodes: int = 100, seed: int = 0,
                 greedy: bool = True, nll_samples: int | None = None) -> dict[str, Any]:
        model = self.load_model(run, cfg, device)
        samples = nll_samples or getattr(getattr(cfg, "vae", None), "nll_samples", 1)
        report = evaluate_autoencoder(model, self.test_split(cfg, device).x, cfg.train.eval_batch_size, samples, seed)
        return {"run_dir": str(run.path), "algo": cfg.algo, **report}

    def sample(self, run: RunDir, cfg: AERunConfig, device: torch.device, out: Path | None, *, n: int, seed: int):
        return sample_images(self.load_model(run, cfg, device), cfg.algo, out, n, seed)

    def reconstruct(self, run: RunDir, cfg: AERunConfig, device: torch.device, out: Path | None, *, n: int,
                    seed: int) -> list[torch.Tensor]:
        return reconstruct_images(self.load_model(run, cfg, device), self.test_split(cfg, device), out, n, seed)

    def interpolate(self, run: RunDir, cfg: AERunConfig, device: torch.device, out: Path | None, *, steps: int,
                    pairs: int, seed: int) -> list[torch.Tensor]:
        return interpolate_images(self.load_model(run, cfg, device), self.test_split(cfg, device), out, steps, pairs, seed)


KIND = AutoencoderKind()
