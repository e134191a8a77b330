"""Which config schema and which training function serve each `algo` name (registries are dicts)."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel

from rlgen.errors import RlgenError
from rlgen.rundir import RunDir


def schemas() -> dict[str, type[BaseModel]]:
    from agents.config import AGENT_CONFIGS
    from rlgen.autoencoders.config import AE_CONFIGS

    return {**AGENT_CONFIGS, **AE_CONFIGS}


def kind_of(cfg: BaseModel) -> str:
    from rlgen.autoencoders.config import AE_CONFIGS

    return "autoencoder" if cfg.algo in AE_CONFIGS else "agent"


def train(cfg: BaseModel, run: RunDir, quiet: bool, resume: bool = False):
    """Train (or continue) a run; returns a one-line summary."""
    if kind_of(cfg) == "autoencoder":
        from rlgen.autoencoders.train import train_autoencoder

        r = train_autoencoder(cfg, run, quiet, resume=resume)
        how = "stopped early" if r.stopped_early else "done"
        return f"{how}: {r.epochs_done} epochs, {r.train_seconds:.1f} s training, best validation loss {r.best_val_loss:.4f}"
    if cfg.algo.startswith("sb3_"):
        from agents.sb3_bridge import train_sb3

        if resume:
            raise RlgenError(f"{run.path} is a stable-baselines3 run; --resume continues rlgen's own runs only")
        r = train_sb3(cfg, run, quiet)
    else:
        from agents.loop import train_agent

        r = train_agent(cfg, run, quiet, resume=resume)
    status = "solved" if r.solved else "budget spent"
    return f"{status}: {r.env_steps:,} env steps, {r.train_seconds:.1f} s training, best eval return {r.best_eval_return:.1f}"


def open_run(path: Path, kind: str | None = None) -> tuple[RunDir, BaseModel]:
    """Open a run dir and check it holds the kind of run the command works on (any kind when None)."""
    run, cfg = RunDir.open(path, schemas())
    found = run.meta.get("kind")
    if found not in ("agent", "autoencoder") or found != kind_of(cfg):
        raise RlgenError(f"{path} is a run of kind {found!r}, which does not match its config ({cfg.algo})")
    if kind is not None and found != kind:
        raise RlgenError(f"{path} is a run of kind {found!r}; this command needs a run of kind {kind!r}")
    if kind is not None and not run.has("model"):
        raise RlgenError(f"{path} has no model.safetensors yet (was training stopped before its first save?)")
    return run, cfg
