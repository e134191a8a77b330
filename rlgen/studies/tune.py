"""Tuning on Optuna: a search space over config keys, trials that train ordinary runs (OUT/trials/<n>/seed<s>),
Optuna's TPE sampler, a median pruner fed by each run's own evaluations as they are logged, and a journal file
(OUT/study.journal) that several processes, or machines sharing a file system, can work on at once. Running the
same command again continues the study. OUT/best.yaml holds the best trial's overrides (for `rlgen train CONFIG
--set-file OUT/best.yaml`), OUT/trials.csv every trial.

A space file:

    set: {train.total_steps: 200000}        # every trial
    params:
      optimizer.lr: {low: 0.0003, high: 0.03, log: true}
      ppo.epochs: {low: 2, high: 10}        # integers when both bounds are
      env.num_envs: {choices: [8, 16, 32, 64]}
    seeds: [0, 1, 2]                        # each trial's value is the mean over these
    objective: seconds_to_solve             # or best / final (of `metric`, default the run's monitored one)
    unsolved_seconds: 30                    # added to the seconds of a run that did not solve
    direction: minimize                     # best / final: maximize (default) or minimize
"""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from rlgen.atomic import atomic_write_text
from rlgen.config import override_string
from rlgen.errors import RlgenError
from rlgen.studies.report import write_csv
from rlgen.studies.space import SpaceSpec, base_params, check_space, decoded, load_space, suggest
from rlgen.studies.sweep import StudyDir, shared_env

JOURNAL = "study.journal"
STUDY = "rlgen"


def _study(out: Path, space: SpaceSpec, create: bool, seed: int | None = None):
    import optuna
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = JournalStorage(JournalFileBackend(str(out / JOURNAL)))
    sampler = optuna.samplers.TPESampler(seed=seed)  # each worker its own seed, or they would propose alike
    pruner = optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=1) \
        if space.objective != "seconds_to_solve" else optuna.pruners.NopPruner()
    if create:
        return optuna.create_study(study_name=STUDY, storage=storage, sampler=sampler, pruner=pruner,
                                   direction=space.study_direction(), load_if_exists=True)
    return optuna.load_study(study_name=STUDY, storage=storage, sampler=sampler, pruner=pruner)


def _trial_value(trial, config: Path, space: SpaceSpec, out: Path, threads: int | None = None) -> float:
    """Train the trial's runs (one per seed) and return the mean of their values; the first seed's evaluations
    feed the pruner."""
    import json

    import optuna

    from rlgen import api
    from rlgen.metrics import listening

    settings = {**space.set, **suggest(trial, space)}
    overrides = [override_string(k, v) for k, v in settings.items()]
    values = []
    for index, seed in enumerate(space.seeds):
        path = out / "trials" / f"{trial.number:04d}" / f"seed{seed}"
        watched: list[str] = [space.metric] if space.metric else []

        def report(step: int, metrics, first: bool = index == 0, path: Path = path, watched=watched) -> None:
            if not first:
                return
            if not watched:  # the run's monitored metric, which its loop writes into meta.json as it starts
                watched.append(json.loads((path / "meta.json").read_text(encoding="utf-8")).get("monitor", ""))
            value = metrics.get(watched[0])
            if value is not None and math.isfinite(float(value)):
                trial.report(float(value), step)
                if trial.should_prune():
                    raise optuna.TrialPruned(f"pruned at step {step}")

        with listening(report):
            run = api.train(config, overrides, run_dir=path, seed=seed, threads=threads, quiet=True)
        state, monitor = run.run.state(), run.run.meta.monitor
        metric = space.metric or monitor
        if space.objective == "seconds_to_solve":
            solved = state.status == "solved"
            values.append(state.train_seconds + (0.0 if solved else space.unsolved_seconds))
        elif space.objective == "best" and metric == monitor:
            values.append(state.best_score if state.best_score is not None else math.nan)
        else:
            column = [row[metric] for row in run.metrics() if metric in row]
            values.append(column[-1] if column else math.nan)
    return float(sum(values) / len(values))


