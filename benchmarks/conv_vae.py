"""Speed of the shipped convolutional VAE (configs/fashion_conv_vae.yaml): seconds per epoch of rlgen's epoch
trainer in float32 and at `train.precision: auto` (bfloat16 matrix multiplies and convolutions where the CPU has
them natively), side by side, and the fraction of this machine's measured throughput they reach.

The epoch's work is counted exactly (torch's FlopCounterMode over one training step: forward, backward, every
convolution, transposed convolution and matrix multiply), and compared with what the same machine does on
(a) a plain 2048³ matrix multiply and (b) the model's own largest layer, a 64 → 32 transposed convolution at batch
128, forward and backward, in the same precision. Contenders take turns (benchmarks/turns.py).

    .venv/bin/python benchmarks/conv_vae.py [--images 60000] [--repeats 3] [--device cpu]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.turns import print_ratios, rlgen_epochs, take_turns, training_images  # noqa: E402
from rlgen.autoencoders.build import build_autoencoder  # noqa: E402
from rlgen.autoencoders.config import AE_CONFIGS  # noqa: E402
from rlgen.config import load_config  # noqa: E402
from rlgen.data import Split  # noqa: E402
from rlgen.device import resolve_precision  # noqa: E402
from rlgen.optim import TrainingOptimizer  # noqa: E402

CONFIG = ROOT / "configs" / "fashion_conv_vae.yaml"


def setup(device: torch.device, precision: str):
    cfg = load_config(CONFIG, [f"train.precision={precision}"], AE_CONFIGS)
    model = build_autoencoder(cfg).to(device)
    return model, TrainingOptimizer(model, cfg.optimizer)


def step_flop(device: torch.device, batch: int) -> int:
    """Floating-point operations of one training step (forward and backward) at this batch size."""
    model, _ = setup(device, "fp32")
    x = torch.rand(batch, 1, 28, 28, device=device).bernoulli()
    with FlopCounterMode(display=False) as counter:
        model.losses(x, torch.zeros(batch, dtype=torch.long, device=device))["loss"].backward()
    return counter.get_total_flops()


def throughput(fn, flop: int, device: torch.device, seconds: float = 1.5) -> float:
    """GFLOP/s of `fn`, which does `flop` operations per call."""
    for _ in range(2):
        fn()
    count, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        fn()
        count += 1
    if device.type == "cuda":
        torch.cuda.synchronize()
    return flop * count / (time.perf_counter() - started) / 1e9


def machine_peaks(device: torch.device, dtype: torch.dtype | None) -> tuple[float, float]:
    """GFLOP/s of a 2048³ matrix multiply and of the model's largest layer (forward + backward), under autocast
    to `dtype` (None: float32)."""
    autocast = lambda: torch.autocast(device.type, dtype=dtype or torch.float32, enabled=dtype is not None)  # noqa: E731
    a, b = torch.randn(2048, 2048, device=device), torch.randn(2048, 2048, device=device)

    def matmul():
        with autocast():
            a @ b

    layer = torch.nn.ConvTranspose2d(64, 32, 4, 2, 1).to(device)
    x = torch.randn(128, 64, 7, 7, device=device, requires_grad=True)

    def conv():
        with autocast():
            out = layer(x)
        out.float().sum().backward()

    with FlopCounterMode(display=False) as counter:
        conv()
    return throughput(matmul, 2 * 2048**3, device), throughput(conv, counter.get_total_flops(), device)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=60_000, help="training images per timed epoch")
    parser.add_argument("--repeats", type=int, default=3, help="epochs timed per contender (alternating)")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    device = torch.device(args.device)
    torch.manual_seed(0)
    images = training_images(args.images)
    split = Split(images.to(device), torch.zeros(len(images), dtype=torch.int64, device=device), binarize=True)
    batch = load_config(CONFIG, [], AE_CONFIGS).train.batch_size

    print(f"device {device}, torch {torch.__version__}, {torch.get_num_threads()} threads, {len(images):,} images, "
          f"batch {batch}, dynamically binarised")
    median = take_turns(rlgen_epochs(lambda precision: setup(device, precision), split, batch, device), args.repeats)
    print_ratios(median, ("rlgen fp32",))
    flop = step_flop(device, batch) * (len(images) / batch)
    print(f"work per epoch: {flop / 1e12:.2f} TFLOP (forward + backward, counted by FlopCounterMode)")
    print(f"{'contender':<22} {'s per 60k epoch':>15} {'GFLOP/s':>8} {'matmul 2048³':>13} {'largest layer':>14}")
    for name, seconds in median.items():
        dtype = resolve_precision("auto", device) if "auto" in name else None
        matmul, conv = machine_peaks(device, dtype)
        achieved = flop / seconds / 1e9
        print(f"{name:<22} {seconds * 60_000 / len(images):>15.1f} {achieved:>8.1f} "
              f"{f'{100 * achieved / matmul:.0f}% of {matmul:.0f}':>13} {f'{100 * achieved / conv:.0f}% of {conv:.0f}':>14}")


if __name__ == "__main__":
    main()
