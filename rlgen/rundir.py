"""A run is a directory: the resolved config, weights, the training state, metrics and what wrote them.

    RUN_DIR/
      config.yaml            resolved config (all defaults filled in); loading rebuilds the model from it
      meta.json              rlgen version, kind of run, facts needed to rebuild, the run state (RunMeta)
      model.safetensors      the weights to use (the best seen so far by evaluation or validation)
      checkpoint.safetensors the latest training state in one file: weights, optimizer state, run state, RNG states
      metrics.csv            one row per logged step, namespaced keys
      tb/                    TensorBoard events
"""

from __future__ import annotations

import json
import os
import shutil
from datetime import datetime
from pathlib import Path
from typing import Any, Mapping

import torch
from pydantic import BaseModel, ValidationError
from torch import nn

from rlgen import __version__
from rlgen.atomic import atomic_write_text
from rlgen.checkpoint import MAX_DEPTH, json_depth, load_state, load_tensors, save_state, save_tensors
from rlgen.config import dump_config, read_yaml_mapping, validate
from rlgen.errors import RlgenError
from rlgen.metrics import MetricsLogger
from rlgen.runstate import RunMeta, RunState, TrainResult
from rlgen.weights import load_module_state, module_state


def default_run_dir(config_path: Path, seed: int) -> Path:
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    return Path("runs") / Path(config_path).stem / f"{stamp}-seed{seed}"


LOCK = ".lock"
OWN_FILES = ("config.yaml", "meta.json", "metrics.csv", "model.safetensors", "checkpoint.safetensors",
             "obs_stats.safetensors", LOCK)


def move_aside(path: Path) -> Path:
    """Rename the run in `path` to `<name>.old-<time>` beside it (a number added if that exists too), so that a new
    run can start there; a folder that is not an rlgen run, or a run another process is writing, is refused."""
    import fcntl

    if not (path / "config.yaml").is_file() or not (path / "meta.json").is_file():
        raise RlgenError(f"{path} is not an rlgen run dir (no config.yaml and meta.json); overwrite moves only runs "
                         f"aside: choose another run dir")
    try:
        with open(path / LOCK, "a+", encoding="utf-8") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)  # released when closed: only a check that none writes
    except BlockingIOError:
        raise RlgenError(f"{path} is in use by another rlgen process; it cannot be moved aside") from None
    except OSError as exc:
        raise RlgenError(f"cannot lock run dir {path}: {exc.strerror}") from None
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    target = path.with_name(f"{path.name}.old-{stamp}")
    number = 1
    while target.exists():
        number += 1
        target = path.with_name(f"{path.name}.old-{stamp}-{number}")
    try:
        path.rename(target)
    except OSError as exc:
        raise RlgenError(f"cannot move {path} aside to {target}: {exc.strerror}") from None
    return target


