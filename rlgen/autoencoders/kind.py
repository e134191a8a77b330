"""Autoencoder runs (stacked, denoising, variational; MLP or convolutional; conditional VAE) as a registered kind:
`rlgen.kinds` entry point `autoencoder`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from rlgen.autoencoders.build import build_autoencoder
from rlgen.autoencoders.config import AE_CONFIGS, AERunConfig
from rlgen.autoencoders.evaluate import evaluate_autoencoder
from rlgen.autoencoders.images import (interpolate_images, manifold_images, plot_latent, reconstruct_images,
                                       sample_images)
from rlgen.data import NUM_CLASSES, class_names, load_splits
from rlgen.dataset_kind import DatasetKind
from rlgen.errors import RlgenError
from rlgen.rundir import RunDir


class AutoencoderKind(DatasetKind):
    name = "autoencoder"
    configs = dict(AE_CONFIGS)

    def build_model(self, cfg: AERunConfig, run: RunDir | None = None):
        return build_autoencoder(cfg)

    def run_info(self, cfg: AERunConfig, model) -> dict[str, Any]:
        return {"generative": model.generative, "conditional": model.conditional}

    def title(self, cfg: AERunConfig) -> str:
        return cfg.describe()

    def evaluate(self, run: RunDir, cfg: AERunConfig, device: torch.device, *, episodes: int = 100, seed: int = 0,
                 greedy: bool = True, nll_samples: int | None = None, quiet: bool = True) -> dict[str, Any]:
        model = self.load_model(run, cfg, device)
        samples = nll_samples or getattr(getattr(cfg, "vae", None), "nll_samples", 1)
        report = evaluate_autoencoder(model, self.test_split(cfg, device), cfg.train.eval_batch_size, samples, seed,
                                      quiet)
        return {"run_dir": str(run.path), "algo": cfg.algo, "model": cfg.describe(), **report}

    def fid(self, run: RunDir, cfg: AERunConfig, device: torch.device, classifier: Path, *, n: int,
            seed: int, temperature: float = 1.0, quiet: bool = True) -> dict[str, Any]:
        from rlgen.classifiers.fid import fid_report, load_extractor
        from rlgen.metrics import ProgressBar

        model = self.load_model(run, cfg, device)
        if not model.generative:
            raise RlgenError(f"a {cfg.algo} run does not generate images, so it has no Fréchet distance")
        extractor, accuracy = load_extractor(classifier, device)
        # the real images at their grey levels, whatever the model was trained on
        splits = load_splits(cfg.data.model_copy(update={"binarize": None}), device, seed)
        generator = torch.Generator().manual_seed(seed)
        asked = torch.arange(n) % NUM_CLASSES if model.conditional else None  # balanced, like the test split
        parts = []
        with ProgressBar(n, "sampling for the FID", quiet) as bar:
            for start in range(0, n, 1000):
                count = min(1000, n - start)
                parts.append(model.sample(count, generator, asked[start : start + count] if asked is not None else None,
                                          temperature))
                bar.update(start + count, "images")
        generated = torch.cat(parts)
        real = splits.test.x[:n]
        train = splits.train.x[torch.randperm(len(splits.train), generator=generator)[:len(real)].to(device)]
        report = fid_report(extractor, generated, real, train, asked)
        return {"run_dir": str(run.path), "algo": cfg.algo, "model": cfg.describe(), "sampling_temperature": temperature,
                "classifier_test_accuracy": accuracy, **report}

    def describe(self, report: dict[str, Any]) -> str:
        if "fid" not in report:
            return super().describe(report)
        temperature = report.get("sampling_temperature", 1.0)
        at = f" at temperature {temperature:g}" if temperature != 1.0 else ""
        line = (f"FID {report['fid']:.2f} ({report['fid_generated_images']:,} samples{at} vs "
                f"{report['fid_test_images']:,} test images; train vs test floor {report['fid_floor_train_vs_test']:.2f})")
        if "label_accuracy" in report:
            line += (f"; label accuracy {report['label_accuracy']:.4f} (the classifier's own test accuracy "
                     f"{report['classifier_test_accuracy']:.4f})")
        return f"{line}; {report['model']}; features: {report['fid_features']}"

    def sample(self, run: RunDir, cfg: AERunConfig, device: torch.device, out: Path | None, *, n: int, seed: int,
               label: int | None = None, temperature: float = 1.0):
        return sample_images(self.load_model(run, cfg, device), cfg.algo, self._title(run, cfg), out, n, seed, label,
                             temperature, class_names(cfg.data))

    def reconstruct(self, run: RunDir, cfg: AERunConfig, device: torch.device, out: Path | None, *, n: int,
                    seed: int) -> list[torch.Tensor]:
        return reconstruct_images(self.load_model(run, cfg, device), self.test_split(cfg, device),
                                  self._title(run, cfg), out, n, seed)

    def interpolate(self, run: RunDir, cfg: AERunConfig, device: torch.device, out: Path | None, *, steps: int,
                    pairs: int, seed: int) -> list[torch.Tensor]:
        return interpolate_images(self.load_model(run, cfg, device), self.test_split(cfg, device),
                                  self._title(run, cfg), out, steps, pairs, seed)

    def exportable(self, run: RunDir, cfg: AERunConfig, part: str | None):
        from rlgen.autoencoders.export import autoencoder_exportable
        from rlgen.export import choose_part

        part = choose_part(part, ("encoder", "decoder"), run.path)
        cpu = torch.device("cpu")
        return autoencoder_exportable(self.load_model(run, cfg, cpu), part, self.test_split(cfg, cpu), cfg.model.latent)

    def extra_plots(self, run: RunDir, cfg: AERunConfig, device: torch.device, out: Path) -> list[Path]:
        """Beside the curves: the test images' codings coloured by class (CURVES-latent.png) and, for an
        unconditional 2-D latent, its decoded manifold (CURVES-manifold.png)."""
        model = self.load_model(run, cfg, device)
        written = [out.with_name(f"{out.stem}-latent.png")]
        plot_latent(model, self.test_split(cfg, device), self._title(run, cfg), written[0], class_names(cfg.data))
        if model.generative and not model.conditional and getattr(model, "latent", None) == 2:
            written.append(out.with_name(f"{out.stem}-manifold.png"))
            manifold_images(model, self._title(run, cfg), written[1])
        return written

    def _title(self, run: RunDir, cfg: AERunConfig) -> str:
        return f"{cfg.describe()} · {run.path.name}"


KIND = AutoencoderKind()
