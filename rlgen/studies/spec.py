"""A sweep file: a base config, fixed overrides, a grid of settings (a cartesian product of axes, where a `zip`
group of equally long lists is one axis whose values change together) and a list of seeds.

    base: ../fashion_mlp.yaml          # relative to the sweep file
    set: {train.epochs: 1}             # the same for every run
    grid: {train.batch_size: [1, 10, 100, 1000, 60000]}
    zip: {optimizer.lr: [0.1, 0.01], optimizer.decay: [0.1, 0.01]}
    seeds: [0, 1, 2]
    metric: val/accuracy               # default: what the base config's kind of run monitors

Instead of one `base`, a sweep may compare whole configs: `configs` names each (label → path, relative to the sweep
file), one more axis, before the others; `baseline` names the cell every other is compared with, among those that
share its other settings (a ratio column in the tables):

    configs: {naive: ../forecast_naive.yaml, lstm: ../forecast_lstm.yaml}
    grid: {data.horizon: [1, 10]}
    baseline: {config: naive}

A cell is one combination of the axes' values; each cell runs once per seed, each run in an ordinary run directory.
"""

from __future__ import annotations

import hashlib
import itertools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import Field, ValidationError, field_validator, model_validator

from rlgen.config import explain, read_yaml_mapping
from rlgen.errors import ConfigError
from rlgen.schema import Strict

MAX_RUNS = 100_000
CONFIG_AXIS = "config"  # the settings key of the `configs` axis (not a config field: it picks the base config)
Settings = dict[str, Any]  # dotted config key → value


class SweepSpec(Strict):
    base: str | None = Field(default=None, min_length=1)
    """The config every run starts from; a path relative to the sweep file."""
    configs: dict[str, str] = Field(default_factory=dict)
    """Instead of `base`: configs to compare, label → path relative to the sweep file; one axis, the first."""
    set: Settings = Field(default_factory=dict)
    """Overrides every run gets (dotted keys)."""
    grid: dict[str, list[Any]] = Field(default_factory=dict)
    """Axes of the cartesian product: key → the values to try."""
    zip: dict[str, list[Any]] = Field(default_factory=dict)
    """Keys whose lists (all of one length) change together: one more axis."""
    seeds: list[int] = Field(default_factory=lambda: [0], min_length=1, max_length=10_000)
    metric: str | None = None
    """The metric the tables and plots compare (a metrics.csv column); default: the run kind's monitored metric."""
    baseline: Settings = Field(default_factory=dict)
    """The settings that make a cell the baseline of the cells sharing its other settings (`{config: naive}`);
    the tables then give each cell's mean metric over its baseline's."""
    batch_seeds: bool = True
    """Train a cell's new seeds at once, as one batched model in one process, where its config allows (REINFORCE
    or A2C on the torch CartPole; see agents/seeds.py); false: one process per run."""

    @field_validator("seeds")
    @classmethod
    def _seeds(cls, seeds: list[int]) -> list[int]:
        if any(not 0 <= s < 2**32 for s in seeds) or len(set(seeds)) != len(seeds):
            raise ValueError("seeds must be distinct integers in [0, 2**32)")
        return seeds

    @model_validator(mode="after")
    def _axes(self) -> "SweepSpec":
        if (self.base is None) == (not self.configs):
            raise ValueError("give either base (one config) or configs (several to compare)")
        for label, path in self.configs.items():
            if not label or not path:
                raise ValueError("configs: give each config a label and a path")
        if CONFIG_AXIS in self.grid or CONFIG_AXIS in self.zip or CONFIG_AXIS in self.set:
            raise ValueError(f"{CONFIG_AXIS}: the configs to compare go in `configs`")
        for key, value in self.baseline.items():
            values = list(self.configs) if key == CONFIG_AXIS else self.grid.get(key, self.zip.get(key))
            if values is None or value not in values:
                raise ValueError(f"baseline.{key}: {value!r} is not one of the swept values of {key}")
        for name, axes in (("grid", self.grid), ("zip", self.zip)):
            for key, values in axes.items():
                if not values:
                    raise ValueError(f"{name}.{key}: give at least one value")
                if key in ("seed", "algo"):
                    raise ValueError(f"{name}.{key}: {key} cannot be swept here (seeds go in `seeds`)")
        if len({len(v) for v in self.zip.values()}) > 1:
            lengths = ", ".join(f"{k}: {len(v)}" for k, v in self.zip.items())
            raise ValueError(f"zip: every list must have the same length ({lengths})")
        shared = (set(self.grid) & set(self.zip)) | ((set(self.grid) | set(self.zip)) & set(self.set))
        if shared:
            raise ValueError(f"{sorted(shared)[0]}: set in more than one of set / grid / zip")
        if len(self.cells()) * len(self.seeds) > MAX_RUNS:
            raise ValueError(f"{len(self.cells()) * len(self.seeds):,} runs: more than {MAX_RUNS:,}")
        return self

    def axes(self) -> list[list[Settings]]:
        """Each axis as the list of settings it takes: one per grid key, then the zip group."""
        axes = [[{CONFIG_AXIS: label} for label in self.configs]] if self.configs else []
        axes += [[{key: value} for value in values] for key, values in self.grid.items()]
        if self.zip:
            axes.append([dict(zip(self.zip, values)) for values in zip(*self.zip.values())])
        return axes

    def cells(self) -> list["Cell"]:
        """Every combination of the axes' values, in order (the last axis changes fastest)."""
        return [Cell({k: v for part in parts for k, v in part.items()}) for parts in itertools.product(*self.axes())]

    def swept_keys(self) -> list[str]:
        return [*([CONFIG_AXIS] if self.configs else []), *self.grid, *self.zip]

    def values_of(self, key: str) -> list[Any]:
        """The values a swept key takes, in the sweep's order."""
        if key == CONFIG_AXIS:
            return list(self.configs)
        return list(self.grid[key] if key in self.grid else self.zip[key])

    def base_of(self, cell: "Cell") -> Path:
        """The config a cell's runs start from (paths resolved by `load_spec`)."""
        return Path(self.configs[cell.settings[CONFIG_AXIS]] if self.configs else self.base)

    def baseline_of(self, cell: "Cell") -> "Cell | None":
        """The cell `cell` is compared with: its settings with the baseline's in place (None without a baseline)."""
        if not self.baseline:
            return None
        return Cell({**cell.settings, **self.baseline})

    def title(self) -> str:
        """A name for figure titles: the base config's file, or the compared configs' labels."""
        return Path(self.base).name if self.base else " vs ".join(self.configs)


