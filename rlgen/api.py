"""The Python API, for notebooks and scripts; the `rlgen` command line is a thin layer over it.

    import rlgen
    run = rlgen.train("fashion_mlp", overrides={"train.epochs": 3})  # a shipped config, or a YAML path
    run.evaluate()                       # {'test_accuracy': 0.87, …}
    vae = rlgen.load("runs/vae")
    images = vae.sample(n=16, out="samples.png")
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any, Mapping

from pydantic import BaseModel

from rlgen import distributed
from rlgen.config import apply_overrides, load_config, validate
from rlgen.continuing import continue_with, finished_hint
from rlgen.device import resolve_device
from rlgen.errors import ConfigError, RlgenError, TrainingInterrupted
from rlgen.metrics import read_metrics
from rlgen.plot import plot_runs as draw_runs
from rlgen.registry import RunKind, kind_of_algo, kind_of_file, open_run, schemas
from rlgen.rundir import FollowerRunDir, RunDir, default_run_dir, new_meta
from rlgen.runstate import TrainResult
from rlgen.run_handle import IMAGE_SUFFIXES, VIDEO_SUFFIXES, Run, checked
from rlgen.shipped import find_config
from rlgen.summary import summary_table
from rlgen.threads import chosen_threads

Overrides = Mapping[str, Any] | list[str] | tuple[str, ...] | None


def resolve_config(config: str | Path | BaseModel | Mapping[str, Any], overrides: Overrides = None) -> tuple[Any, str]:
    """A validated config from a YAML path or a shipped config's name (rlgen/shipped.py), a config object or a
    mapping, with overrides applied; and a name for its default run directory."""
    overrides = overrides if isinstance(overrides, Mapping) else list(overrides or [])
    if isinstance(config, (str, Path)):
        path = find_config(config)
        return load_config(path, overrides, schemas()), path.stem
    data = config.model_dump(mode="json") if isinstance(config, BaseModel) else dict(config)
    cfg = validate(apply_overrides(data, overrides), schemas(), "config")
    return cfg, cfg.algo


def train(config: str | Path | BaseModel | Mapping[str, Any], overrides: Overrides = None, *,
          run_dir: str | Path | None = None, seed: int | None = None, device: str | None = None,
          threads: int | None = None, quiet: bool = False, overwrite: bool = False,
          init_from: str | Path | None = None) -> "Run":
    """Train the model a config describes (a YAML path, a shipped config's name such as "cartpole_ppo", a config
    object or a mapping) in a new run directory and return the finished run. `overrides`: {"train.epochs": 3} or
    ["train.epochs=3"]; `seed` and `device` override the config's. `threads` fixes the thread count (default:
    OMP_NUM_THREADS, else the kind of run chooses; see rlgen.threads). `overwrite`: a run already in `run_dir` is
    moved aside to `<run_dir>.old-<time>` (said on stderr), never deleted; without it such a run dir is refused.
    `init_from`: start from another run's best weights (a run of the same kind whose model has the same layers;
    the optimizer starts afresh), recorded in meta.json as info.init_from.
    Ctrl-C stops training with what was learned saved, and raises TrainingInterrupted (a KeyboardInterrupt naming
    the run dir)."""
    started = time.perf_counter()
    cfg, name, kind = check(config, overrides, seed=seed, device=device)
    checked = time.perf_counter() - started
    source = str(config) if isinstance(config, (str, Path)) else None
    world = distributed.launched_world()
    distributed.join(world, resolve_device(cfg.device))
    path = Path(run_dir) if run_dir else default_run_dir(Path(name), cfg.seed)
    start = _initial_weights(init_from, kind) if init_from is not None else None
    run = _new_run(world, path, cfg, kind, source, overwrite)
    if start is not None:
        run.update_meta(info={"init_from": start})
    handle = Run(run, cfg, kind)
    handle.result = _train(kind, cfg, run, quiet, resume=False, threads=threads)
    handle.result.timings = {"checks": checked, **handle.result.timings}
    return handle


def train_seeds(config: str | Path | BaseModel | Mapping[str, Any], seeds: list[int], overrides: Overrides = None,
                *, run_dir: str | Path | None = None, device: str | None = None, threads: int | None = None,
                quiet: bool = False, overwrite: bool = False) -> list["Run"]:
    """Train several seeds of one config at once, in this process, as one batched model (agents on the torch
    CartPole; see agents/seeds.py): each seed is trained exactly as `train(config, seed=s)` would train it, into its
    own ordinary run directory RUN_DIR/seed<s> (default RUN_DIR: runs/<config>/<time>-seeds). Returns one finished
    run per seed, in order. `overwrite`: as in `train`, for each seed's run dir."""
    if not seeds or len(set(seeds)) != len(seeds) or any(isinstance(s, bool) or not isinstance(s, int)
                                                          or not 0 <= s < 2**32 for s in seeds):
        raise RlgenError(f"seeds must be distinct whole numbers from 0 to 2**32 - 1, got {seeds!r}")
    if distributed.launched_world().active:
        raise RlgenError("batched seeds train in one process; run them without torchrun / --nproc")
    started = time.perf_counter()
    first, name, kind = check(config, overrides, seed=seeds[0], device=device)
    cfgs = [first, *(resolve_config(first, {"seed": seed})[0] for seed in seeds[1:])]  # checked once: only seeds differ
    problem = kind.batching_problem(first)
    if problem is not None:  # a setting the batch cannot train: bad input (exit 2), like any impossible config
        raise ConfigError(problem)
    checked = time.perf_counter() - started
    source = str(config) if isinstance(config, (str, Path)) else None
    default = default_run_dir(Path(name), seeds[0])  # runs/<config>/<time>-seed<s> → runs/<config>/<time>-seeds
    parent = Path(run_dir) if run_dir else default.with_name(default.name.replace(f"-seed{seeds[0]}", "-seeds"))
    runs: list[RunDir] = []
    try:
        for cfg in cfgs:
            runs.append(RunDir.create(parent / f"seed{cfg.seed}", cfg, kind.name, source, overwrite))
            _say_moved(runs[-1])
    except RlgenError:
        for run in runs:  # nothing half-made is left behind
            run.discard()
        raise
    results = _train_many(kind, cfgs, runs, quiet, threads)
    handles = []
    for run, cfg, result in zip(runs, cfgs, results):
        handle = Run(run, cfg, kind)
        handle.result = result
        handle.result.timings = {"checks": checked, **result.timings}
        handles.append(handle)
    return handles


