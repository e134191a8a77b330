"""Many seeds of a shipped agent config (REINFORCE by default): one batched process against one process per seed.

Both sides train seeds 0 … S−1 of configs/cartpole_<algo>.yaml to the config's end (solved: a 100-episode greedy
evaluation on gymnasium's CartPole-v1 with mean return ≥ 475, or the 300,000-step budget), each seed evaluated over
100 greedy episodes every 10,000 of its steps:
- batched: one `rlgen train CONFIG --seeds 0-(S−1)` process (agents/seeds.py);
- sequential: S `rlgen train CONFIG --seed s` processes, one after another (what a shell loop does).
Wall seconds are whole commands, start-up included, with one thread each. Also printed: how many seeds each side
solved and the median and quartiles of the environment steps they needed, which should agree (the same training,
only batched).

    .venv/bin/python benchmarks/seeds.py [--seeds 32] [--algo reinforce|a2c] [--skip-sequential]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "OMP_NUM_THREADS": "1"}


def rlgen(config: Path, *args: str) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "rlgen", "train", str(config), "--quiet", *args], env=ENV, check=True,
                   stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def states(folders: list[Path]) -> list[dict]:
    return [json.loads((folder / "meta.json").read_text())["state"] for folder in folders]


def describe(name: str, seconds: float, runs: list[dict]) -> str:
    solved = [r["progress"] for r in runs if r["status"] == "solved"]
    q = statistics.quantiles(solved, n=4) if len(solved) > 1 else [float("nan")] * 3
    return (f"{name:<11} {seconds:7.1f} s   solved {len(solved)}/{len(runs)}   env steps to solve: median "
            f"{q[1]:,.0f} (quartiles {q[0]:,.0f} – {q[2]:,.0f})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=32)
    parser.add_argument("--algo", choices=["reinforce", "a2c"], default="reinforce")
    parser.add_argument("--skip-sequential", action="store_true")
    args = parser.parse_args()
    seeds = list(range(args.seeds))
    config = ROOT / "configs" / f"cartpole_{args.algo}.yaml"
    print(f"{config.name}, seeds 0-{seeds[-1]}, one thread per process")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        batched = rlgen(config, "--seeds", f"0-{seeds[-1]}", "--run-dir", str(out / "batched"))
        print(describe("batched", batched, states([out / "batched" / f"seed{s}" for s in seeds])), flush=True)
        if args.skip_sequential:
            return
        sequential = sum(rlgen(config, "--seed", str(s), "--run-dir", str(out / "one" / f"seed{s}")) for s in seeds)
        print(describe("sequential", sequential, states([out / "one" / f"seed{s}" for s in seeds])))
        print(f"{len(seeds)} seeds: batched {batched:.1f} s against sequential {sequential:.1f} s: "
              f"{sequential / batched:.1f}x faster" + (" (target: batched <= 30 s)" if args.algo == "reinforce" else ""))


if __name__ == "__main__":
    main()