def work(config: Path, space: SpaceSpec, out: Path, trials: int, threads: int | None = None, worker: int = 0,
         quiet: bool = False) -> None:
    """One worker: run trials of the shared study until `trials` of them have finished (complete or pruned), or as
    many have failed."""
    study = _study(out, space, create=False)
    study = _study(out, space, create=False, seed=1000 * worker + len(study.get_trials(deepcopy=False)))

    def objective(trial) -> float:
        value = _trial_value(trial, config, space, out, threads)
        if not math.isfinite(value):
            raise RlgenError(f"trial {trial.number}: its runs gave no {space.objective} value")
        return value

    def enough(study, trial) -> None:
        if not quiet:
            value = f" {space.objective} {trial.value:.4g}" if trial.value is not None else ""
            params = ", ".join(f"{k.rsplit('.', 1)[-1]}={v:.4g}" if isinstance(v, float)
                               else f"{k.rsplit('.', 1)[-1]}={v}" for k, v in trial.params.items())
            print(f"trial {trial.number} {trial.state.name.lower()}{value} ({params}); {_finished(study)} of {trials} "
                  f"finished", file=sys.stderr, flush=True)
        # trials other workers are running will count too: start another only while there is room for it
        if _finished(study) + _running(study) >= trials or _failed(study) - failed_before >= trials:
            study.stop()

    failed_before = _failed(study)  # (trials an earlier, killed study left running count as failed, not as tries)
    if _finished(study) + _running(study) < trials:
        study.optimize(objective, callbacks=[enough], catch=(RlgenError,))


def _finished(study) -> int:
    from optuna.trial import TrialState

    return len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED)))


def _running(study) -> int:
    from optuna.trial import TrialState

    return len(study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)))


def _failed(study) -> int:
    from optuna.trial import TrialState

    return len(study.get_trials(deepcopy=False, states=(TrialState.FAIL,)))


def tune(config: Path, space_path: Path, out: Path, trials: int, jobs: int, quiet: bool = False) -> dict[str, Any]:
    """Run the study to `trials` finished trials in `jobs` processes (each run taking its share of the cores), then
    write OUT/trials.csv and OUT/best.yaml. Trials an earlier, killed study left running are marked failed and tried
    again with the same parameters."""
    from optuna.trial import TrialState

    space = load_space(space_path)
    check_space(config, space)
    folder = StudyDir(out, record="study.yaml")
    folder.claim({"config": str(Path(config).resolve()), "space": space.model_dump(mode="json")})
    try:
        study = _study(folder.out, space, create=True)
        if not study.get_trials(deepcopy=False):
            base = base_params(config, space)
            if base:  # trial 0 is the config as it is: the study's best is then at least as good, measured alike
                study.enqueue_trial(base)
        for stale in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
            study._storage.set_trial_state_values(stale._trial_id, TrialState.FAIL)
            study.enqueue_trial(stale.params, skip_if_exists=False)
        if jobs == 1:
            work(config, space, folder.out, trials, quiet=quiet)
        else:
            args = [sys.executable, "-m", "rlgen", "tune", str(config), "--space", str(space_path), "--trials",
                    str(trials), "--out", str(folder.out), *(["--quiet"] if quiet else []), "--worker"]
            env = shared_env(jobs)
            workers = [subprocess.Popen([*args, str(i)], env=env) for i in range(jobs)]
            try:
                codes = [w.wait() for w in workers]
            except KeyboardInterrupt:
                for w in workers:
                    w.wait()
                raise
            if any(code == 130 for code in codes):
                raise KeyboardInterrupt
            if any(codes):
                raise RlgenError(f"a tuning worker failed (exit codes {codes})")
        return write_results(folder.out, space, _study(folder.out, space, create=False))
    finally:
        folder.release()


def write_results(out: Path, space: SpaceSpec, study) -> dict[str, Any]:
    from optuna.trial import TrialState

    trials = study.get_trials(deepcopy=False)
    rows = [{"trial": t.number, "state": t.state.name.lower(), "value": t.value,
             "seconds": (t.datetime_complete - t.datetime_start).total_seconds()
             if t.datetime_complete and t.datetime_start else None, **t.params} for t in trials]
    write_csv(out / "trials.csv", rows)
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    if not complete:
        raise RlgenError(f"{out}: no trial has completed; nothing to choose from")
    best = study.best_trial
    settings = yaml.safe_dump({**space.set, **decoded(space, best.params)}, sort_keys=False)
    atomic_write_text(out / "best.yaml", f"# rlgen tune: trial {best.number}, {space.objective} {best.value:.6g} "
                      f"(mean over seeds {space.seeds})\n{settings}")
    return {"best": best, "trials": rows, "complete": len(complete),
            "pruned": sum(t.state == TrialState.PRUNED for t in trials), "files": [str(out / "trials.csv"),
                                                                                  str(out / "best.yaml")]}
