"""Weights by name: a module's own state without wrapper prefixes, and loading a set of named tensors (or the part
of it under a prefix) into a module or part of one, strictly by default.

Wrappers such as DistributedDataParallel (`module.`) or torch.compile (`_orig_mod.`) are taken off before a state is
read, so that no wrapper's prefix ever reaches a file, and a file written by a wrapped model loads into a bare one.
"""

from __future__ import annotations

from typing import Mapping

import torch
from torch import nn

from rlgen.errors import RlgenError

WRAPPER_PREFIXES = ("module.", "_orig_mod.")


def unwrap(module: nn.Module) -> nn.Module:
    """The model inside DistributedDataParallel / DataParallel / torch.compile wrappers (any nesting)."""
    while True:
        if isinstance(module, (nn.parallel.DistributedDataParallel, nn.DataParallel)):
            module = module.module
        elif hasattr(module, "_orig_mod") and isinstance(module._orig_mod, nn.Module):  # torch.compile's wrapper
            module = module._orig_mod
        else:
            return module


def module_state(module: nn.Module) -> dict[str, torch.Tensor]:
    """The state dict of the unwrapped module: parameter and buffer names exactly as the bare model has them."""
    return unwrap(module).state_dict()


def _listed(keys: list[str], limit: int = 6) -> str:
    shown = ", ".join(keys[:limit])
    return shown + (f" and {len(keys) - limit} more" if len(keys) > limit else "")


def select_prefix(tensors: Mapping[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    """The tensors under `prefix` (a module path such as "encoder" or "encoder.0"), renamed without it."""
    if not prefix:
        return dict(tensors)
    head = prefix.rstrip(".") + "."
    return {name[len(head):]: value for name, value in tensors.items() if name.startswith(head)}


def load_module_state(module: nn.Module, tensors: Mapping[str, torch.Tensor], source: str, prefix: str = "",
                      strict: bool = True) -> None:
    """Load `tensors` (those under `prefix` only, when given) into `module` by name.

    strict: every tensor the module has must be given and nothing else; otherwise the error names the missing and
    the unexpected keys. Non-strict loads what matches and leaves the rest as it is. A matching name with another
    shape or dtype is always an error naming it."""
    target = unwrap(module)
    given = select_prefix(tensors, prefix)
    expected = target.state_dict()
    where = f"{source}" + (f" (under {prefix!r})" if prefix else "")
    if not given:
        raise RlgenError(f"{where} holds no tensors" + (f"; no name starts with {prefix!r}" if prefix else ""))
    missing = sorted(set(expected) - set(given))
    unexpected = sorted(set(given) - set(expected))
    if strict and (missing or unexpected):
        parts = ([f"missing keys: {_listed(missing)}"] if missing else []) + (
            [f"unexpected keys: {_listed(unexpected)}"] if unexpected else [])
        raise RlgenError(f"{where} does not fit the model: {'; '.join(parts)}")
    for name in sorted(set(given) & set(expected)):
        have, need = given[name], expected[name]
        if have.shape != need.shape or have.dtype != need.dtype:
            raise RlgenError(f"{where}: {name} is {have.dtype} {tuple(have.shape)}, the model needs "
                             f"{need.dtype} {tuple(need.shape)}")
    target.load_state_dict({k: v for k, v in given.items() if k in expected}, strict=False)
