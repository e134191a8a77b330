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


def rlgen_epochs(build: Callable[[str], tuple[object, object]], split, batch: int, device) -> dict[str, Callable[[], None]]:
    """Contenders `rlgen fp32` and `rlgen auto (…)`: one epoch of rlgen's epoch trainer over `split`, each with a
    model and optimizer from `build(precision)`."""
    import torch

    from rlgen.device import resolve_precision
    from rlgen.epochs import fit_epoch

    contenders = {}
    for precision in ("fp32", "auto"):
        model, optimizer = build(precision)
        dtype = resolve_precision(precision, device)
        generator = torch.Generator().manual_seed(0)
        label = f"rlgen {precision}" + (f" ({str(dtype).replace('torch.', '')})" if precision == "auto" else "")

        def run(model=model, optimizer=optimizer, generator=generator, dtype=dtype) -> None:
            fit_epoch(model.losses, optimizer, split, batch, generator, autocast_dtype=dtype)
            if device.type == "cuda":
                torch.cuda.synchronize()

        contenders[label] = run
    return contenders


def print_ratios(median: dict[str, float], references: tuple[str, ...]) -> None:
    """Each contender's median epoch and how many times faster it is than each reference."""
    print(f"{'contender':<22} {'median epoch s':>14} " + " ".join(f"{f'{r} / this':>22}" for r in references))
    for name, seconds in median.items():
        print(f"{name:<22} {seconds:>14.2f} " + " ".join(f"{median[r] / seconds:>21.2f}x" for r in references))


def training_images(limit: int | None = None):
    """All 60,000 Fashion-MNIST training images (or the first `limit`) as uint8 (N, 1, 28, 28), on the CPU."""
    import torch

    from rlgen.idx_data import load_image_set

    data = load_image_set(validation=1)
    return torch.cat([data.train_x, data.val_x])[:limit]