def _train_many(kind: RunKind, cfgs: list[Any], runs: list[RunDir], quiet: bool, threads: int | None
                ) -> list[TrainResult]:
    """`_train` for batched seeds: every seed's run is locked while training, and one that learnt nothing before a
    failure or Ctrl-C is removed again."""
    try:
        with chosen_threads(threads, kind.adaptive_threads) as policy:
            for run in runs:
                run.update_meta(info=policy.describe())
            results = kind.train_seeds(cfgs, runs, quiet)
        for cfg, run, result in zip(cfgs, runs, results):
            result.hint = _hint(kind, cfg, run, result)
        return results
    except (KeyboardInterrupt, RlgenError) as exc:
        kept = [run for run in runs if run.has("checkpoint") and run.state().progress > 0]
        for run in runs:
            if run not in kept:
                run.discard()
        if isinstance(exc, KeyboardInterrupt):
            raise TrainingInterrupted(runs[0].path.parent, bool(kept)) from None
        raise
    finally:
        for run in runs:
            run.unlock()


def _hint(kind: RunKind, cfg: Any, run: RunDir, result: TrainResult) -> str | None:
    """The kind's hint for a finished run that learnt nothing (on rank 0, which has the metrics)."""
    if result.status == "running" or not distributed.current().is_main:
        return None
    return kind.hint(cfg, run, result)


def _initial_weights(source: str | Path, kind: RunKind) -> str:
    """The run `--init-from` names, checked before the new run is made: a trained run of the same kind."""
    if not kind.init_from:
        raise ConfigError(f"--init-from is for rlgen's own models; {kind.name} runs build their own")
    run, cfg, found = open_run(Path(source))
    if found.name != kind.name:
        raise ConfigError(f"--init-from {source} is a {cfg.algo} run (kind {found.name}); runs of kind {kind.name} "
                          f"start only from the weights of another {kind.name} run")
    if not run.has("model"):
        raise RlgenError(f"--init-from {source}: it has no model.safetensors (was it trained?)")
    return str(run.path.resolve())


