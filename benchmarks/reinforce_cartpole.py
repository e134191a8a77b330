"""Time-to-solve of REINFORCE on CartPole-v1 with the shipped config, for several seeds.

"Solved" means a periodic 100-episode greedy evaluation on gymnasium's own CartPole-v1 reached a mean return
≥ 475. Wall seconds count training only (rollouts + updates); the periodic evaluations are excluded. Each run is
then checked again with an independent 100-episode evaluation on other seeds.

    .venv/bin/python benchmarks/reinforce_cartpole.py [--seeds 0 1 2] [--device cpu] [--config FILE]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rlgen import api  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default=str(ROOT / "configs" / "cartpole_reinforce.yaml"))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()

    print(f"config {Path(args.config).name}, device {args.device}, torch {torch.__version__}, "
          "threads: rlgen's choice (one for agents)")
    print(f"{'seed':>4}  {'solved':>6}  {'env steps':>10}  {'train s':>8}  {'wall s':>7}  {'best eval':>9}  {'re-eval':>7}")
    steps, seconds = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for seed in args.seeds:
            started = time.perf_counter()
            run = api.train(Path(args.config), [f"device={args.device}"], seed=seed, run_dir=Path(tmp) / f"seed{seed}",
                            quiet=True)
            result = run.result
            wall = time.perf_counter() - started
            check = run.evaluate(episodes=100, seed=10**6, device=args.device)["mean_return"]
            print(f"{seed:>4}  {str(result.solved):>6}  {result.progress:>10,}  {result.train_seconds:>8.2f}  "
                  f"{wall:>7.2f}  {result.best_score:>9.1f}  {check:>7.1f}", flush=True)
            if result.solved:
                steps.append(result.progress)
                seconds.append(result.train_seconds)
    if steps:
        print(f"solved {len(steps)}/{len(args.seeds)}; median {statistics.median(steps):,.0f} env steps, "
              f"median {statistics.median(seconds):.2f} s training (evaluation excluded)")
    else:
        print(f"solved 0/{len(args.seeds)}")


if __name__ == "__main__":
    main()
