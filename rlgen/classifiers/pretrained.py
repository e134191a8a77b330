"""Lower layers from another trained run: which run and part (recorded in the new run's meta.json, so that the
classifier can be rebuilt without it), the module rebuilt from that run's config, and its weights loaded by prefix."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from rlgen.dataset_kind import DatasetKind
from rlgen.errors import ConfigError
from rlgen.registry import kinds, open_run, require_model
from rlgen.rundir import RunDir


def describe_source(path: str) -> dict[str, Any]:
    """What rebuilding the pretrained layers needs: the source run's kind, algo and resolved config."""
    run, cfg, kind = open_run(Path(path))
    if not isinstance(kind, DatasetKind):
        raise ConfigError(f"pretrained.run {path} is a {cfg.algo} run; pretrained layers come from a run trained on "
                          f"images (an autoencoder or a classifier)")
    require_model(run)
    return {"run": str(path), "kind": kind.name, "algo": cfg.algo, "config": cfg.model_dump(mode="json")}


def build_lower(source: dict[str, Any], module: str) -> nn.Module:
    """The `module` part of the source run's model, untrained, built under its own RNG stream so that the layers
    above it start from the same weights as without pretraining."""
    kind = kinds()[source["kind"]]
    cfg = kind.configs[source["algo"]].model_validate(source["config"])
    with torch.random.fork_rng(devices=[]):
        model = kind.build_model(cfg, None)
    try:
        return model.get_submodule(module)
    except AttributeError:
        parts = ", ".join(name for name, _ in model.named_children())
        raise ConfigError(f"pretrained.module {module!r} is not part of a {source['algo']} model; its parts are "
                          f"{parts}") from None


def load_lower(lower: nn.Module, source: dict[str, Any], module: str) -> None:
    """The source run's best weights of `module`, strictly: every tensor the lower layers have, nothing else."""
    RunDir(Path(source["run"])).load_weights(lower, "model", prefix=module)