def _say_moved(run: RunDir) -> None:
    if run.moved_to is not None:
        print(f"rlgen: moved the old run in {run.path} aside to {run.moved_to}", file=sys.stderr)


def _new_run(world: distributed.World, path: Path, cfg: Any, kind: RunKind, source: str | None,
             overwrite: bool = False) -> RunDir:
    """The new run's directory: created by rank 0 (the only writer), whose path every other rank then follows."""
    if not world.active:
        run = RunDir.create(path, cfg, kind.name, source, overwrite)
        _say_moved(run)
        return run
    if world.is_main:
        try:
            run = RunDir.create(path, cfg, kind.name, source, overwrite)
            _say_moved(run)
        except RlgenError as exc:
            distributed.from_main(None, str(exc))
            raise
        distributed.from_main(str(run.path))
        return run
    return FollowerRunDir(Path(distributed.from_main(None)), new_meta(cfg, kind.name, source))


def check(config: str | Path | BaseModel | Mapping[str, Any], overrides: Overrides = None, *,
          seed: int | None = None, device: str | None = None) -> tuple[Any, str, RunKind]:
    """Everything `train` checks before it creates a run directory: the config against its schema, the device, and
    what the config alone makes impossible (a layer that does not fit, an unknown environment, a model too large to
    hold). Returns the config, a name for its default run directory, and its kind."""
    extra = {**({"seed": seed} if seed is not None else {}), **({"device": device} if device else {})}
    cfg, name = resolve_config(config, overrides)
    if extra:
        cfg, _ = resolve_config(cfg, extra)
    kind = kind_of_algo(cfg.algo)
    resolve_device(cfg.device)
    kind.check(cfg)
    return cfg, name, kind


def _train(kind: RunKind, cfg: Any, run: RunDir, quiet: bool, resume: bool, threads: int | None) -> TrainResult:
    """Train while holding the run's lock, with the thread count chosen on purpose (recorded in meta.json). A new
    run that fails or is stopped before it learnt anything is removed again, so that the same command can simply be
    run again."""
    def learnt() -> bool:
        return run.has("checkpoint") and run.state().progress > 0

    started = time.perf_counter()
    try:
        with chosen_threads(threads, kind.adaptive_threads, distributed.current().local_size) as policy:
            run.update_meta(info=policy.describe())
            result = kind.train(cfg, run, quiet=quiet, resume=resume, threads=policy)
        result.hint = _hint(kind, cfg, run, result)
        total = time.perf_counter() - started
        result.timings["data, saving and the rest"] = total - sum(result.timings.values())
        return result
    except KeyboardInterrupt:
        saved = resume or learnt()
        if not saved:
            run.discard()
        raise TrainingInterrupted(run.path, saved) from None
    except RlgenError:
        if not resume and not learnt() and not (run.path / "metrics.csv").is_file():
            run.discard()
        raise
    finally:
        run.unlock()


def resume(path: str | Path, overrides: Overrides = None, *, device: str | None = None, threads: int | None = None,
           quiet: bool = False) -> "Run":
    """Continue an interrupted run from its last checkpoint, with its saved config (`device` may differ); or, with
    `overrides` of its budget ({"train.epochs": 30}, {"train.total_steps": 600_000}), continue a finished or
    early-stopped run from its last checkpoint. An override that would change the model or the data is refused."""
    handle = load(path)
    if overrides:
        continue_with(handle, overrides)
    finished = not overrides and handle.result is not None and handle.result.status != "running"
    if device:
        handle.config = resolve_config(handle.config, {"device": device})[0]
    world = distributed.launched_world()
    distributed.join(world, resolve_device(handle.config.device))
    if world.is_main:
        handle.run.lock()
    else:  # every rank reads the checkpoint (a shared file system across nodes); rank 0 alone writes
        handle.run = FollowerRunDir(handle.run.path, handle.run.meta)
    handle.result = _train(handle.kind, handle.config, handle.run, quiet, resume=True, threads=threads)
    if finished:  # its checkpoint was loaded (and checked), and nothing was left to train
        handle.result.hint = finished_hint(handle)
    return handle


