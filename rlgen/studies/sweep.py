"""Running a sweep: every (cell, seed) as an ordinary `rlgen train` in its own process, `jobs` at a time, each with
its share of the cores, into OUT/runs/<cell>/seed<N>; where a cell's config allows it (and `batch_seeds` is on),
its new seeds train together in one `rlgen train --seeds` process instead (agents/seeds.py), which counts as one
job and writes the same run directories. Resumable: a finished run is skipped, an interrupted one is
continued with `train --resume`, one killed before it learnt anything starts again. OUT/sweep.yaml keeps the sweep
that OUT belongs to, OUT/wall_seconds.json each finished run's wall time; the report (rlgen.studies.report) is
drawn from these and the run directories."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path

import yaml

from rlgen.atomic import atomic_write_text
from rlgen.config import override_string
from rlgen.errors import RlgenError
from rlgen.metrics import ProgressBar
from rlgen.rundir import LOCK, RunDir
from rlgen.studies.spec import Cell, SweepSpec
from rlgen.threads import SHARED_BY

SPEC_COPY = "sweep.yaml"
WALL_TIMES = "wall_seconds.json"


@dataclass(frozen=True)
class PlannedRun:
    cell: Cell
    seed: int
    path: Path

    @property
    def key(self) -> str:
        return f"{self.cell.name}/seed{self.seed}"


def planned_runs(spec: SweepSpec, out: Path) -> list[PlannedRun]:
    return [PlannedRun(cell, seed, out / "runs" / cell.name / f"seed{seed}") for cell in spec.cells()
            for seed in spec.seeds]


def spec_record(spec: SweepSpec) -> dict:
    """What OUT/sweep.yaml holds: the sweep, its config paths absolute (as `load_spec` resolved them)."""
    return spec.model_dump(mode="json", exclude_defaults=True)


def run_state(run: PlannedRun) -> str:
    """"new", "partial" (a checkpoint to continue from) or "done"."""
    if not (run.path / "checkpoint.safetensors").is_file():
        return "new"
    return "done" if RunDir(run.path).state().finished else "partial"  # (meta.json checked field by field)


@dataclass(frozen=True)
class Task:
    """One training process of a sweep: one run (new, or resumed) or a batch of one cell's new seeds."""

    runs: tuple[PlannedRun, ...]
    resume: bool = False

    def command(self, spec: SweepSpec) -> list[str]:
        args = [sys.executable, "-m", "rlgen", "train"]
        first = self.runs[0]
        if self.resume:
            return [*args, "--resume", str(first.path), "--quiet"]
        base = spec.base_of(first.cell)
        for key, value in {**spec.set, **first.cell.overrides}.items():
            args += ["--set", override_string(key, value)]
        if len(self.runs) > 1:
            seeds = ",".join(str(run.seed) for run in self.runs)
            return [*args, str(base), "--seeds", seeds, "--run-dir", str(first.path.parent), "--quiet"]
        return [*args, str(base), "--seed", str(first.seed), "--run-dir", str(first.path), "--quiet"]


def plan_tasks(spec: SweepSpec, batchable: set[str], todo: list[tuple[PlannedRun, bool]]) -> list[Task]:
    """The processes that train what is left: resumed runs alone; a cell's new seeds in one batch where its config
    allows (`batchable`: the names of such cells), else one process each."""
    tasks = [Task((run,), True) for run, resume in todo if resume]
    new: dict[str, list[PlannedRun]] = {}
    for run, resume in todo:
        if not resume:
            new.setdefault(run.cell.name, []).append(run)
    for runs in new.values():
        if spec.batch_seeds and len(runs) > 1 and runs[0].cell.name in batchable:
            tasks.append(Task(tuple(runs)))
        else:
            tasks += [Task((run,)) for run in runs]
    return tasks


def shared_env(jobs: int) -> dict[str, str]:
    """The environment of `jobs` training processes run at once: each run's own thread policy then takes its share
    of the cores (agents one thread, models trained on data cores // jobs; OMP_NUM_THREADS or --threads still
    fix it)."""
    return {**os.environ, SHARED_BY: str(jobs)}


def check_cells(spec: SweepSpec) -> set[str]:
    """Every cell's config is checked before any run starts: a bad value is one line naming the cell. Returns the
    names of the cells whose seeds can train as one batch."""
    from rlgen import api

    batchable = set()
    for cell in spec.cells():
        overrides = [override_string(k, v) for k, v in {**spec.set, **cell.overrides}.items()]
        try:
            cfg, _, kind = api.check(spec.base_of(cell), overrides, seed=spec.seeds[0])
        except RlgenError as exc:
            raise RlgenError(f"sweep cell {cell.label()}: {exc}", exit_code=exc.exit_code) from None
        if kind.batching_problem(cfg) is None:
            batchable.add(cell.name)
    return batchable


