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

import torch
from pydantic import BaseModel

from rlgen import distributed
from rlgen.config import apply_overrides, load_config, validate
from rlgen.data import DataConfig, class_names, parse_label
from rlgen.device import resolve_device
from rlgen.errors import ConfigError, RlgenError, TrainingInterrupted
from rlgen.metrics import read_metrics
from rlgen.outputs import check_output_path
from rlgen.plot import plot_curves
from rlgen.plot import plot_runs as draw_runs
from rlgen.registry import RunKind, kind_of_algo, kind_of_file, open_run, schemas
from rlgen.rundir import FollowerRunDir, RunDir, default_run_dir, new_meta
from rlgen.runstate import RunMeta, TrainResult
from rlgen.shipped import find_config
from rlgen.summary import summary_table
from rlgen.threads import chosen_threads

Overrides = Mapping[str, Any] | list[str] | tuple[str, ...] | None
IMAGE_SUFFIXES = (".png",)
VIDEO_SUFFIXES = (".gif", ".mp4")


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
        _continue_with(handle, overrides)
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
        handle.result.hint = _finished(handle)
    return handle


def _finished(handle: "Run") -> str:
    """What to say when a finished run is resumed with nothing changed: how to give it more to do."""
    said = "it had finished: nothing more was trained"
    if not handle.kind.continuable:
        return said
    problem = handle.kind.continue_problem(handle.config, handle.run.state())
    how = problem.split(": ", 1)[-1] if problem else "continue it with a larger train.patience or budget (--set)"
    return f"{said}; {how}"


def _continue_with(handle: "Run", overrides: Overrides) -> None:
    """Give a run a larger budget (only the kind's `continuable` keys may change), written to its config.yaml, with
    the change recorded in meta.json (info.continued); a finished run is then reopened."""
    from rlgen.config import dump_config

    before = handle.config
    after, _ = resolve_config(before, overrides)
    old, new = _flat(before.model_dump(mode="json")), _flat(after.model_dump(mode="json"))
    changed = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
    kind = handle.kind
    refused = [k for k in changed if k not in kind.continuable]
    if refused:
        allowed = ", ".join(kind.continuable) or "nothing"
        raise ConfigError(f"--resume continues a run with a larger budget; {', '.join(refused)} would change its model "
                          f"or data (a {kind.name} run may change {allowed}): train a new run, with --init-from "
                          f"{handle.path} to start from its weights")
    state = handle.run.state()
    problem = kind.continue_problem(after, state)
    if problem is not None:
        raise ConfigError(f"{handle.path} cannot continue: {problem}")
    if changed and distributed.launched_world().is_main:
        from rlgen.atomic import atomic_write_text

        atomic_write_text(handle.path / "config.yaml", dump_config(after))
        record = {"at": state.progress, "set": {k: new.get(k) for k in changed}}
        handle.run.update_meta(info={"continued": [*handle.meta.info.get("continued", []), record]})
    handle.config = after
    handle.run.reopen = state.finished


