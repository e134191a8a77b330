"""The registry of run kinds. A kind (agents, autoencoders, classifiers, …) is one `RunKind` subclass beside the
models it trains, announced in the `rlgen.kinds` entry-point group of its package's pyproject.toml:

    [project.entry-points."rlgen.kinds"]
    classifier = "rlgen.classifiers.kind:KIND"

The core never names a kind: the CLI and the Python API look up a config's `algo` here, and a run's `kind` in its
meta.json. Adding a kind touches no core file.
"""

from __future__ import annotations

import functools
from importlib.metadata import entry_points
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import torch
from pydantic import BaseModel
from torch import nn

from rlgen.errors import RlgenError
from rlgen.rundir import RunDir
from rlgen.runstate import TrainResult
from rlgen.threads import ThreadPolicy

if TYPE_CHECKING:
    from rlgen.export import Exportable

ENTRY_POINT_GROUP = "rlgen.kinds"


class RunKind:
    """One kind of run: its config schemas, its training, and what can be done with a finished run.

    Verbs a kind does not support (sampling from a classifier, say) fail with one line naming the run."""

    name: str = ""
    configs: dict[str, type[BaseModel]] = {}
    """algo name → config schema."""
    adaptive_threads = False
    """True: train with as many threads as other processes leave cores free (large matrix multiplies gain from
    them); False: one thread (see rlgen.threads)."""

    def check(self, cfg: Any) -> None:
        """Fail with one line on what the config alone makes impossible (a layer that does not fit, an unknown
        environment), before a run directory is created."""

    def train(self, cfg: Any, run: RunDir, quiet: bool = False, resume: bool = False,
              threads: ThreadPolicy | None = None) -> TrainResult:
        """Train (or continue) a run; `threads` is the process's thread policy, set up by the caller."""
        raise NotImplementedError

    continuable: tuple[str, ...] = ()
    """The config keys `--resume` may change to continue a run: its budget, never its model or its data."""

    def continue_problem(self, cfg: Any, state: Any) -> str | None:
        """Why a run with this (changed) config and RunState has nothing left to train (None: it can go on)."""
        return None

    init_from = True
    """A new run of this kind can start from another run's weights (`--init-from`)."""

    def hint(self, cfg: Any, run: RunDir, result: TrainResult) -> str | None:
        """When a finished run learnt nothing (chance-level accuracy, a policy no better than random): one clause
        saying so and naming the setting to change first, for the final line (rlgen/hints.py). None otherwise."""
        return None

    def batching_problem(self, cfg: Any) -> str | None:
        """Why several seeds of this config cannot train at once as one batched model (None when they can)."""
        return f"batched seeds are for agents on the torch CartPole; {cfg.algo} runs train one seed at a time"

    def train_seeds(self, cfgs: list[Any], runs: list[RunDir], quiet: bool = False) -> list[TrainResult]:
        """Train several seeds of one config (`cfgs` differ in their seed only) as one batched model, each into
        its own ordinary run directory; call only when `batching_problem` is None."""
        raise NotImplementedError

    def evaluate(self, run: RunDir, cfg: Any, device: torch.device, *, episodes: int = 100, seed: int = 0,
                 greedy: bool = True, nll_samples: int | None = None, quiet: bool = True) -> dict[str, Any]:
        """Test-set or environment metrics of the run's best weights, as a flat JSON-able dict."""
        raise NotImplementedError

    def describe(self, report: dict[str, Any]) -> str:
        """One line for people from `evaluate`'s report."""
        return ", ".join(f"{k} {v:.5g}" if isinstance(v, float) else f"{k} {v}" for k, v in report.items()
                         if not isinstance(v, (dict, list)) and k != "run_dir")

    def summary_model(self, cfg: Any, run: RunDir | None) -> tuple[nn.Module, Callable[[nn.Module], Any]]:
        """The model a config builds, untrained, and a function that runs it once on example input (for `rlgen
        summary`; `trained_model` is the trained one)."""
        raise NotImplementedError

    def trained_model(self, run: RunDir, cfg: Any, device: torch.device) -> Any:
        """The run's best weights in its model, in evaluation mode on `device` (`Run.model`)."""
        raise NotImplementedError

    # -- verbs only some kinds have ---------------------------------------------------------------------------------
    def _cannot(self, run: RunDir, cfg: Any, verb: str):
        raise RlgenError(f"{run.path} is a {cfg.algo} run (kind {self.name}); it cannot {verb}")

    # Each writes `out` when given and returns what it made.
    def sample(self, run: RunDir, cfg: Any, device: torch.device, out: Path | None, *, n: int, seed: int,
               label: int | None = None, temperature: float = 1.0) -> torch.Tensor:
        self._cannot(run, cfg, "sample new images")

    def reconstruct(self, run: RunDir, cfg: Any, device: torch.device, out: Path | None, *, n: int,
                    seed: int) -> list[torch.Tensor]:
        self._cannot(run, cfg, "reconstruct images")

    def interpolate(self, run: RunDir, cfg: Any, device: torch.device, out: Path | None, *, steps: int, pairs: int,
                    seed: int) -> list[torch.Tensor]:
        self._cannot(run, cfg, "interpolate in a latent space")

    def render(self, run: RunDir, cfg: Any, device: torch.device, out: Path | None, *, episodes: int, seed: int,
               fps: int, human: bool) -> tuple[int, list[float]]:
        self._cannot(run, cfg, "render episodes (only agents play an environment)")

    def fid(self, run: RunDir, cfg: Any, device: torch.device, classifier: Path, *, n: int,
            seed: int, temperature: float = 1.0, quiet: bool = True) -> dict[str, Any]:
        """Fréchet distance of n generated images to the test images on a classifier run's features."""
        self._cannot(run, cfg, "generate images for a Fréchet distance")

    def exportable(self, run: RunDir, cfg: Any, part: str | None) -> "Exportable":
        """What `rlgen export` writes for this run (rlgen/export.py): the `part` asked for (None: the kind's
        default), on the CPU, with its sample inputs and rlgen's answer to them."""
        self._cannot(run, cfg, "be exported")

    def extra_plots(self, run: RunDir, cfg: Any, device: torch.device, out: Path) -> list[Path]:
        """Pictures beside the training curves that only this kind draws (a classifier's confusion matrix)."""
        return []

    model_files: tuple[str, ...] = ()
    """Suffixes of other tools' model files this kind can evaluate and render (`rlgen evaluate FILE --env ID`)."""

    def evaluate_file(self, path: Path, env_id: str, device: torch.device, *, episodes: int, seed: int,
                      greedy: bool, quiet: bool, algo: str | None) -> dict[str, Any]:
        raise RlgenError(f"{path}: rlgen cannot evaluate this kind of file")

    def render_file(self, path: Path, env_id: str, device: torch.device, out: Path | None, *, episodes: int,
                    seed: int, fps: int, human: bool, algo: str | None) -> tuple[int, list[float]]:
        raise RlgenError(f"{path}: rlgen cannot render this kind of file")

    def title(self, cfg: Any) -> str:
        """What the run's model is, for figure titles."""
        return cfg.algo

    def study_figure(self, cells: dict[str, list[tuple[RunDir, Any]]], out: Path, title: str) -> Path | None:
        """A picture of a sweep's runs that only this kind draws (a forecaster's forecasts), written into the study
        folder `out`; `cells`: each cell's label → its finished runs with their configs. None: nothing to draw."""
        return None