@dataclass(frozen=True)
class Cell:
    settings: Settings

    @property
    def overrides(self) -> Settings:
        """The config fields the cell sets (its settings without the choice of config)."""
        return {k: v for k, v in self.settings.items() if k != CONFIG_AXIS}

    @property
    def name(self) -> str:
        """A folder name that says what the cell sets: `train.batch_size=100,optimizer.name=sgd` (hashed when long
        or odd)."""
        text = ",".join(f"{key}={short_value(value)}" for key, value in self.settings.items()) or "base"
        if len(text) <= 120 and re.fullmatch(r"[A-Za-z0-9._=,+-]+", text):
            return text
        digest = hashlib.sha256(yaml.safe_dump(self.settings).encode()).hexdigest()[:10]
        return f"{re.sub(r'[^A-Za-z0-9._=,+-]', '_', text)[:100]}-{digest}"

    def label(self) -> str:
        """What the cell sets, for tables and legends: the last part of each key."""
        parts = (str(value) if key == CONFIG_AXIS else f"{key.rsplit('.', 1)[-1]}={short_value(value)}"
                 for key, value in self.settings.items())
        return ", ".join(parts) or "base"


def short_value(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return str(value).lower()
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (list, dict)):
        return yaml.safe_dump(value, default_flow_style=True).strip().replace(" ", "")
    return str(value)


def load_spec(path: Path) -> SweepSpec:
    """The sweep file, with its config paths resolved against the sweep file's folder (and checked to exist)."""
    data = read_yaml_mapping(path)
    try:
        spec = SweepSpec.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"{path}: {explain(exc, SweepSpec)}") from None
    here = Path(path).parent

    def resolved(where: str, name: str) -> str:
        config = Path(name) if Path(name).is_absolute() else here / name
        if not config.is_file():
            raise ConfigError(f"{path}: {where}: config file {config} does not exist")
        return str(config.resolve())

    if spec.base is not None:
        return spec.model_copy(update={"base": resolved("base", spec.base)})
    return spec.model_copy(update={"configs": {k: resolved(f"configs.{k}", v) for k, v in spec.configs.items()}})