class StudyDir:
    """OUT: one study's runs, records and results (a sweep's or a tuning's); one process at a time (a lock the OS
    releases on exit)."""

    def __init__(self, out: Path, record: str = SPEC_COPY):
        self.out = Path(out)
        self.record_name = record

    def claim(self, record: dict) -> None:
        """Lock OUT and check it belongs to this sweep (a new OUT is made and stamped with it)."""
        import fcntl

        try:
            self.out.mkdir(parents=True, exist_ok=True)
            self._lock = open(self.out / LOCK, "a+", encoding="utf-8")
        except OSError as exc:
            raise RlgenError(f"cannot use sweep folder {self.out}: {exc.strerror}") from None
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RlgenError(f"{self.out} is in use by another rlgen sweep or tuning; wait for it or choose another "
                             f"--out") from None
        copy = self.out / self.record_name
        if copy.exists():
            if self.record() != record:
                raise RlgenError(f"{self.out} holds another study (its {self.record_name} differs); choose another "
                                 f"--out")
        else:
            atomic_write_text(copy, yaml.safe_dump(record, sort_keys=False))

    def release(self) -> None:
        lock = getattr(self, "_lock", None)
        if lock is not None:
            lock.close()  # closing the file releases the lock
            self._lock = None

    def record(self) -> dict:
        from rlgen.config import read_yaml_mapping

        return read_yaml_mapping(self.out / self.record_name)

    def wall_times(self) -> dict[str, float]:
        path = self.out / WALL_TIMES
        if not path.exists():
            return {}
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            raise RlgenError(f"{path} is damaged (not a JSON object of run wall times)") from None
        if not isinstance(data, dict):
            raise RlgenError(f"{path} is damaged (not a JSON object of run wall times)")
        return {str(k): float(v) for k, v in data.items() if isinstance(v, (int, float))}

    def add_wall_time(self, key: str, seconds: float) -> None:
        times = self.wall_times()
        times[key] = times.get(key, 0.0) + seconds  # an interrupted run's parts add up
        atomic_write_text(self.out / WALL_TIMES, json.dumps(times, indent=1, sort_keys=True))


def run_sweep(spec: SweepSpec, out: Path, jobs: int, quiet: bool = False) -> list[str]:
    """Run what is left of the sweep (as `load_spec` read it); returns one line per failed run (empty when all
    finished)."""
    batchable = check_cells(spec)
    folder = StudyDir(out)
    folder.claim(spec_record(spec))
    try:
        return _run_claimed(spec, folder, jobs, quiet, batchable)
    finally:
        folder.release()


def _run_claimed(spec: SweepSpec, folder: "StudyDir", jobs: int, quiet: bool,
                 batchable: set[str]) -> list[str]:
    runs = planned_runs(spec, folder.out)
    todo = []
    for run in runs:
        state = run_state(run)
        if state == "new" and run.path.exists():  # killed before its first checkpoint: nothing to continue from
            shutil.rmtree(run.path)
        if state != "done":
            todo.append((run, state == "partial"))
    env = shared_env(jobs)
    failures: list[str] = []

    def train(task: Task) -> tuple[Task, int, str, float]:
        started = time.perf_counter()
        done = subprocess.run(task.command(spec), env=env, capture_output=True, text=True, check=False)
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        why = lines[-1].removeprefix("rlgen: error: ") if lines else ""
        return task, done.returncode, why, time.perf_counter() - started

    finished = len(runs) - len(todo)
    with ProgressBar(len(runs), f"sweep {folder.out.name}", quiet) as bar:
        bar.update(finished, f"{jobs} job(s)")
        pool = ThreadPoolExecutor(max_workers=jobs)
        pending: set[Future] = {pool.submit(train, task) for task in plan_tasks(spec, batchable, todo)}
        try:
            while pending:
                completed, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in completed:
                    task, code, last_line, seconds = future.result()
                    for run in task.runs:
                        if code in (0, 130):  # a finished run's time (a batch's shared evenly), or the part of it
                            folder.add_wall_time(run.key, seconds / len(task.runs))  # before a Ctrl-C
                        if code not in (0, 130):
                            failures.append(f"{run.key}: {last_line or f'exit code {code}'}")
                    finished += len(task.runs)
                    if code == 130:
                        raise KeyboardInterrupt
                    bar.update(finished, f"{len(failures)} failed" if failures else "")
        except KeyboardInterrupt:
            pool.shutdown(wait=True, cancel_futures=True)  # the runs got the same Ctrl-C and save what they learnt
            raise
        pool.shutdown(wait=True)
    return failures


def existing_runs(out: Path) -> tuple[SweepSpec, list[PlannedRun]]:
    """The sweep OUT belongs to and its planned runs (for the report)."""
    folder = StudyDir(out)
    if not (folder.out / SPEC_COPY).is_file():
        raise RlgenError(f"{out} is not an rlgen sweep folder ({SPEC_COPY} is missing)")
    record = folder.record()
    try:
        spec = SweepSpec.model_validate(record)
    except Exception:
        raise RlgenError(f"{folder.out / SPEC_COPY} is damaged (not a sweep)") from None
    return spec, planned_runs(spec, folder.out)

