"""Choosing the torch device from `auto | cpu | cuda | cuda:N`."""

import torch

from rlgen.errors import RlgenError


def resolve_device(name: str) -> torch.device:
    """`auto` is the first CUDA device when one is present, else the CPU; asking for CUDA without one is an error."""
    name = name.strip().lower()
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cpu":
        return torch.device("cpu")
    if name == "cuda" or name.startswith("cuda:"):
        if not torch.cuda.is_available():
            raise RlgenError(f"device {name!r} asked for, but no CUDA device is available here; use --device cpu")
        try:
            device = torch.device(name)
        except RuntimeError:
            raise RlgenError(f"device {name!r} is not a valid device; use auto, cpu, cuda or cuda:N") from None
        count = torch.cuda.device_count()
        if device.index is not None and device.index >= count:
            raise RlgenError(f"device {name!r} asked for, but only {count} CUDA device(s) exist (cuda:0..cuda:{count - 1})")
        return device
    raise RlgenError(f"device {name!r} is not one of auto, cpu, cuda, cuda:N")


def resolve_precision(name: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype for matrix multiplies, or None for plain float32.

    For `auto`: bfloat16 where the hardware runs it natively (a CPU with AVX512-BF16 or AMX through oneDNN, or a
    CUDA device with bf16 support), since emulated bf16 is slower than float32. That is only the candidate: a run
    created with `auto` times it against float32 on its own model (rlgen/precision.py) and keeps the faster; the
    speed scripts in benchmarks/ time both themselves."""
    if name == "fp32":
        return None
    if name == "bf16":
        return torch.bfloat16
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else None
    return torch.bfloat16 if torch.ops.mkldnn._is_mkldnn_bf16_supported() else None
