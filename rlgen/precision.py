"""Which precision a model trained on data runs its matrix multiplies in, chosen once, when the run is created.

`train.precision: fp32` or `bf16` is used as asked. `auto` measures: where the device runs bfloat16 natively (a CPU
with AVX512-BF16 or AMX, a CUDA GPU with bf16), a short probe times training steps of the run's own model on its own
first batch, in float32 and under bf16 autocast, turn by turn; bf16 is chosen only when it is clearly faster (its
median step under PROBE_MARGIN × float32's), because bf16 on a CPU without AMX is often slower (this project's
machines: the MLP VAE's epoch 0.78 s in fp32, 1.26 s in bf16). The choice and both timings go into meta.json
(`info.precision`, `info.precision_probe`); `--resume` keeps the choice instead of measuring again, so a resumed run
computes exactly as the uninterrupted one.

The probe changes nothing the run depends on: it steps a copy of the model (gradients only, no optimizer step) under
forked RNG states.
"""

from __future__ import annotations

import copy
import statistics
import time
from typing import Any, Callable

import torch
from torch import nn

from rlgen.device import resolve_precision
from rlgen.errors import RlgenError

PROBE_MARGIN = 0.9  # bf16 must take under 90 % of float32's time per step
PROBE_ROUNDS = 5  # turns of (fp32 step, bf16 step) after one warm-up step each
NAMES = {"torch.float32": None, "torch.bfloat16": torch.bfloat16}


def bf16_native(device: torch.device) -> bool:
    return resolve_precision("auto", device) is not None


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def probe(model: nn.Module, losses: Callable[[nn.Module, torch.Tensor, torch.Tensor], Any], x: torch.Tensor,
          y: torch.Tensor, device: torch.device) -> dict[str, float]:
    """Median seconds of one training step (forward + backward) of a copy of `model` on (x, y) per precision."""
    trial = copy.deepcopy(model)
    trial.train()
    times: dict[str, list[float]] = {"fp32": [], "bf16": []}
    devices = [device] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        for round_ in range(PROBE_ROUNDS + 1):
            for name, dtype in (("fp32", None), ("bf16", torch.bfloat16)):
                _sync(device)
                started = time.perf_counter()
                with torch.autocast(device.type, dtype=dtype or torch.float32, enabled=dtype is not None):
                    terms = losses(trial, x, y)
                loss = terms["loss"] if isinstance(terms, dict) else terms
                loss.float().backward()
                trial.zero_grad(set_to_none=True)
                _sync(device)
                if round_:  # the first round warms up (allocations, oneDNN's kernel choice)
                    times[name].append(time.perf_counter() - started)
    return {name: statistics.median(values) for name, values in times.items()}


def choose_precision(asked: str, device: torch.device, saved_info: dict[str, Any] | None,
                     measure: Callable[[], dict[str, float]]) -> tuple[torch.dtype | None, dict[str, Any]]:
    """The autocast dtype (None: float32) and what meta.json records of the choice. `saved_info`: the info of a run
    being resumed (its choice is kept); `measure` runs the probe (called only when it decides)."""
    if saved_info is not None and "precision" in saved_info:
        recorded = saved_info["precision"]
        if recorded not in NAMES:
            raise RlgenError(f"meta.json: info.precision {recorded!r} is not one of {', '.join(NAMES)}")
        return NAMES[recorded], {}
    if asked in ("fp32", "bf16"):
        dtype = torch.bfloat16 if asked == "bf16" else None
        return dtype, {"precision": str(dtype or torch.float32), "precision_from": f"train.precision: {asked}"}
    if not bf16_native(device):
        return None, {"precision": "torch.float32", "precision_from": f"auto: {device.type} has no native bf16"}
    seconds = measure()
    dtype = torch.bfloat16 if seconds["bf16"] < PROBE_MARGIN * seconds["fp32"] else None
    return dtype, {"precision": str(dtype or torch.float32),
                   "precision_from": f"auto: probe ({PROBE_ROUNDS} steps each way; bf16 if under "
                                     f"{PROBE_MARGIN:g} x fp32's time)",
                   "precision_probe": {"fp32_ms": round(seconds["fp32"] * 1e3, 3),
                                       "bf16_ms": round(seconds["bf16"] * 1e3, 3)}}