def load(path: str | Path) -> "Run":
    """Open a run directory (finished or not) to evaluate it, look at it or continue it; its `result` is read from
    the run state as of its last checkpoint (None before the first)."""
    run, cfg, kind = open_run(Path(path))
    handle = Run(run, cfg, kind)
    if run.meta.state:
        rows = read_metrics(run.path / "metrics.csv") if (run.path / "metrics.csv").is_file() else []
        state = run.state()
        handle.result = run.result(state, rows[-1] if rows else {})
        if state.finished:
            handle.result.hint = kind.hint(cfg, run, handle.result)
    return handle


def plot_runs(runs: list[str | Path | "Run"], out: str | Path, *, labels: list[str] | None = None) -> Path:
    """Several runs' training curves overlaid in one PNG (`out`), one colour per run, the legend from `labels` or
    else the run directories' names. The runs must count their progress alike (all epochs, or all env steps)."""
    handles = [r if isinstance(r, Run) else load(r) for r in runs]
    if not handles:
        raise RlgenError("plot needs at least one run")
    if labels is not None and len(labels) != len(handles):
        raise RlgenError(f"{len(labels)} labels for {len(handles)} runs: give one label per run")
    units = sorted({h.meta.unit or "step" for h in handles})
    if len(units) > 1:
        raise RlgenError(f"these runs count progress in {' and '.join(units)}: plot together only runs of one unit")
    names = labels or _distinct_names([h.path for h in handles])
    out = checked(out, IMAGE_SUFFIXES)
    kinds = sorted({h.kind.title(h.config) for h in handles})
    draw_runs([(name, h.metrics()) for name, h in zip(names, handles)], units[0], out,
              f"{len(handles)} runs: {', '.join(kinds)}" if len(kinds) <= 3 else f"{len(handles)} runs")
    return out


def evaluate_file(path: str | Path, env: str, *, episodes: int = 100, seed: int = 0, greedy: bool = True,
                  algo: str | None = None, device: str = "auto", quiet: bool = False) -> dict[str, Any]:
    """Returns over `episodes` episodes of another tool's saved agent (a stable-baselines3 `.zip`: its own loader,
    after a warning that a zip runs code when loaded) on gymnasium's `env`, judged as rlgen's runs are. `algo`:
    the algorithm that saved it (default: read from the file)."""
    path = Path(path)
    return kind_of_file(path).evaluate_file(path, env, resolve_device(device), episodes=episodes, seed=seed,
                                            greedy=greedy, quiet=quiet, algo=algo)


def render_file(path: str | Path, env: str, out: str | Path | None = None, *, episodes: int = 1, seed: int = 0,
                fps: int = 50, human: bool = False, algo: str | None = None,
                device: str = "auto") -> tuple[int, list[float]]:
    """Film another tool's saved agent (see `evaluate_file`) playing greedily into a GIF or MP4 and/or a window."""
    path = Path(path)
    return kind_of_file(path).render_file(path, env, resolve_device(device), checked(out, VIDEO_SUFFIXES),
                                          episodes=episodes, seed=seed, fps=fps, human=human, algo=algo)


def _distinct_names(paths: list[Path]) -> list[str]:
    """The shortest trailing parts of the paths that tell the runs apart (seed0, seed1; a/run, b/run)."""
    for depth in range(1, max(len(p.parts) for p in paths) + 1):
        names = ["/".join(p.parts[-depth:]) for p in paths]
        if len(set(names)) == len(names):
            return names
    return [str(p) for p in paths]


def summary(config: str | Path | BaseModel | Mapping[str, Any], overrides: Overrides = None) -> str:
    """The per-layer table of the model a config (or a run directory) builds, without training it."""
    if isinstance(config, (str, Path)) and Path(config).is_dir():
        return load(config).summary()
    cfg, name = resolve_config(config, overrides)
    model, forward = kind_of_algo(cfg.algo).summary_model(cfg, None)
    return summary_table(model, forward, f"{cfg.algo} — {name}")
