"""Which config schema and which training function serve each `algo` name (registries are dicts)."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel

from rlgen.errors import RlgenError
from rlgen.rundir import RunDir


def schemas() -> dict[str, type[BaseModel]]:
    from agents.config import AGENT_CONFIGS

    return {**AGENT_CONFIGS}


def train(cfg: BaseModel, run: RunDir, quiet: bool):
    from agents.loop import train_agent

    return train_agent(cfg, run, quiet)


def open_run(path: Path, kind: str) -> tuple[RunDir, BaseModel]:
    """Open a run dir and check it holds the kind of run the command works on."""
    run, cfg = RunDir.open(path, schemas())
    found = run.meta.get("kind")
    if found != kind:
        raise RlgenError(f"{path} is a run of kind {found!r}; this command needs a run of kind {kind!r}")
    if kind == "agent" and not run.has("model"):
        raise RlgenError(f"{path} has no model.safetensors yet (was training stopped before its first save?)")
    return run, cfg
