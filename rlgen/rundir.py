"""A run is a directory: the resolved config, weights, optimizer state, metrics and what wrote them.

    RUN_DIR/
      config.yaml            resolved config (all defaults filled in); loading rebuilds the model from it
      meta.json              rlgen version, kind of run, shapes needed to rebuild, progress, best score
      model.safetensors      the weights to use (the best checkpoint seen so far)
      last.safetensors       weights at the latest save (resume starts here)
      optimizer.safetensors  optimizer state at the latest save
      metrics.csv            one row per logged step, namespaced keys
      tb/                    TensorBoard events
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any, Mapping

import torch
from pydantic import BaseModel
from torch import nn

from rlgen import __version__
from rlgen.checkpoint import atomic_write_text, load_state, load_tensors, save_state, save_tensors
from rlgen.config import dump_config, read_yaml_mapping, validate
from rlgen.errors import RlgenError


def default_run_dir(config_path: Path, seed: int) -> Path:
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    return Path("runs") / Path(config_path).stem / f"{stamp}-seed{seed}"


class RunDir:
    def __init__(self, path: Path):
        self.path = Path(path)

    # -- creating and opening --------------------------------------------------------------------------------------
    @classmethod
    def create(cls, path: Path, config: BaseModel, meta: Mapping[str, Any]) -> "RunDir":
        """Start a new run; an existing non-empty directory is never reused (nothing is overwritten)."""
        path = Path(path)
        if path.exists() and (not path.is_dir() or any(path.iterdir())):
            raise RlgenError(f"run dir {path} already exists and is not empty; choose another --run-dir")
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise RlgenError(f"cannot create run dir {path}: {exc.strerror}") from None
        run = cls(path)
        atomic_write_text(path / "config.yaml", dump_config(config))
        run.write_meta({"rlgen_version": __version__, "created": datetime.now().isoformat(timespec="seconds"), **meta})
        return run

    @classmethod
    def open(cls, path: Path, schemas: Mapping[str, type[BaseModel]]) -> tuple["RunDir", BaseModel]:
        """Open an existing run and rebuild its typed config."""
        path = Path(path)
        if not path.is_dir():
            raise RlgenError(f"run dir {path} does not exist")
        for name in ("config.yaml", "meta.json"):
            if not (path / name).is_file():
                raise RlgenError(f"{path} is not an rlgen run dir: {name} is missing")
        run = cls(path)
        run.meta  # validates meta.json early
        config = validate(read_yaml_mapping(path / "config.yaml"), schemas, str(path / "config.yaml"))
        return run, config

    # -- metadata ---------------------------------------------------------------------------------------------------
    @property
    def meta(self) -> dict[str, Any]:
        try:
            data = json.loads((self.path / "meta.json").read_text())
        except (OSError, json.JSONDecodeError):
            raise RlgenError(f"{self.path / 'meta.json'} is damaged (not JSON)") from None
        if not isinstance(data, dict):
            raise RlgenError(f"{self.path / 'meta.json'} is damaged (not a JSON object)")
        return data

    def write_meta(self, update: Mapping[str, Any]) -> None:
        current = self.meta if (self.path / "meta.json").exists() else {}
        atomic_write_text(self.path / "meta.json", json.dumps({**current, **update}, indent=2) + "\n")

    # -- weights and states -------------------------------------------------------------------------------------------
    def save_weights(self, module: nn.Module, name: str = "model") -> None:
        save_tensors(self.path / f"{name}.safetensors", module.state_dict(), {"rlgen_version": __version__})

    def load_weights(self, module: nn.Module, name: str = "model", device: torch.device | str = "cpu") -> None:
        tensors, _ = load_tensors(self.path / f"{name}.safetensors", device)
        missing, unexpected = set(module.state_dict()) - set(tensors), set(tensors) - set(module.state_dict())
        if missing or unexpected:
            raise RlgenError(f"{self.path / (name + '.safetensors')} does not match the model its config builds")
        try:
            module.load_state_dict(tensors)
        except RuntimeError:
            raise RlgenError(f"{self.path / (name + '.safetensors')} has tensors of the wrong shape for its config") from None

    def save_state(self, state: Any, name: str) -> None:
        save_state(self.path / f"{name}.safetensors", state)

    def load_state(self, name: str, device: torch.device | str = "cpu") -> Any:
        return load_state(self.path / f"{name}.safetensors", device)

    def has(self, name: str) -> bool:
        return (self.path / f"{name}.safetensors").is_file()
