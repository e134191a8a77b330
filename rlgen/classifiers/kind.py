"""Classifier runs as a registered kind: `rlgen.kinds` entry point `classifier`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from rlgen.classifiers.config import ClassifierRunConfig
from rlgen.classifiers.evaluate import confusion_matrix, plot_confusion, report_from
from rlgen.classifiers.model import Classifier
from rlgen.classifiers.pretrained import build_lower, describe_source, load_lower
from rlgen.data import IMAGE_SHAPE, NUM_CLASSES, Split, Splits, class_names, to_inputs
from rlgen.dataset_kind import DatasetKind
from rlgen.optim import ParamGroup
from rlgen.rundir import RunDir


class ClassifierKind(DatasetKind):
    name = "classifier"
    configs = {"classifier": ClassifierRunConfig}

    # -- building and training ----------------------------------------------------------------------------------------
    def prepare_run(self, cfg: ClassifierRunConfig, run: RunDir) -> None:
        if cfg.pretrained is not None:
            run.update_meta(info={"pretrained": describe_source(cfg.pretrained.run)})

    def build_model(self, cfg: ClassifierRunConfig, run: RunDir | None = None) -> Classifier:
        lower = None
        if cfg.pretrained is not None:
            source = run.info.get("pretrained") if run is not None else None
            lower = build_lower(source or describe_source(cfg.pretrained.run), cfg.pretrained.module)
        freeze = cfg.pretrained is not None and cfg.pretrained.freeze
        return Classifier(cfg.model, IMAGE_SHAPE, NUM_CLASSES, lower, freeze)

    def init_weights(self, cfg: ClassifierRunConfig, model: Classifier, run: RunDir) -> None:
        if cfg.pretrained is not None:
            load_lower(model.lower, run.info["pretrained"], cfg.pretrained.module)

    def param_groups(self, cfg: ClassifierRunConfig, model: Classifier):
        if cfg.pretrained is None or cfg.pretrained.freeze:
            return model  # frozen layers have requires_grad off: the optimizer leaves them out
        return [ParamGroup(model.lower, cfg.pretrained.lr_scale), ParamGroup(model.body), ParamGroup(model.head)]

    def training_splits(self, cfg: ClassifierRunConfig, model: Classifier, splits: Splits,
                        autocast: torch.dtype | None) -> tuple[Split, Split]:
        p = cfg.pretrained
        if p is None or not p.freeze or not p.cache:
            return splits.train, splits.val
        model.features_cached = True
        return (cached_features(model, splits.train, cfg.train.eval_batch_size, autocast),
                cached_features(model, splits.val, cfg.train.eval_batch_size, autocast))

    def run_info(self, cfg: ClassifierRunConfig, model: Classifier) -> dict[str, Any]:
        return {"classes": list(class_names(cfg.data)), "features_cached": model.features_cached}

    def hint(self, cfg: ClassifierRunConfig, run: RunDir, result) -> str | None:
        from rlgen.hints import chance_hint

        return chance_hint(result.best_score, NUM_CLASSES, cfg.optimizer.lr, cfg.train.epochs)

    # -- using a trained run -----------------------------------------------------------------------------------------
    def evaluate(self, run: RunDir, cfg: ClassifierRunConfig, device: torch.device, *, episodes: int = 100,
                 seed: int = 0, greedy: bool = True, nll_samples: int | None = None, quiet: bool = True) -> dict[str, Any]:
        model = self.load_model(run, cfg, device)
        counts, loss = confusion_matrix(model, self.test_split(cfg, device), NUM_CLASSES, cfg.train.eval_batch_size)
        return {"run_dir": str(run.path), "algo": cfg.algo, **report_from(counts, loss, class_names(cfg.data))}

    def describe(self, report: dict[str, Any]) -> str:
        per_class = ", ".join(f"{name} {acc:.3f}" for name, acc in report["per_class_accuracy"].items())
        return (f"test accuracy {report['test_accuracy']:.4f}, loss {report['test_loss']:.4f} over "
                f"{report['images']:,} images; per class: {per_class}")

    def exportable(self, run: RunDir, cfg: ClassifierRunConfig, part: str | None):
        """Images in [0, 1] (N, 1, 28, 28) → class logits (N, 10)."""
        from rlgen.export import choose_part, model_exportable

        choose_part(part, ("classifier",), run.path)
        cpu = torch.device("cpu")
        test = self.test_split(cfg, cpu)
        return model_exportable("classifier", self.load_model(run, cfg, cpu), to_inputs(test.x[:64]), "images",
                                "logits", f"class logits in the order {', '.join(class_names(cfg.data))}")

    def extra_plots(self, run: RunDir, cfg: ClassifierRunConfig, device: torch.device, out: Path) -> list[Path]:
        """The confusion matrix of the test split, beside the curves: CURVES-confusion.png."""
        model = self.load_model(run, cfg, device)
        counts, _ = confusion_matrix(model, self.test_split(cfg, device), NUM_CLASSES, cfg.train.eval_batch_size)
        target = out.with_name(f"{out.stem}-confusion.png")
        plot_confusion(counts, class_names(cfg.data), f"{cfg.algo} {run.path.name}", target)
        return [target]


@torch.no_grad()
def cached_features(model: Classifier, split: Split, batch_size: int, autocast: torch.dtype | None) -> Split:
    """The frozen lower layers' outputs for a whole split, computed once (as float32), with its labels."""
    if not len(split):
        return split
    model.lower.eval()
    device_type = split.x.device.type
    parts = []
    for start in range(0, len(split), batch_size):
        with torch.autocast(device_type, dtype=autocast or torch.float32, enabled=autocast is not None):
            parts.append(model.lower(to_inputs(split.x[start : start + batch_size])).float())
    return Split(torch.cat(parts), split.y)


KIND = ClassifierKind()
