"""Forecaster runs as a registered kind: `rlgen.kinds` entry point `forecaster`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from rlgen.data import Split, Splits
from rlgen.dataset_kind import DatasetKind
from rlgen.forecasting.config import ForecasterRunConfig
from rlgen.forecasting.model import Forecaster
from rlgen.forecasting.plots import plot_forecasts
from rlgen.forecasting.series import series_splits
from rlgen.rundir import RunDir

SHOWN_SERIES = 3  # series drawn by `rlgen plot` and in a study's picture (the first ones of the test split)


class ForecasterKind(DatasetKind):
    name = "forecaster"
    configs = {"forecaster": ForecasterRunConfig}
    data_name = "series"

    def load_data(self, cfg: ForecasterRunConfig, device: torch.device) -> Splits:
        d = cfg.data
        seed = d.seed if d.seed is not None else cfg.seed
        return series_splits(d.series, d.steps, d.horizon, d.train, d.validation, seed, device)

    def build_model(self, cfg: ForecasterRunConfig, run: RunDir | None = None) -> Forecaster:
        return Forecaster(cfg.model, cfg.data.steps, cfg.data.horizon)

    def example_batch(self, cfg: ForecasterRunConfig) -> tuple[torch.Tensor, torch.Tensor]:
        return torch.rand(2, cfg.data.steps, 1), torch.rand(2, cfg.data.steps, cfg.data.horizon)

    def run_info(self, cfg: ForecasterRunConfig, model: Forecaster) -> dict[str, Any]:
        return {"sequence_to_sequence": model.sequence_output, "horizon": cfg.data.horizon}

    def title(self, cfg: ForecasterRunConfig) -> str:
        what = "naive (last value)" if cfg.model.baseline else ("seq-to-seq" if self._seq(cfg) else "seq-to-vector")
        return f"forecaster, {what}, {cfg.data.horizon} step(s) ahead"

    def _seq(self, cfg: ForecasterRunConfig) -> bool:
        return self.build_model(cfg).sequence_output

    def evaluate(self, run: RunDir, cfg: ForecasterRunConfig, device: torch.device, *, episodes: int = 100,
                 seed: int = 0, greedy: bool = True, nll_samples: int | None = None, quiet: bool = True
                 ) -> dict[str, Any]:
        model = self.load_model(run, cfg, device)
        test = self.test_split(cfg, device)
        errors = forecast_errors(model, test, cfg.train.eval_batch_size)  # (N, horizon) squared errors
        naive = (test.x[:, -1] - test.y[:, -1]).square()  # the last value, repeated
        return {"run_dir": str(run.path), "algo": cfg.algo, "model": self.title(cfg), "series": len(test),
                "horizon": cfg.data.horizon, "test_mse": float(errors.mean()),
                "test_mse_by_step": [float(v) for v in errors.mean(0)], "naive_test_mse": float(naive.mean()),
                "vs_naive": float(errors.mean() / naive.mean())}

    def describe(self, report: dict[str, Any]) -> str:
        return (f"test MSE {report['test_mse']:.5f} over {report['series']:,} series × {report['horizon']} step(s) "
                f"({report['vs_naive']:.3f} × the naive forecast's {report['naive_test_mse']:.5f}); {report['model']}")

    def exportable(self, run: RunDir, cfg: ForecasterRunConfig, part: str | None):
        """Windows of the series (N, steps, 1) → the forecast after the last step (N, horizon)."""
        from rlgen.export import choose_part, model_exportable

        choose_part(part, ("forecaster",), run.path)
        cpu = torch.device("cpu")
        return model_exportable("forecaster", self.load_model(run, cfg, cpu), self.test_split(cfg, cpu).x[:64],
                                "series", "forecast", f"the next {cfg.data.horizon} value(s)")

    def extra_plots(self, run: RunDir, cfg: ForecasterRunConfig, device: torch.device, out: Path) -> list[Path]:
        """Beside the curves: the first test series with their forecasts (CURVES-forecasts.png)."""
        model = self.load_model(run, cfg, device)
        test = self.test_split(cfg, device)
        shown = Split(test.x[:SHOWN_SERIES], test.y[:SHOWN_SERIES])
        target = out.with_name(f"{out.stem}-forecasts.png")
        with torch.no_grad():
            forecast = model(shown.x)
        plot_forecasts([("test", shown.x[..., 0], shown.y[:, -1], {run.path.name: forecast})], target,
                       f"{self.title(cfg)} · {run.path.name}")
        return [target]

    def study_figure(self, cells: dict[str, list[tuple[RunDir, Any]]], out: Path, title: str) -> Path | None:
        """A study's forecasts against the truth: the first test series, each cell's first seed's forecast, a row
        of panels per horizon (the cells of one horizon share their test series)."""
        by_horizon: dict[int, dict[str, tuple[RunDir, ForecasterRunConfig]]] = {}
        for label, runs in cells.items():
            run, cfg = runs[0]
            by_horizon.setdefault(cfg.data.horizon, {})[label] = (run, cfg)
        rows = []
        device = torch.device("cpu")
        for horizon, members in sorted(by_horizon.items()):
            forecasts, shown = {}, None
            for label, (run, cfg) in members.items():
                test = self.test_split(cfg, device)
                if shown is None:
                    shown = Split(test.x[:SHOWN_SERIES], test.y[:SHOWN_SERIES])
                with torch.no_grad():
                    forecasts[label] = self.load_model(run, cfg, device)(test.x[:SHOWN_SERIES])
            rows.append((f"{horizon} ahead", shown.x[..., 0], shown.y[:, -1], forecasts))
        target = out / "forecasts.png"
        plot_forecasts(rows, target, f"{title}: test series, forecasts against the truth")
        return target


@torch.no_grad()
def forecast_errors(model: Forecaster, split: Split, batch_size: int) -> torch.Tensor:
    """Squared errors of the forecast after each series' input: (N, horizon)."""
    model.eval()
    parts = [(model(split.x[i : i + batch_size]) - split.y[i : i + batch_size, -1]).square()
             for i in range(0, len(split), batch_size)]
    return torch.cat(parts)


KIND = ForecasterKind()