@functools.cache
def kinds() -> dict[str, RunKind]:
    """Every installed kind, by name."""
    found: dict[str, RunKind] = {}
    for point in entry_points(group=ENTRY_POINT_GROUP):
        kind = point.load()
        if not isinstance(kind, RunKind) or kind.name != point.name:
            raise RlgenError(f"entry point {point.name} = {point.value} is not a RunKind named {point.name!r}")
        found[kind.name] = kind
    if not found:
        raise RlgenError("no run kinds are installed (the rlgen.kinds entry points are missing); reinstall rlgen")
    return found


@functools.cache
def schemas() -> dict[str, type[BaseModel]]:
    """algo name → config schema, over every kind; an algo claimed by two kinds is an installation error."""
    table: dict[str, type[BaseModel]] = {}
    owner: dict[str, str] = {}
    for kind in kinds().values():
        for algo, schema in kind.configs.items():
            if algo in owner:
                raise RlgenError(f"algo {algo!r} is claimed by kinds {owner[algo]!r} and {kind.name!r}")
            table[algo], owner[algo] = schema, kind.name
    return table


def kind_of_algo(algo: str) -> RunKind:
    for kind in kinds().values():
        if algo in kind.configs:
            return kind
    raise RlgenError(f"algo {algo!r} is not one of {', '.join(sorted(schemas()))}")


def open_run(path: Path) -> tuple[RunDir, Any, RunKind]:
    """Open a run dir, rebuild its config and find its kind; the kind in meta.json must be the one its algo has."""
    run, cfg = RunDir.open(path, schemas())
    kind = kind_of_algo(cfg.algo)
    found = run.meta.kind
    if found != kind.name:
        raise RlgenError(f"{path} is a run of kind {found!r}, which does not match its config ({cfg.algo}: "
                         f"kind {kind.name!r})")
    return run, cfg, kind


def kind_of_file(path: Path) -> RunKind:
    """The kind that reads another tool's model file of this suffix (a stable-baselines3 .zip)."""
    for kind in kinds().values():
        if path.suffix.lower() in kind.model_files:
            return kind
    known = sorted({suffix for kind in kinds().values() for suffix in kind.model_files})
    raise RlgenError(f"{path} is a file, not a run dir; rlgen evaluates and renders only run dirs and model files "
                     f"of {', '.join(known) or 'no other kind'}")


def require_model(run: RunDir) -> None:
    if not run.has("model"):
        raise RlgenError(f"{run.path} has no model.safetensors yet (was training stopped before its first save?)")
