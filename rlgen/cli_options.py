"""Option types the command line's modules share (rlgen.cli and the commands it adds)."""

from __future__ import annotations

import time
from pathlib import Path

STARTED = time.perf_counter()  # as the command line's first module loads: `--timings` counts from here

import click  # noqa: E402

RUN_DIR = click.Path(path_type=Path, file_okay=False)
PNG = click.Path(path_type=Path, dir_okay=False)
DEVICE_HELP = "auto (CUDA when present), cpu, cuda or cuda:N."
SEED = click.IntRange(0, 2**32 - 1)
TEMPERATURE = click.FloatRange(0, 10)  # NaN passes click; the API refuses it


class SeedList(click.ParamType):
    """Seeds as ranges and lists: 0-31, 0,3,7 or 0-3,10."""

    name = "SEEDS"

    def convert(self, value, param, ctx) -> list[int]:
        if isinstance(value, list):
            return value
        seeds: list[int] = []
        for part in str(value).split(","):
            low, _, high = part.strip().partition("-")
            if not low.isdigit() or (high and not high.isdigit()) or (high and int(high) < int(low)):
                self.fail(f"{value!r} is not a list of seeds such as 0-31 or 0,3,7", param, ctx)
            seeds += range(int(low), int(high or low) + 1)
        if len(set(seeds)) != len(seeds) or max(seeds) >= 2**32 or len(seeds) > 4096:
            self.fail(f"{value!r} names a seed twice, a seed past 2**32 - 1, or more than 4,096 seeds", param, ctx)
        return seeds

THREADS_HELP = ("Threads to compute with (default: OMP_NUM_THREADS, else 1 for agents and the free cores for models "
                "trained on data).")
