"""Noticing that training has blown up (a loss or a weight that is not a finite number) and saying so in one line,
before anything non-finite is saved."""

from __future__ import annotations

import math
from typing import Iterable

import torch

from rlgen.errors import RlgenError


class Diverged(RlgenError):
    """Training produced a non-finite loss or weight; the last good weights and checkpoint are kept."""


def finite_weights(params: Iterable[torch.Tensor]) -> bool:
    """Whether every parameter is finite (one host sync for all of them)."""
    checks = [torch.isfinite(p).all() for p in params]
    return bool(torch.stack(checks).all()) if checks else True


def check_finite(loss: float, params: Iterable[torch.Tensor], *, where: str, last_finite: float | None,
                 lr: tuple[str, float], clip: tuple[str, float | None], kept: str) -> None:
    """Raise `Diverged` when `loss` or any parameter is not finite. `where` names the step ("epoch 3",
    "iteration 383 (51,200 env steps)"); `lr` and `clip` name the learning-rate and gradient-clipping settings with
    their values (the usual culprits); `kept` says what the run still holds."""
    weights_ok = finite_weights(params)
    if math.isfinite(loss) and weights_ok:
        return
    what = f"the loss became {loss}" if not math.isfinite(loss) else "a weight became non-finite"
    last = f"last finite loss {last_finite:.6g}" if last_finite is not None else "no finite loss before it"
    suspect = f"{lr[0]}={lr[1]:g} is the likely cause: try a smaller one"
    if clip[1] is None:
        suspect += f" or set {clip[0]}"
    raise Diverged(f"training diverged at {where}: {what} ({last}); {suspect}. {kept}")
