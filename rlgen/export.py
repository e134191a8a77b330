"""Taking a trained model out of rlgen: `rlgen export RUN --format onnx|torchscript --out FILE`.

Each kind of run says what it can export (`RunKind.exportable`): a module that maps plain tensors to plain tensors
(an agent's greedy policy, an autoencoder's encoder or decoder, a classifier's logits, a forecaster's forecast), the
sample inputs it is checked on, and how rlgen itself answers those inputs. The file is written beside its target
and checked before it replaces anything: loaded again (onnxruntime for ONNX, torch.jit.load for TorchScript), run on
the sample inputs, and compared with rlgen's answer — integers (discrete actions) exactly, floats to within
ATOL + RTOL·|rlgen's value|. The batch dimension stays free in both formats.
"""

from __future__ import annotations

import contextlib
import io
import logging
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch import nn

from rlgen.atomic import atomic_output
from rlgen.errors import RlgenError
from rlgen.outputs import check_output_path

FORMATS = {"onnx": (".onnx",), "torchscript": (".pt", ".ts")}
ATOL = RTOL = 1e-4
TRACE_BATCH = 2  # the module is traced on this many inputs and checked on all of them: a batch size baked in fails


@dataclass
class Exportable:
    """What a run exports: `module` (CPU, float32, eval mode) maps `inputs` (each (N, …)) to its outputs;
    `reference` is rlgen's own answer to the same inputs (numpy arrays, one per output)."""

    part: str
    module: nn.Module
    inputs: tuple[torch.Tensor, ...]
    input_names: tuple[str, ...]
    output_names: tuple[str, ...]
    reference: Callable[[], tuple[np.ndarray, ...]]
    note: str = ""  # what the outputs mean, for the one line the command prints

    def signature(self) -> str:
        ins = ", ".join(f"{n} {_shape(t)}" for n, t in zip(self.input_names, self.inputs))
        with torch.no_grad():
            outs = _as_tuple(self.module(*self.inputs))
        return f"{ins} → " + ", ".join(f"{n} {_shape(t)}" for n, t in zip(self.output_names, outs))


def model_exportable(part: str, model: nn.Module, inputs: torch.Tensor | tuple[torch.Tensor, ...],
                     input_names: str | tuple[str, ...], output_name: str, note: str = "") -> Exportable:
    """A model whose forward maps its input batches to one output batch, checked against its own eager answer."""
    inputs = inputs if isinstance(inputs, tuple) else (inputs,)
    input_names = input_names if isinstance(input_names, tuple) else (input_names,)

    def reference():
        with torch.no_grad():
            return (model(*inputs).numpy(),)

    return Exportable(part, model, inputs, input_names, (output_name,), reference, note)


def choose_part(part: str | None, parts: tuple[str, ...], run_path: Path) -> str:
    """The part to export: the one asked for, or the only one there is."""
    if part is None and len(parts) == 1:
        return parts[0]
    if part not in parts:
        asked = f"--part {part}" if part is not None else "no --part"
        raise RlgenError(f"{run_path}: {asked}; this run exports {' or '.join('--part ' + p for p in parts)}")
    return part


def _shape(t: torch.Tensor) -> str:
    dims = ", ".join(["N", *map(str, t.shape[1:])]) if t.dim() > 1 else "N,"
    return f"({dims}) {str(t.dtype).removeprefix('torch.')}"


def _as_tuple(x) -> tuple:
    return tuple(x) if isinstance(x, (tuple, list)) else (x,)


def check_export_request(fmt: str, out: Path) -> None:
    if fmt not in FORMATS:
        raise RlgenError(f"--format {fmt!r}: choose onnx or torchscript")
    check_output_path(out, FORMATS[fmt])


@contextlib.contextmanager
def _quiet_exporter():
    """torch's exporters print their progress, warnings and graph dumps on every export; rlgen prints one line.
    torch.distributions' argument checks (stable-baselines3's policies build distributions) are data-dependent
    branches that torch.export cannot trace: off while exporting (the check against rlgen's answers stays)."""
    loggers = [logging.getLogger(name) for name in ("torch", "torch.onnx", "torch.export", "torch.fx",
                                                    "torch._dynamo", "torch.fx.experimental.symbolic_shapes")]
    levels = [logger.level for logger in loggers]
    validate = torch.distributions.Distribution._validate_args
    try:
        for logger in loggers:
            logger.setLevel(logging.CRITICAL)
        torch.distributions.Distribution.set_default_validate_args(False)
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()), \
                contextlib.redirect_stderr(io.StringIO()):
            warnings.simplefilter("ignore")
            yield
    finally:
        torch.distributions.Distribution.set_default_validate_args(validate)
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)