def _flat(tree: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in tree.items():
        if isinstance(value, Mapping):
            out.update(_flat(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


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


class Run:
    """A run directory with its typed config and its kind; what can be done with it depends on the kind."""

    def __init__(self, run: RunDir, config: Any, kind: RunKind):
        self.run, self.config, self.kind = run, config, kind
        self.result: TrainResult | None = None
        """What training returned (or, for a run opened with `load`, its state as of the last checkpoint)."""

    def __repr__(self) -> str:
        return f"Run({str(self.path)!r}, algo={self.config.algo!r}, kind={self.kind.name!r})"

    @property
    def path(self) -> Path:
        return self.run.path

    @property
    def meta(self) -> RunMeta:
        return self.run.meta

    @property
    def model(self) -> Any:
        """The trained model: the run's best weights (model.safetensors) in the model its config builds, in eval
        mode, on the CPU; loaded anew each time it is read (`load_model` for another device). An autoencoder,
        classifier or forecaster is an `EpochModel` (a torch module), an rlgen agent its `ActorCritic`, an SB3 run
        stable-baselines3's own algorithm object."""
        return self.load_model()

    def load_model(self, device: str = "cpu") -> Any:
        """`model` on `device` ("cpu", "cuda", "auto")."""
        return self.kind.trained_model(self.run, self.config, resolve_device(device))

    def metrics(self) -> list[dict[str, float]]:
        """The rows of metrics.csv (one per iteration or epoch)."""
        path = self.path / "metrics.csv"
        if not path.is_file():
            raise RlgenError(f"{self.path} has no metrics.csv yet")
        return read_metrics(path)

    def evaluate(self, *, episodes: int = 100, seed: int = 0, greedy: bool = True, nll_samples: int | None = None,
                 device: str = "auto", quiet: bool = False, threads: int | None = None) -> dict[str, Any]:
        """Test-set metrics (models trained on data) or returns over `episodes` greedy episodes (agents), with a
        progress bar where evaluating takes long (episodes, the VAE's importance sampling; `quiet=True`: none). `threads`:
        as in `train` (default: OMP_NUM_THREADS, else the kind of run chooses)."""
        with chosen_threads(threads, self.kind.adaptive_threads):
            return self.kind.evaluate(self.run, self.config, resolve_device(device), episodes=episodes, seed=seed,
                                      greedy=greedy, nll_samples=nll_samples, quiet=quiet)

    def fid(self, classifier: str | Path, *, n: int = 10_000, seed: int = 0, device: str = "auto",
            temperature: float = 1.0, threads: int | None = None, quiet: bool = False) -> dict[str, Any]:
        """Fréchet distance of n generated images to the test images, on the features of a trained classifier run
        (with the train-vs-test floor, and for a conditional VAE the label accuracy of its samples). `temperature`:
        as in `sample`; `threads`, `quiet`: as in `evaluate`."""
        if not 2 <= n <= 10**6:
            raise RlgenError(f"n must be between 2 and 1,000,000 images, got {n}")
        with chosen_threads(threads, self.kind.adaptive_threads):
            return self.kind.fid(self.run, self.config, resolve_device(device), Path(classifier), n=n, seed=seed,
                                 temperature=_temperature(temperature), quiet=quiet)

    def describe(self, report: dict[str, Any]) -> str:
        return self.kind.describe(report)

    def sample(self, n: int = 64, *, seed: int = 0, out: str | Path | None = None, device: str = "auto",
               label: int | str | None = None, temperature: float = 1.0) -> torch.Tensor:
        """n generated images (n, C, H, W) in [0, 1], always n; `out`: also write them as a PNG grid. A conditional
        VAE draws class `label` (a number or a name: 8 or "Bag"), or with no label the classes in turn (n = 100: ten
        of each, one row per class).
        `temperature` (0 to 10) scales the latent noise: below 1, fewer odd samples and less variety."""
        data = getattr(self.config, "data", None)
        names = class_names(data) if isinstance(data, DataConfig) else None
        chosen = (parse_label(label, names) if names else parse_label(label)) if label is not None else None
        return self.kind.sample(self.run, self.config, resolve_device(device), _checked(out, IMAGE_SUFFIXES), n=n,
                                seed=seed, label=chosen, temperature=_temperature(temperature))

    def reconstruct(self, n: int = 10, *, seed: int = 0, out: str | Path | None = None,
                    device: str = "auto") -> list[torch.Tensor]:
        """Rows of images: n test images, then their reconstructions (denoisers: corrupted, then denoised)."""
        return self.kind.reconstruct(self.run, self.config, resolve_device(device), _checked(out, IMAGE_SUFFIXES),
                                     n=n, seed=seed)

    def interpolate(self, steps: int = 10, pairs: int = 4, *, seed: int = 0, out: str | Path | None = None,
                    device: str = "auto") -> list[torch.Tensor]:
        """Rows of images, each a straight walk in latent space between two test images."""
        return self.kind.interpolate(self.run, self.config, resolve_device(device), _checked(out, IMAGE_SUFFIXES),
                                     steps=steps, pairs=pairs, seed=seed)

    def render(self, out: str | Path | None = None, *, episodes: int = 1, seed: int = 0, fps: int = 50,
               human: bool = False, device: str = "auto") -> tuple[int, list[float]]:
        """Film the agent playing greedily into a GIF or MP4 (`out`) and/or a window; returns (frames, returns)."""
        return self.kind.render(self.run, self.config, resolve_device(device), _checked(out, VIDEO_SUFFIXES),
                                episodes=episodes, seed=seed, fps=fps, human=human)

    def plot(self, out: str | Path, *, device: str = "auto") -> list[Path]:
        """Training curves as a PNG, plus the pictures only this kind draws (a classifier's confusion matrix)."""
        out = _checked(out, IMAGE_SUFFIXES)
        plot_curves(self.metrics(), self.meta, out, f"{self.kind.title(self.config)} — {self.path.name}")
        return [out, *self.kind.extra_plots(self.run, self.config, resolve_device(device), out)]

    def export(self, out: str | Path, *, format: str = "onnx", part: str | None = None) -> dict[str, Any]:
        """Write the trained model to `out` as ONNX (`.onnx`) or TorchScript (`.pt`), checked against rlgen's own
        answers before it replaces anything (rlgen/export.py). `part`: an autoencoder's "encoder" or "decoder"
        (agents export their greedy "policy", classifiers the "classifier", forecasters the "forecaster").
        Returns the report: file, signature, max |difference| on the sample inputs, tolerance."""
        from rlgen.export import check_export_request, export

        check_export_request(format, Path(out))  # before any model is loaded
        with chosen_threads(None, False):
            return export(self.kind.exportable(self.run, self.config, part), format, Path(out))

    def summary(self) -> str:
        """A per-layer table of the model: output shapes and parameter counts."""
        model, forward = self.kind.summary_model(self.config, self.run)
        return summary_table(model, forward, f"{self.config.algo} — {self.path}")


def _temperature(value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 10:
        raise RlgenError(f"temperature must be a number from 0 to 10 (1 samples the model as trained), got {value!r}")
    return float(value)


def _checked(out: str | Path | None, suffixes: tuple[str, ...]) -> Path | None:
    if out is None:
        return None
    check_output_path(Path(out), suffixes)
    return Path(out)


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
    out = _checked(out, IMAGE_SUFFIXES)
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
    return kind_of_file(path).render_file(path, env, resolve_device(device), _checked(out, VIDEO_SUFFIXES),
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
