"""A per-layer table of any model, like Keras's `model.summary()`: each layer in the order a forward pass calls it,
its output shape and its parameter count, then the totals."""

from __future__ import annotations

from typing import Any, Callable

import torch
from torch import nn

from rlgen.recurrent import LoopedRecurrent


def _shape(value: Any) -> str:
    if isinstance(value, nn.utils.rnn.PackedSequence):  # a recurrent layer reading a batch of variable lengths
        return f"(packed, {value.data.shape[-1]})"
    if isinstance(value, torch.Tensor):
        return "(" + ", ".join(["B", *map(str, value.shape[1:])]) + ")"
    if isinstance(value, (tuple, list)) and value:
        return " ".join(_shape(v) for v in value if isinstance(v, torch.Tensor))
    return "-"


def layer_rows(model: nn.Module, forward: Callable[[nn.Module], Any]) -> list[tuple[str, str, str, int]]:
    """(name, type, output shape, own parameter count) of every leaf layer, in call order; layers the forward pass
    never called follow, with their shape shown as "not called"."""
    names = {module: name for name, module in model.named_modules()}
    rows: dict[nn.Module, tuple[str, str, str, int]] = {}

    def hook(module: nn.Module, args: Any, output: Any) -> None:
        if module not in rows:
            if isinstance(module, (nn.RNNBase, LoopedRecurrent)):
                output = output[0]  # (outputs, state): the outputs
            own = sum(p.numel() for p in module.parameters(recurse=False))
            rows[module] = (names[module], type(module).__name__, _shape(output), own)

    leaves = [m for m in model.modules() if not list(m.children())]
    handles = [m.register_forward_hook(hook) for m in leaves]
    was_training = model.training
    model.eval()  # batch norm on running statistics: any batch size works
    try:
        with torch.no_grad():
            forward(model)
    finally:
        for handle in handles:
            handle.remove()
        model.train(was_training)
    unused = [(names[m], type(m).__name__, "not called", sum(p.numel() for p in m.parameters(recurse=False)))
              for m in leaves if m not in rows and m is not model]
    return list(rows.values()) + unused


def summary_table(model: nn.Module, forward: Callable[[nn.Module], Any], title: str = "") -> str:
    rows = layer_rows(model, forward)
    total = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    headers = ("Layer (type)", "Output shape", "Param #")
    cells = [(f"{name} ({kind})", shape, f"{count:,}") for name, kind, shape, count in rows]
    widths = [max(len(h), *(len(c[i]) for c in cells)) if cells else len(h) for i, h in enumerate(headers)]
    line = "─" * (sum(widths) + 4)

    def fmt(row: tuple[str, str, str]) -> str:
        return f"{row[0]:<{widths[0]}}  {row[1]:<{widths[1]}}  {row[2]:>{widths[2]}}"

    out = ([title] if title else []) + [line, fmt(headers), line, *map(fmt, cells), line,
                                        f"Total params: {total:,}", f"Trainable params: {trainable:,}",
                                        f"Non-trainable params: {total - trainable:,}"]
    return "\n".join(out)
