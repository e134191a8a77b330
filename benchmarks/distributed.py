"""Does data parallelism pay? One epoch of the shipped VAE and CNN classifier trained by one process with two
threads against two data-parallel processes (torchrun, gloo) with one thread each, on the same global batch,
side by side (contenders take turns, median of the rounds). With `--device cuda`: one GPU against all of them (NCCL).

Each contender is a real `rlgen train --set train.epochs=1` command; the epoch's seconds are the ones its run
records (time/epoch_seconds of rank 0, which waits for every rank at each gradient all-reduce); the whole command's
wall time, start-up included, is shown too.

    .venv/bin/python benchmarks/distributed.py [--rounds 2] [--device cpu|cuda]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rlgen.metrics import read_metrics  # noqa: E402

MODELS = {"VAE (fashion_vae)": "fashion_vae.yaml", "CNN (fashion_cnn)": "fashion_cnn.yaml"}


def one_epoch(config: str, device: str, nproc: int, threads: int) -> tuple[float, float]:
    """(epoch seconds, whole-command seconds) of one epoch of `config`."""
    with tempfile.TemporaryDirectory() as tmp:
        command = [sys.executable, "-m", "rlgen", "train", str(ROOT / "configs" / config), "--set", "train.epochs=1",
                   "--run-dir", f"{tmp}/run", "--quiet", "--device", device, "--threads", str(threads),
                   "--nproc", str(nproc)]
        env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
        started = time.perf_counter()
        subprocess.run(command, check=True, env=env, stdout=subprocess.DEVNULL)
        wall = time.perf_counter() - started
        return read_metrics(Path(tmp) / "run" / "metrics.csv")[-1]["time/epoch_seconds"], wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    if args.device == "cuda":
        import torch

        gpus = torch.cuda.device_count()
        contenders = {"1 GPU": (1, 1), **({f"{gpus} GPUs (NCCL)": (gpus, 1)} if gpus > 1 else {})}
    else:
        contenders = {"1 process x 2 threads": (1, 2), "2 processes x 1 thread": (2, 1)}
    print(f"device {args.device}, {os.cpu_count()} cores; one epoch each, the shipped configs' global batch")
    for model, config in MODELS.items():
        epochs: dict[str, list[float]] = {name: [] for name in contenders}
        walls: dict[str, list[float]] = {name: [] for name in contenders}
        for round_ in range(args.rounds):
            for name, (nproc, threads) in contenders.items():
                epoch, wall = one_epoch(config, args.device, nproc, threads)
                epochs[name].append(epoch)
                walls[name].append(wall)
            print(f"  {model} round {round_ + 1}: " + "   ".join(f"{n} {t[-1]:.2f} s" for n, t in epochs.items()),
                  flush=True)
        first = statistics.median(epochs[next(iter(contenders))])
        print(f"{model:<20} {'contender':<24} {'epoch s':>8} {'command s':>10} {'speed-up':>9}")
        for name in contenders:
            epoch = statistics.median(epochs[name])
            print(f"{'':<20} {name:<24} {epoch:>8.2f} {statistics.median(walls[name]):>10.2f} {first / epoch:>8.2f}x")


if __name__ == "__main__":
    main()
