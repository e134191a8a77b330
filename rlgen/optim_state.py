"""Checking an optimizer state read from a file before the optimizer uses it.

A fused optimizer kernel trusts its state: a moment buffer of the wrong shape makes it write out of bounds. So a
saved state is compared, tensor by tensor, with the state the same optimizer builds for itself after one step on
copies of its parameters: the same parameter indices and groups, the same slot names, shapes and dtypes, finite
hyperparameters and finite step counts.
"""

from __future__ import annotations

import inspect
import math
from typing import Any

import torch

from rlgen.errors import RlgenError

PLAIN = (bool, int, float, str, type(None))


def own_state(optimizer: torch.optim.Optimizer) -> dict[str, Any]:
    """The state dict this optimizer has after one step with zero gradients, on copies of its parameters."""
    groups = []
    for group in optimizer.param_groups:
        copies = [torch.zeros_like(p, requires_grad=True) for p in group["params"]]
        for c in copies:
            c.grad = torch.zeros_like(c)
        groups.append({**{k: v for k, v in group.items() if k != "params"}, "params": copies})
    # only what the constructor takes: AdamW's defaults hold decoupled_weight_decay, which AdamW() refuses
    accepted = inspect.signature(type(optimizer)).parameters
    probe = type(optimizer)(groups, **{k: v for k, v in optimizer.defaults.items() if k in accepted})
    probe.step()
    return probe.state_dict()


def _finite_number(value: Any) -> bool:
    return not isinstance(value, float) or math.isfinite(value)


def check_optimizer_state(optimizer: torch.optim.Optimizer, saved: Any, source: str) -> None:
    """Raise one line naming the first way `saved` differs from what `optimizer` would hold."""
    expected = own_state(optimizer)
    where = f"{source}: optimizer state"
    if not isinstance(saved, dict) or set(saved) != {"state", "param_groups"}:
        raise RlgenError(f"{where} is not an optimizer state dict")
    groups = saved["param_groups"]
    if not isinstance(groups, list) or len(groups) != len(expected["param_groups"]):
        raise RlgenError(f"{where} has {len(groups) if isinstance(groups, list) else 'no'} parameter groups, the "
                         f"optimizer has {len(expected['param_groups'])}")
    for i, (group, mine) in enumerate(zip(groups, expected["param_groups"])):
        if not isinstance(group, dict) or set(group) != set(mine):
            raise RlgenError(f"{where}: parameter group {i} does not have this optimizer's settings")
        if group["params"] != mine["params"]:
            raise RlgenError(f"{where}: parameter group {i} lists other parameters than the model has")
        for key, value in group.items():
            values = value if isinstance(value, (list, tuple)) and key != "params" else [value]
            if key != "params" and not all(isinstance(v, PLAIN) and _finite_number(v) for v in values):
                raise RlgenError(f"{where}: parameter group {i} has a bad {key}: {value!r}")
    params = {index: None for group in expected["param_groups"] for index in group["params"]}
    state = saved["state"]
    if not isinstance(state, dict):
        raise RlgenError(f"{where} has no per-parameter state")
    for index, slots in state.items():
        if index not in params:
            raise RlgenError(f"{where} holds state for parameter {index!r}, which the model does not have")
        mine = expected["state"].get(index, {})
        if not isinstance(slots, dict) or set(slots) != set(mine):
            shown = sorted(slots) if isinstance(slots, dict) else type(slots).__name__
            raise RlgenError(f"{where} of parameter {index} has slots {shown}, this optimizer keeps {sorted(mine)}")
        for name, value in slots.items():
            want = mine[name]
            if not isinstance(want, torch.Tensor):
                if not isinstance(value, PLAIN) or not _finite_number(value):
                    raise RlgenError(f"{where}: {name} of parameter {index} is {value!r}")
                continue
            if not isinstance(value, torch.Tensor) or value.shape != want.shape or value.dtype != want.dtype:
                got = f"{value.dtype} {tuple(value.shape)}" if isinstance(value, torch.Tensor) else type(value).__name__
                raise RlgenError(f"{where}: {name} of parameter {index} is {got}, the optimizer needs "
                                 f"{want.dtype} {tuple(want.shape)}")
            if want.dim() == 0 and not bool(torch.isfinite(value).all()):
                raise RlgenError(f"{where}: {name} of parameter {index} is {value.item()}")
