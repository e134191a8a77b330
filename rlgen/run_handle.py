"""The handle of one run directory that the Python API returns (`rlgen.train`, `rlgen.load`): its config, kind and
result, and what can be done with it — evaluate, sample, render, plot, export, its trained model."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from rlgen.data import DataConfig, class_names, parse_label
from rlgen.device import resolve_device
from rlgen.errors import RlgenError
from rlgen.metrics import read_metrics
from rlgen.outputs import check_output_path
from rlgen.plot import plot_curves
from rlgen.registry import RunKind
from rlgen.rundir import RunDir
from rlgen.runstate import RunMeta, TrainResult
from rlgen.summary import summary_table
from rlgen.threads import chosen_threads

IMAGE_SUFFIXES = (".png",)
VIDEO_SUFFIXES = (".gif", ".mp4")


class Run:
    """A run directory with its typed config and its kind; what can be done with it depends on the kind."""

    def __init__(self, run: RunDir, config: Any, kind: RunKind):
        self.run, self.config, self.kind = run, config, kind
        self.result: TrainResult | None = None
        """What training returned (or, for a run opened with `load`, its state as of the last checkpoint)."""

    def __repr__(self) -> str:
        return f"Run({str(self.path)!r}, algo={self.config.algo!r}, kind={self.kind.name!r})"

    @property
    def path(self) -> Path:
        return self.run.path

    @property
    def meta(self) -> RunMeta:
        return self.run.meta

    @property
    def model(self) -> Any:
        """The trained model: the run's best weights (model.safetensors) in the model its config builds, in eval
        mode, on the CPU; loaded anew each time it is read (`load_model` for another device). An autoencoder,
        classifier or forecaster is an `EpochModel` (a torch module), an rlgen agent its `ActorCritic`, an SB3 run
        stable-baselines3's own algorithm object."""
        return self.load_model()

    def load_model(self, device: str = "cpu") -> Any:
        """`model` on `device` ("cpu", "cuda", "auto")."""
        return self.kind.trained_model(self.run, self.config, resolve_device(device))

    def metrics(self) -> list[dict[str, float]]:
        """The rows of metrics.csv (one per iteration or epoch)."""
        path = self.path / "metrics.csv"
        if not path.is_file():
            raise RlgenError(f"{self.path} has no metrics.csv yet")
        return read_metrics(path)

    def evaluate(self, *, episodes: int = 100, seed: int = 0, greedy: bool = True, nll_samples: int | None = None,
                 device: str = "auto", quiet: bool = False, threads: int | None = None) -> dict[str, Any]:
        """Test-set metrics (models trained on data) or returns over `episodes` greedy episodes (agents), with a
        progress bar where evaluating takes long (episodes, the VAE's importance sampling; `quiet=True`: none). `threads`:
        as in `train` (default: OMP_NUM_THREADS, else the kind of run chooses)."""
        with chosen_threads(threads, self.kind.adaptive_threads):
            return self.kind.evaluate(self.run, self.config, resolve_device(device), episodes=episodes, seed=seed,
                                      greedy=greedy, nll_samples=nll_samples, quiet=quiet)

    def fid(self, classifier: str | Path, *, n: int = 10_000, seed: int = 0, device: str = "auto",
            temperature: float = 1.0, threads: int | None = None, quiet: bool = False) -> dict[str, Any]:
        """Fréchet distance of n generated images to the test images, on the features of a trained classifier run
        (with the train-vs-test floor, and for a conditional VAE the label accuracy of its samples). `temperature`:
        as in `sample`; `threads`, `quiet`: as in `evaluate`."""
        if not 2 <= n <= 10**6:
            raise RlgenError(f"n must be between 2 and 1,000,000 images, got {n}")
        with chosen_threads(threads, self.kind.adaptive_threads):
            return self.kind.fid(self.run, self.config, resolve_device(device), Path(classifier), n=n, seed=seed,
                                 temperature=temperature_value(temperature), quiet=quiet)

    def describe(self, report: dict[str, Any]) -> str:
        return self.kind.describe(report)

    def sample(self, n: int = 64, *, seed: int = 0, out: str | Path | None = None, device: str = "auto",
               label: int | str | None = None, temperature: float = 1.0) -> torch.Tensor:
        """n generated images (n, C, H, W) in [0, 1], always n; `out`: also write them as a PNG grid. A conditional
        VAE draws class `label` (a number or a name: 8 or "Bag"), or with no label the classes in turn (n = 100: ten
        of each, one row per class).
        `temperature` (0 to 10) scales the latent noise: below 1, fewer odd samples and less variety."""
        data = getattr(self.config, "data", None)
        names = class_names(data) if isinstance(data, DataConfig) else None
        chosen = (parse_label(label, names) if names else parse_label(label)) if label is not None else None
        return self.kind.sample(self.run, self.config, resolve_device(device), checked(out, IMAGE_SUFFIXES), n=n,
                                seed=seed, label=chosen, temperature=temperature_value(temperature))

    def reconstruct(self, n: int = 10, *, seed: int = 0, out: str | Path | None = None,
                    device: str = "auto") -> list[torch.Tensor]:
        """Rows of images: n test images, then their reconstructions (denoisers: corrupted, then denoised)."""
        return self.kind.reconstruct(self.run, self.config, resolve_device(device), checked(out, IMAGE_SUFFIXES),
                                     n=n, seed=seed)

    def interpolate(self, steps: int = 10, pairs: int = 4, *, seed: int = 0, out: str | Path | None = None,
                    device: str = "auto") -> list[torch.Tensor]:
        """Rows of images, each a straight walk in latent space between two test images."""
        return self.kind.interpolate(self.run, self.config, resolve_device(device), checked(out, IMAGE_SUFFIXES),
                                     steps=steps, pairs=pairs, seed=seed)

    def render(self, out: str | Path | None = None, *, episodes: int = 1, seed: int = 0, fps: int = 50,
               human: bool = False, device: str = "auto") -> tuple[int, list[float]]:
        """Film the agent playing greedily into a GIF or MP4 (`out`) and/or a window; returns (frames, returns)."""
        return self.kind.render(self.run, self.config, resolve_device(device), checked(out, VIDEO_SUFFIXES),
                                episodes=episodes, seed=seed, fps=fps, human=human)

    def plot(self, out: str | Path, *, device: str = "auto") -> list[Path]:
        """Training curves as a PNG, plus the pictures only this kind draws (a classifier's confusion matrix)."""
        out = checked(out, IMAGE_SUFFIXES)
        plot_curves(self.metrics(), self.meta, out, f"{self.kind.title(self.config)} — {self.path.name}")
        return [out, *self.kind.extra_plots(self.run, self.config, resolve_device(device), out)]

    def export(self, out: str | Path, *, format: str = "onnx", part: str | None = None) -> dict[str, Any]:
        """Write the trained model to `out` as ONNX (`.onnx`) or TorchScript (`.pt`), checked against rlgen's own
        answers before it replaces anything (rlgen/export.py). `part`: an autoencoder's "encoder" or "decoder"
        (agents export their greedy "policy", classifiers the "classifier", forecasters the "forecaster").
        Returns the report: file, signature, max |difference| on the sample inputs, tolerance."""
        from rlgen.export import check_export_request, export

        check_export_request(format, Path(out))  # before any model is loaded
        with chosen_threads(None, False):
            return export(self.kind.exportable(self.run, self.config, part), format, Path(out))

    def summary(self) -> str:
        """A per-layer table of the model: output shapes and parameter counts."""
        model, forward = self.kind.summary_model(self.config, self.run)
        return summary_table(model, forward, f"{self.config.algo} — {self.path}")


def temperature_value(value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 10:
        raise RlgenError(f"temperature must be a number from 0 to 10 (1 samples the model as trained), got {value!r}")
    return float(value)


def checked(out: str | Path | None, suffixes: tuple[str, ...]) -> Path | None:
    if out is None:
        return None
    check_output_path(Path(out), suffixes)
    return Path(out)
