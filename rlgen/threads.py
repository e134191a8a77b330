"""How many threads each process computes with, chosen on purpose. rlgen shares its machine (a browser, a sweep's
other workers), and torch's default of one thread per core collapses when another process takes a core: one busy
neighbour made a 4.4 s VAE epoch take 16 s with two threads, 7.6 s with one.

- `--threads N` (or `threads=` in the Python API) fixes the count; so does OMP_NUM_THREADS.
- Otherwise the kind of run chooses: agents use one thread (small networks and the torch CartPole gain nothing from
  a second one), models trained on data use the cores that other processes leave free, measured from /proc/stat
  before training and again before every epoch, or their share of the cores when N training processes are known
  to share the machine (a data-parallel run's ranks; RLGEN_SHARED_BY=N, which sweeps and tuning set).
"""

from __future__ import annotations

import os
import time
from contextlib import contextmanager
from typing import Iterator

import torch

from rlgen.errors import RlgenError


def cpu_count() -> int:
    """Cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS
        return os.cpu_count() or 1


def _fixed_request(requested: int | None) -> tuple[int, str] | None:
    if requested is not None:
        if not 1 <= requested <= 1024:
            raise RlgenError(f"--threads {requested}: give a number from 1 to 1024")
        return requested, "--threads"
    env = os.environ.get("OMP_NUM_THREADS", "").strip()
    if env:
        if not env.isdigit() or not 1 <= int(env) <= 1024:
            raise RlgenError(f"OMP_NUM_THREADS={env!r} is not a thread count from 1 to 1024")
        return int(env), "OMP_NUM_THREADS"
    return None


SHARED_BY = "RLGEN_SHARED_BY"
"""Set by `rlgen sweep` / `rlgen tune --jobs N` for their runs: N training processes share this machine."""


def _shared_by() -> int:
    text = os.environ.get(SHARED_BY, "").strip()
    return int(text) if text.isdigit() and 1 <= int(text) <= 1024 else 1


class LoadMeter:
    """How many cores' worth of CPU other processes used since the last reading: the machine's busy time from
    /proc/stat minus this process's own CPU time. None where /proc/stat is missing."""

    def __init__(self):
        self._last = self._read()

    @staticmethod
    def _read() -> tuple[float, float, float] | None:
        try:
            with open("/proc/stat", encoding="ascii") as f:
                fields = [int(x) for x in f.readline().split()[1:]]
        except (OSError, ValueError):
            return None
        hz = os.sysconf("SC_CLK_TCK")
        idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
        own = os.times()
        return (sum(fields) - idle) / hz, time.monotonic(), own.user + own.system

    def others(self) -> float | None:
        now = self._read()
        if now is None or self._last is None:
            return None
        (busy0, t0, own0), (busy1, t1, own1) = self._last, now
        self._last = now
        if t1 - t0 < 0.05:
            return None
        return max(0.0, (busy1 - busy0) - (own1 - own0)) / (t1 - t0)


class ThreadPolicy:
    """The thread count of one training process: fixed (by request) or following the free cores."""

    def __init__(self, requested: int | None, adaptive: bool, processes: int = 1):
        """`processes`: how many training processes share this machine (a data-parallel run's ranks per node);
        without a request each then takes its share of the cores."""
        fixed = _fixed_request(requested)
        self.cores = cpu_count()
        processes = max(processes, _shared_by())
        if fixed is not None:
            self.count, self.source, self.meter = fixed[0], fixed[1], None
        elif not adaptive:
            self.count, self.source, self.meter = 1, "one thread for this kind of run", None
        elif processes > 1:
            self.count, self.meter = max(1, self.cores // processes), None
            self.source = f"{self.cores} cores shared by {processes} processes"
        else:
            self.source, self.meter = "the cores other processes leave free", LoadMeter()
            time.sleep(0.2)  # a first reading of the machine's load
            self.count = self._free()
        torch.set_num_threads(self.count)

    def _free(self) -> int:
        others = self.meter.others() if self.meter is not None else None
        if others is None:
            return self.cores
        return max(1, min(self.cores, round(self.cores - others)))

    def update(self) -> int:
        """Follow the machine's load (before an epoch): as many threads as cores left free since the last call."""
        if self.meter is not None:
            count = self._free()
            if count != self.count:
                self.count = count
                torch.set_num_threads(count)
        return self.count

    def describe(self) -> dict[str, object]:
        return {"threads": self.count, "threads_from": self.source, "cores": self.cores}


@contextmanager
def chosen_threads(requested: int | None, adaptive: bool, processes: int = 1) -> Iterator[ThreadPolicy]:
    """A ThreadPolicy for the work inside; afterwards the caller's own thread count again (a notebook's own torch
    work keeps its count)."""
    previous = torch.get_num_threads()
    try:
        yield ThreadPolicy(requested, adaptive, processes)
    finally:
        torch.set_num_threads(previous)
