"""Timing contenders side by side on a shared, noisy machine: they take turns, one run each per round, after one
untimed round, and each one's median is reported."""

from __future__ import annotations

import statistics
import time
from typing import Callable


def take_turns(contenders: dict[str, Callable[[], object]], rounds: int) -> dict[str, float]:
    """Median seconds of each contender over `rounds` rounds; prints each round as it ends."""
    for run in contenders.values():  # untimed: first-run allocations and caches, for everyone alike
        run()
    times: dict[str, list[float]] = {name: [] for name in contenders}
    for round_ in range(rounds):
        for name, run in contenders.items():
            started = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - started)
        print(f"  round {round_ + 1}: " + "   ".join(f"{n} {t[-1]:.2f} s" for n, t in times.items()), flush=True)
    return {name: statistics.median(t) for name, t in times.items()}
