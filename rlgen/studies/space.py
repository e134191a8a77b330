"""A search space for `rlgen tune`: the searched keys (a range, on a log scale or not, integer when both bounds are
integers; or a list of choices), the fixed settings, the seeds a trial averages over, and the objective. See
rlgen.studies.tune for the file's format."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import Field, ValidationError, model_validator

from rlgen.config import explain, override_string, read_yaml_mapping
from rlgen.errors import ConfigError, RlgenError
from rlgen.schema import Strict


class Param(Strict):
    low: int | float | None = None
    high: int | float | None = None
    log: bool = False
    choices: list[Any] | None = Field(default=None, min_length=1)

    @model_validator(mode="after")
    def _range_or_choices(self) -> "Param":
        if self.choices is not None:
            if self.low is not None or self.high is not None:
                raise ValueError("give low/high or choices, not both")
            return self
        if self.low is None or self.high is None:
            raise ValueError("give low and high (a range) or choices")
        if not self.low < self.high:
            raise ValueError(f"low {self.low} must be below high {self.high}")
        if self.log and self.low <= 0:
            raise ValueError("a log range needs low > 0")
        return self

    def integer(self) -> bool:
        """Both bounds written as integers (`{low: 2, high: 10}`): the parameter takes integer values."""
        return self.choices is None and isinstance(self.low, int) and isinstance(self.high, int)


class SpaceSpec(Strict):
    set: dict[str, Any] = Field(default_factory=dict)
    params: dict[str, Param] = Field(min_length=1)
    seeds: list[int] = Field(default_factory=lambda: [0], min_length=1, max_length=100)
    objective: Literal["best", "final", "seconds_to_solve"] = "best"
    metric: str | None = None
    direction: Literal["maximize", "minimize"] | None = None
    unsolved_seconds: float = Field(default=60.0, gt=0, le=1e7)

    @model_validator(mode="after")
    def _consistent(self) -> "SpaceSpec":
        if self.objective == "seconds_to_solve" and self.direction == "maximize":
            raise ValueError("seconds_to_solve is minimised; leave direction out")
        shared = set(self.set) & set(self.params)
        if shared:
            raise ValueError(f"{sorted(shared)[0]}: in both set and params")
        if any(not 0 <= s < 2**32 for s in self.seeds) or len(set(self.seeds)) != len(self.seeds):
            raise ValueError("seeds must be distinct integers in [0, 2**32)")
        return self

    def study_direction(self) -> str:
        return "minimize" if self.objective == "seconds_to_solve" else (self.direction or "maximize")


def load_space(path: Path) -> SpaceSpec:
    data = read_yaml_mapping(path)
    try:
        return SpaceSpec.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"{path}: {explain(exc, SpaceSpec)}") from None


def _scalar(value: Any) -> bool:
    return value is None or isinstance(value, (bool, int, float, str))


def encoded(choices: list[Any]) -> list[Any]:
    """Optuna's categorical choices must be scalars: a list or mapping choice (`model.hidden: [[256], [512]]`) is
    offered as its YAML text."""
    return [c if _scalar(c) else yaml.safe_dump(c, default_flow_style=True).strip() for c in choices]


def decoded(space: SpaceSpec, params: dict[str, Any]) -> dict[str, Any]:
    """A trial's parameters as config values (YAML text of a non-scalar choice read back)."""
    out = {}
    for key, value in params.items():
        p = space.params.get(key)
        if p is not None and p.choices is not None and not all(_scalar(c) for c in p.choices):
            value = p.choices[encoded(p.choices).index(value)]
        out[key] = value
    return out


def suggest(trial, space: SpaceSpec) -> dict[str, Any]:
    chosen = {}
    for key, p in space.params.items():
        if p.choices is not None:
            chosen[key] = trial.suggest_categorical(key, encoded(p.choices))
        elif p.integer():
            chosen[key] = trial.suggest_int(key, int(p.low), int(p.high), log=p.log)
        else:
            chosen[key] = trial.suggest_float(key, float(p.low), float(p.high), log=p.log)
    return decoded(space, chosen)


def base_params(config: Path, space: SpaceSpec) -> dict[str, Any]:
    """The base config's own values of the searched keys (with the fixed settings applied), as Optuna parameters;
    empty when one of them lies outside the space."""
    from rlgen import api

    cfg = api.check(config, [override_string(k, v) for k, v in space.set.items()])[0].model_dump(mode="json")
    params = {}
    for key, p in space.params.items():
        value: Any = cfg
        for part in key.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        if p.choices is not None:
            if value not in p.choices:
                return {}
            params[key] = encoded(p.choices)[p.choices.index(value)]
        elif not isinstance(value, (int, float)) or isinstance(value, bool) or not p.low <= value <= p.high:
            return {}
        else:
            params[key] = int(value) if p.integer() else float(value)
    return params


def check_space(config: Path, space: SpaceSpec) -> None:
    """The base config with the fixed settings and each parameter's extremes is checked before any trial."""
    from rlgen import api

    corners = [{}]
    for key, p in space.params.items():
        values = p.choices if p.choices is not None else [p.low, p.high]
        corners += [{key: int(v) if p.integer() else v} for v in values]
    for corner in corners:
        try:
            api.check(config, [override_string(k, v) for k, v in {**space.set, **corner}.items()])
        except RlgenError as exc:
            where = f"params {', '.join(f'{k}={v}' for k, v in corner.items())}: " if corner else ""
            raise RlgenError(f"{where}{exc}", exit_code=exc.exit_code) from None
