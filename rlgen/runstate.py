"""Where a training run stands, the same for every loop (the epoch trainer, the on-policy loop, the SB3 bridge):
counters, the best score, the RNG states to continue from, the meta.json schema and the result a training call
returns. Written once here, so that resume, sweeps and data-parallel runs are solved once.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Literal

import torch
from pydantic import BaseModel, ConfigDict

from rlgen.errors import RlgenError

Mode = Literal["min", "max"]


@dataclass
class RunState:
    """The counters of a run; stored in its checkpoint and mirrored in meta.json."""

    progress: int = 0
    """How far training has come, in the loop's unit: environment steps (agents) or epochs (epoch trainer)."""
    iteration: int = 0
    """Rollouts with their update (agents) or optimizer steps (epoch trainer)."""
    train_seconds: float = 0.0
    """Wall time spent training (evaluations excluded)."""
    best_score: float | None = None
    """The best value of the monitored metric so far (None before the first evaluation)."""
    since_best: int = 0
    """Evaluations since the best one (early stopping counts these)."""
    last_eval_at: int = 0
    """`progress` at the last evaluation."""
    status: str = "running"
    """running | done (budget used) | solved (target reached) | stopped early (no improvement)."""

    def record(self, score: float, mode: Mode) -> bool:
        """Take one evaluation's score; True when it is the best so far (the caller then saves the weights)."""
        better = self.best_score is None or (score < self.best_score if mode == "min" else score > self.best_score)
        if better:
            self.best_score, self.since_best = float(score), 0
        else:
            self.since_best += 1
        return better

    @property
    def finished(self) -> bool:
        return self.status != "running"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Any, source: str) -> "RunState":
        names = {f.name for f in fields(cls)}
        if not isinstance(data, dict) or not names <= set(data):
            raise RlgenError(f"{source} holds no complete run state (it was not written by this rlgen version)")
        try:
            return cls(progress=int(data["progress"]), iteration=int(data["iteration"]),
                       train_seconds=float(data["train_seconds"]),
                       best_score=None if data["best_score"] is None else float(data["best_score"]),
                       since_best=int(data["since_best"]), last_eval_at=int(data["last_eval_at"]),
                       status=str(data["status"]))
        except (TypeError, ValueError):
            raise RlgenError(f"{source} has a damaged run state") from None


# -- RNG states ------------------------------------------------------------------------------------------------------
def capture_rng(device: torch.device, generators: dict[str, torch.Generator] | None = None) -> dict[str, torch.Tensor]:
    """torch's global CPU generator, the device's CUDA generator and the loop's own named generators."""
    state = {"torch": torch.get_rng_state()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    for name, generator in (generators or {}).items():
        state[name] = generator.get_state()
    return state


def restore_rng(state: dict[str, torch.Tensor], device: torch.device,
                generators: dict[str, torch.Generator] | None = None) -> None:
    torch.set_rng_state(state["torch"])
    if device.type == "cuda" and "cuda" in state:
        torch.cuda.set_rng_state(state["cuda"], device)
    for name, generator in (generators or {}).items():
        if name in state:
            generator.set_state(state[name])


# -- meta.json -------------------------------------------------------------------------------------------------------
class RunMeta(BaseModel):
    """What meta.json holds, for every kind of run."""

    model_config = ConfigDict(extra="forbid")

    rlgen_version: str
    created: str
    kind: str
    """The kind of run (agent, sb3, autoencoder, classifier, …): which registry entry opens it."""
    algo: str
    config_source: str | None = None
    unit: str = ""
    """What `state.progress` counts: env steps, epochs."""
    monitor: str = ""
    """The metric whose best value chose model.safetensors (eval/return_mean, val/loss, …)."""
    info: dict[str, Any] = {}
    """Facts of this kind of run needed to rebuild or describe it (observation size, data source, precision…)."""
    state: dict[str, Any] = {}
    """The run's RunState as of its last checkpoint."""


# -- what training returns -------------------------------------------------------------------------------------------
@dataclass
class TrainResult:
    """What a training call returns, whatever it trained: read by the CLI, the Python API, benchmarks and sweeps."""

    run_dir: Path
    kind: str
    algo: str
    status: str
    progress: int
    unit: str
    iterations: int
    train_seconds: float
    monitor: str
    best_score: float | None
    last_metrics: dict[str, float] = field(default_factory=dict)

    @property
    def solved(self) -> bool:
        return self.status == "solved"

    def __str__(self) -> str:
        best = "none yet" if self.best_score is None or math.isinf(self.best_score) else f"{self.best_score:.5g}"
        return (f"{self.status}: {self.progress:,} {self.unit}, {self.train_seconds:.1f} s training, "
                f"best {self.monitor} {best}")