class RunDir:
    writes = True
    """False for a data-parallel run's other ranks (`FollowerRunDir`): only rank 0 writes the run directory."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.created_dir = False  # this process made the directory (so `discard` may remove it)
        self.moved_to: Path | None = None  # where `create(overwrite=True)` moved the run that was here
        self.reopen = False  # continuing a finished run: `load_checkpoint` returns its state as running again
        self._lock_file: Any = None

    # -- creating and opening --------------------------------------------------------------------------------------
    @classmethod
    def create(cls, path: Path, config: BaseModel, kind: str, config_source: str | None = None,
               overwrite: bool = False) -> "RunDir":
        """Start a new run, as its only writer (see `lock`); an existing non-empty directory is never reused
        (nothing is overwritten), and of two processes creating one run dir at once, one is refused. `overwrite`:
        an existing run there is first moved aside (`move_aside`), never deleted; `moved_to` says where."""
        path = Path(path)
        if path.exists() and not path.is_dir():
            raise RlgenError(f"run dir {path} already exists and is not a directory; choose another run dir")
        moved_to = move_aside(path) if overwrite and path.is_dir() and any(path.iterdir()) else None
        existed = path.exists()
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise RlgenError(f"cannot create run dir {path}: {exc.strerror}") from None
        run = cls(path)
        run.created_dir = not existed
        run.moved_to = moved_to
        run.lock(clean=False)
        if any(p.name != LOCK for p in path.iterdir()):
            run.unlock()
            raise RlgenError(f"run dir {path} already exists and is not empty; choose another run dir, or overwrite "
                             f"(--overwrite, overwrite=True) to move the old run aside")
        atomic_write_text(path / "config.yaml", dump_config(config))
        run._write_meta(new_meta(config, kind, config_source))
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

    # -- one writer at a time ---------------------------------------------------------------------------------------
    def lock(self, clean: bool = True) -> None:
        """Become the run's only writer: an exclusive lock on RUN_DIR/.lock, which the operating system releases when
        this process ends, however it ends, so a crash never leaves the run locked. A second writer (another
        `train` or `--resume` of the same run) is refused with one line. `clean`: remove the temporary files a
        killed writer left behind (only the lock holder may: a live writer's file is never touched)."""
        import fcntl  # POSIX; rlgen's supported platforms are Linux and macOS

        try:
            handle = open(self.path / LOCK, "a+", encoding="utf-8")
        except OSError as exc:
            raise RlgenError(f"cannot lock run dir {self.path}: {exc.strerror}") from None
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read(20).strip()
            handle.close()
            raise RlgenError(f"{self.path} is in use by another rlgen process{f' (pid {holder})' if holder else ''};"
                             f" wait for it to finish or choose another run dir") from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        self._lock_file = handle
        if clean:
            for stale in self.path.glob(".*.tmp*"):  # atomic_output's names: .<stem>.<random>.tmp<suffix>
                stale.unlink(missing_ok=True)

    def unlock(self) -> None:
        if self._lock_file is not None:
            self._lock_file.close()  # closing releases the lock
            self._lock_file = None

    def discard(self) -> None:
        """Remove a run that never got going: the files rlgen writes, TensorBoard's folder, and the directory itself
        when this process made it (and nothing else is in it)."""
        for name in OWN_FILES:
            (self.path / name).unlink(missing_ok=True)
        shutil.rmtree(self.path / "tb", ignore_errors=True)
        self.unlock()
        if self.created_dir and not any(self.path.iterdir()):
            self.path.rmdir()

    # -- metadata ---------------------------------------------------------------------------------------------------
    @property
    def meta(self) -> RunMeta:
        source = self.path / "meta.json"
        try:
            text = source.read_text(encoding="utf-8")
            if json_depth(text) > MAX_DEPTH:
                raise RlgenError(f"{source} is damaged (nested deeper than {MAX_DEPTH})")
            return RunMeta.model_validate(json.loads(text))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            raise RlgenError(f"{source} is damaged (not UTF-8 JSON)") from None
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "<top level>"
            raise RlgenError(f"{source} is damaged ({where}: {first['msg']})") from None

    def _write_meta(self, meta: RunMeta) -> None:
        atomic_write_text(self.path / "meta.json", json.dumps(meta.model_dump(mode="json"), indent=2) + "\n")

    def update_meta(self, **fields: Any) -> None:
        """Set top-level meta.json fields (`info` entries are merged into the existing ones)."""
        meta = self.meta
        if "info" in fields:
            fields["info"] = {**meta.info, **fields["info"]}
        self._write_meta(meta.model_copy(update=fields))

    @property
    def info(self) -> dict[str, Any]:
        return self.meta.info

    def result(self, state: RunState, last_metrics: dict[str, float],
               timings: dict[str, float] | None = None) -> TrainResult:
        """What a training call returns, from the run's state, its last logged metrics and the loop's timings."""
        meta = self.meta
        return TrainResult(self.path, meta.kind, meta.algo, state.status, state.progress, meta.unit, state.iteration,
                           state.train_seconds, meta.monitor, state.best_score, dict(last_metrics), dict(timings or {}))

    def state(self) -> RunState:
        return RunState.from_dict(self.meta.state, str(self.path / "meta.json")) if self.meta.state else RunState()

    # -- weights and training state --------------------------------------------------------------------------------
    def save_weights(self, module: nn.Module, name: str = "model") -> None:
        save_tensors(self.path / f"{name}.safetensors", module_state(module), {"rlgen_version": __version__})

    def load_weights(self, module: nn.Module, name: str = "model", device: torch.device | str = "cpu",
                     prefix: str = "", strict: bool = True) -> None:
        """Load the run's `name` weights (those under `prefix`) into `module`; see `load_module_state`."""
        path = self.path / f"{name}.safetensors"
        tensors, _ = load_tensors(path, device)
        load_module_state(module, tensors, str(path), prefix, strict)

    def has(self, name: str) -> bool:
        return (self.path / f"{name}.safetensors").is_file()

    def save_checkpoint(self, module: nn.Module, optimizer: Any, state: RunState,
                        rng: dict[str, torch.Tensor], loop: dict[str, Any] | None = None) -> None:
        """The whole training state in one file, written atomically, then mirrored in meta.json: a crash can never
        pair weights of one step with counters of another. `loop`: what else the loop needs to continue exactly
        (the agents' environment and collector state)."""
        checkpoint = {"model": module_state(module), "optimizer": optimizer.state_dict(), "state": state.as_dict(),
                      "rng": rng, "loop": loop or {}}
        save_state(self.path / "checkpoint.safetensors", checkpoint)
        self.update_meta(state=state.as_dict())

    def metrics_logger(self, keep_until_step: int | None = None) -> MetricsLogger | NullLogger:
        """Where training logs its metrics rows (metrics.csv and TensorBoard)."""
        return MetricsLogger(self.path, keep_until_step=keep_until_step)

    def load_checkpoint(self, module: nn.Module, optimizer: Any) -> tuple[RunState, dict[str, Any], dict[str, Any]]:
        """Load weights and optimizer state in place; returns the run state, the RNG states to restore and the loop's
        own state (each to be checked by whoever uses it)."""
        path = self.path / "checkpoint.safetensors"
        if not path.is_file():
            raise RlgenError(f"{self.path} has no checkpoint to resume from (training stopped before its first save)")
        checkpoint = load_state(path, "cpu")
        if not isinstance(checkpoint, dict) or set(checkpoint) != {"model", "optimizer", "state", "rng", "loop"}:
            raise RlgenError(f"{path} is not an rlgen training checkpoint")
        if not isinstance(checkpoint["loop"], dict):
            raise RlgenError(f"{path} has a damaged loop state")
        if not isinstance(checkpoint["model"], dict):
            raise RlgenError(f"{path} holds no model weights")
        load_module_state(module, checkpoint["model"], str(path))
        optimizer.load_state_dict(checkpoint["optimizer"], str(path))
        state = RunState.from_dict(checkpoint["state"], str(path))
        if self.reopen and state.finished:  # a larger budget: train on, with early stopping's count started afresh
            state.status, state.since_best = "running", 0
        return state, checkpoint["rng"], checkpoint["loop"]

    def load_initial_weights(self, module: nn.Module, device: torch.device | str) -> None:
        """A new run warm-started from another run's best weights (`--init-from`, recorded in meta.json as
        info.init_from): those weights, by name and shape, into `module`; a model they do not fit is one line."""
        source = self.info.get("init_from")
        if source is None:
            return
        path = Path(source) / "model.safetensors"
        if not path.is_file():
            raise RlgenError(f"--init-from {source}: it has no model.safetensors (was it trained?)")
        tensors, _ = load_tensors(path, device)
        try:
            load_module_state(module, tensors, str(path))
        except RlgenError as exc:
            raise RlgenError(f"--init-from {source}: its weights do not fit this model ({exc})") from None


def new_meta(config: BaseModel, kind: str, config_source: str | None) -> RunMeta:
    return RunMeta(rlgen_version=__version__, created=datetime.now().isoformat(timespec="seconds"), kind=kind,
                   algo=getattr(config, "algo"), config_source=config_source)


class NullLogger:
    """A metrics logger that keeps nothing (the other ranks of a data-parallel run)."""

    def log(self, step: int, metrics: Mapping[str, float]) -> None:
        pass

    def close(self) -> None:
        pass


class FollowerRunDir(RunDir):
    """The run directory as a data-parallel run's ranks other than 0 see it: they read what rank 0 wrote (a resumed
    checkpoint) but write nothing; their meta.json lives in memory."""

    writes = False

    def __init__(self, path: Path, meta: RunMeta):
        super().__init__(path)
        self._meta = meta

    @property
    def meta(self) -> RunMeta:
        return self._meta

    def _write_meta(self, meta: RunMeta) -> None:
        self._meta = meta

    def lock(self, clean: bool = True) -> None:
        pass

    def discard(self) -> None:
        pass

    def save_weights(self, module: nn.Module, name: str = "model") -> None:
        pass

    def save_checkpoint(self, module: nn.Module, optimizer: Any, state: RunState,
                        rng: dict[str, torch.Tensor], loop: dict[str, Any] | None = None) -> None:
        self.update_meta(state=state.as_dict())

    def metrics_logger(self, keep_until_step: int | None = None) -> NullLogger:
        return NullLogger()
