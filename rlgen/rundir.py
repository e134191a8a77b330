"""A run is a directory: the resolved config, weights, optimizer state, metrics and what wrote them.

    RUN_DIR/
      config.yaml            resolved config (all defaults filled in); loading rebuilds the model from it
      meta.json              rlgen version, kind of run, shapes needed to rebuild, progress, best score
      model.safetensors      the weights to use (the best seen so far by evaluation or validation)
      checkpoint.safetensors the latest training state: weights, optimizer state, counters, RNG states (resume)
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
        self._load_module(module, tensors, self.path / f"{name}.safetensors")

    def _load_module(self, module: nn.Module, tensors: dict[str, torch.Tensor], source: Path) -> None:
        if set(module.state_dict()) != set(tensors):
            raise RlgenError(f"{source} does not match the model its config builds")
        try:
            module.load_state_dict(tensors)
        except RuntimeError:
            raise RlgenError(f"{source} has tensors of the wrong shape for its config") from None

    def save_checkpoint(self, module: nn.Module, optimizer: Any, trainer: dict[str, Any]) -> None:
        """The whole training state in one file, written atomically: weights, optimizer state, the trainer's counters
        and RNG states. A crash can never pair weights of one step with counters of another."""
        state = {"model": module.state_dict(), "optimizer": optimizer.state_dict(), "trainer": trainer}
        save_state(self.path / "checkpoint.safetensors", state)

    def load_checkpoint(self, module: nn.Module, optimizer: Any) -> dict[str, Any]:
        """Load weights and optimizer state in place; returns the trainer's dict (tensors on the CPU)."""
        path = self.path / "checkpoint.safetensors"
        state = load_state(path, "cpu")
        if not isinstance(state, dict) or not {"model", "optimizer", "trainer"} <= set(state):
            raise RlgenError(f"{path} is not an rlgen training checkpoint")
        self._load_module(module, state["model"], path)
        try:
            optimizer.load_state_dict(state["optimizer"])
        except (KeyError, ValueError, RuntimeError):
            raise RlgenError(f"{path} holds optimizer state that does not fit the config's optimizer") from None
        return state["trainer"]

    def save_state(self, state: Any, name: str) -> None:
        save_state(self.path / f"{name}.safetensors", state)

    def load_state(self, name: str, device: torch.device | str = "cpu") -> Any:
        return load_state(self.path / f"{name}.safetensors", device)

    def has(self, name: str) -> bool:
        return (self.path / f"{name}.safetensors").is_file()
