"""Where a training run stands, the same for every loop (the epoch trainer, the on-policy loop, the SB3 bridge):
counters, the best score, the RNG states to continue from, the meta.json schema and the result a training call
returns. Written once here, so that resume, sweeps and data-parallel runs are solved once.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import torch
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

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
        """A run state read from a file, checked field by field (types, ranges, known status)."""
        try:
            return cls(**_RunStateSchema.model_validate(data).model_dump())
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "run state"
            raise RlgenError(f"{source} has a damaged run state ({where}: {first['msg']})") from None


class _RunStateSchema(BaseModel):
    """What a stored RunState must look like (the dataclass itself stays plain: the loops update it every step)."""

    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)

    progress: int = Field(ge=0)
    iteration: int = Field(ge=0)
    train_seconds: float = Field(ge=0)
    best_score: float | None
    since_best: int = Field(ge=0)
    last_eval_at: int = Field(ge=0)
    status: Literal["running", "done", "solved", "stopped early"]

    @model_validator(mode="after")
    def _evaluated_within_progress(self) -> "_RunStateSchema":
        if self.last_eval_at > self.progress:
            raise ValueError("last_eval_at is beyond progress")
        return self


# -- RNG states ------------------------------------------------------------------------------------------------------
def capture_rng(device: torch.device, generators: dict[str, torch.Generator] | None = None) -> dict[str, torch.Tensor]:
    """torch's global CPU generator, the device's CUDA generator and the loop's own named generators."""
    state = {"torch": torch.get_rng_state()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    for name, generator in (generators or {}).items():
        state[name] = generator.get_state()
    return state


def restore_rng(state: Any, device: torch.device, generators: dict[str, torch.Generator] | None = None,
                source: str = "checkpoint") -> None:
    """Set the generators from `capture_rng`'s states, each checked first (a uint8 state of the generator's size)."""
    wanted = {"torch": torch.get_rng_state()}
    if device.type == "cuda" and isinstance(state, dict) and "cuda" in state:  # a CPU run resumed on a GPU has none
        wanted["cuda"] = torch.cuda.get_rng_state(device)
    for name, generator in (generators or {}).items():
        wanted[name] = generator.get_state()
    if not isinstance(state, dict):
        raise RlgenError(f"{source} holds no RNG states")
    for name, current in wanted.items():
        saved = state.get(name)
        if not isinstance(saved, torch.Tensor) or saved.dtype != torch.uint8 or saved.shape != current.shape:
            got = f"{saved.dtype} {tuple(saved.shape)}" if isinstance(saved, torch.Tensor) else repr(saved)[:40]
            raise RlgenError(f"{source}: RNG state {name!r} is {got}, not a generator state")
    torch.set_rng_state(state["torch"])
    if "cuda" in wanted:
        torch.cuda.set_rng_state(state["cuda"], device)
    for name, generator in (generators or {}).items():
        try:
            generator.set_state(state[name])
        except RuntimeError:
            raise RlgenError(f"{source}: RNG state {name!r} is not a valid generator state") from None


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
    timings: dict[str, float] = field(default_factory=dict)
    """Wall seconds of this call by phase (training, evaluations, …; `describe_timings` shows them)."""
    hint: str | None = None
    """Set when the run learnt nothing (a classifier at chance level, say): what to change first."""

    @property
    def solved(self) -> bool:
        return self.status == "solved"

    def __str__(self) -> str:
        best = "none yet" if self.best_score is None or math.isinf(self.best_score) else f"{self.best_score:.5g}"
        line = (f"{self.status}: {self.progress:,} {self.unit}, {self.train_seconds:.1f} s training, "
                f"best {self.monitor} {best}")
        return f"{line} — {self.hint}" if self.hint else line

    def describe_timings(self) -> str:
        return ", ".join(f"{name} {seconds:.2f} s" for name, seconds in self.timings.items())