def _write_onnx(item: Exportable, path: Path) -> None:
    batch = torch.export.Dim("batch", min=1, max=1 << 20)
    traced = tuple(t[:TRACE_BATCH] for t in item.inputs)
    with _quiet_exporter():
        torch.onnx.export(item.module, traced, str(path), input_names=list(item.input_names),
                          output_names=list(item.output_names), dynamic_shapes=tuple({0: batch} for _ in traced),
                          external_data=False, verbose=False)


def _run_onnx(path: Path, item: Exportable) -> tuple[np.ndarray, ...]:
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return tuple(session.run(list(item.output_names),
                             {n: t.numpy() for n, t in zip(item.input_names, item.inputs)}))


def _write_torchscript(item: Exportable, path: Path) -> None:
    with _quiet_exporter():
        traced = torch.jit.trace(item.module, tuple(t[:TRACE_BATCH] for t in item.inputs), check_trace=False)
    traced.save(str(path))


def _run_torchscript(path: Path, item: Exportable) -> tuple[np.ndarray, ...]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # torch.jit's, pointing to torch.export
        loaded = torch.jit.load(str(path), map_location="cpu")
    with torch.no_grad():
        return tuple(t.numpy() for t in _as_tuple(loaded(*item.inputs)))


WRITERS = {"onnx": (_write_onnx, _run_onnx), "torchscript": (_write_torchscript, _run_torchscript)}


def compare(got: tuple[np.ndarray, ...], want: tuple[np.ndarray, ...], names: tuple[str, ...]) -> float:
    """The largest |difference| over the outputs; an RlgenError where one is off (integers must be equal)."""
    worst = 0.0
    for name, a, b in zip(names, got, want):
        a, b = np.asarray(a), np.asarray(b)
        if a.shape != b.shape:
            raise RlgenError(f"the exported {name} has shape {a.shape}, rlgen's {b.shape}")
        if np.issubdtype(b.dtype, np.integer) or b.dtype == bool:
            wrong = int((a != b).sum())
            if wrong:
                raise RlgenError(f"the exported {name} differs from rlgen's in {wrong} of {b.size} values")
            continue
        diff = np.abs(a.astype(np.float64) - b.astype(np.float64))
        worst = max(worst, float(diff.max(initial=0.0)))
        if not np.all(diff <= ATOL + RTOL * np.abs(b)):
            raise RlgenError(f"the exported {name} differs from rlgen's by up to {diff.max():.3g} "
                             f"(allowed {ATOL:g} + {RTOL:g}·|value|)")
    return worst


def export(item: Exportable, fmt: str, out: Path) -> dict:
    """Write `item` to `out` in `fmt`, checked against rlgen's answer before it replaces `out`. Returns what the
    command reports."""
    check_export_request(fmt, out)
    write, run = WRITERS[fmt]
    item.module.eval()
    want = item.reference()
    with atomic_output(out) as tmp:
        try:
            write(item, tmp)
        except RlgenError:
            raise
        except Exception as exc:  # the exporter's own failure: an op it cannot express
            text = re.sub(r"\x1b\[[0-9;]*m", "", str(exc)).strip()
            first = text.splitlines()[0] if text else type(exc).__name__
            raise RlgenError(f"{fmt} export of the {item.part} failed: {first[:300]}") from None
        worst = compare(run(tmp, item), want, item.output_names)
    return {"out": str(out), "format": fmt, "part": item.part, "signature": item.signature(),
            "checked_inputs": int(len(item.inputs[0])), "max_abs_diff": worst, "atol": ATOL, "rtol": RTOL,
            "note": item.note}


def describe(report: dict) -> str:
    return (f"wrote {report['out']} ({report['format']}, the {report['part']}: {report['signature']}"
            f"{'; ' + report['note'] if report['note'] else ''}); it matches rlgen's model on "
            f"{report['checked_inputs']} sample inputs (max |difference| {report['max_abs_diff']:.2g}, allowed "
            f"{report['atol']:g} + {report['rtol']:g}·|value|)")
