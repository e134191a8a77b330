"""rlgen beside another busy process: each shipped agent config's time to solve CartPole, and one epoch of the
shipped VAE, on a quiet machine and beside one process that keeps a core busy (`python -c "while True: pass"`),
taking turns so that the machine's drift hits both. Threads are rlgen's own choice (rlgen.threads); a second row
per model fixes them at torch's default (one per core) for comparison.

Targets: agents ≤ 1.3× their quiet time to solve; the VAE epoch ≤ 2.2× (half of a 2-core machine is gone).

    .venv/bin/python benchmarks/contention.py [--rounds 2]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rlgen import api  # noqa: E402
from rlgen.threads import cpu_count  # noqa: E402

AGENTS = ("cartpole_reinforce", "cartpole_a2c", "cartpole_ppo")


@contextmanager
def busy_neighbour(on: bool):
    proc = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if on else None
    try:
        yield
    finally:
        if proc is not None:
            proc.kill()
            proc.wait()


def agent_seconds(config: str, threads: int | None) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        run = api.train(ROOT / "configs" / f"{config}.yaml", ["device=cpu"], run_dir=Path(tmp) / "r", quiet=True,
                        threads=threads)
    assert run.result.solved, run.result
    return run.result.train_seconds


def vae_epoch_seconds(threads: int | None) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        run = api.train(ROOT / "configs" / "fashion_vae.yaml", ["device=cpu", "train.epochs=1"],
                        run_dir=Path(tmp) / "r", quiet=True, threads=threads)
        return run.metrics()[-1]["time/epoch_seconds"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=2, help="quiet/busy turns per contender")
    args = parser.parse_args()
    cores = cpu_count()
    print(f"torch {torch.__version__}, {cores} cores; seconds are training time (time to solve for agents, one epoch "
          f"for the VAE), median of {args.rounds} turns")
    contenders = [(name, "rlgen's choice", lambda n=name: agent_seconds(n, None)) for name in AGENTS]
    contenders += [(name, f"{cores} threads", lambda n=name: agent_seconds(n, cores)) for name in AGENTS]
    contenders += [("fashion_vae epoch", "rlgen's choice", lambda: vae_epoch_seconds(None)),
                   ("fashion_vae epoch", f"{cores} threads", lambda: vae_epoch_seconds(cores))]
    print(f"{'run':<20} {'threads':<16} {'quiet s':>8} {'busy s':>8} {'busy / quiet':>13}")
    for name, threads, measure in contenders:
        times = {False: [], True: []}
        for _ in range(args.rounds):
            for busy in (False, True):
                with busy_neighbour(busy):
                    times[busy].append(measure())
        quiet, loaded = statistics.median(times[False]), statistics.median(times[True])
        print(f"{name:<20} {threads:<16} {quiet:>8.2f} {loaded:>8.2f} {loaded / quiet:>12.2f}x", flush=True)


if __name__ == "__main__":
    main()
