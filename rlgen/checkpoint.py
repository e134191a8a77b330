"""Safe checkpoints: atomic file writes and safetensors for every tensor, never pickle.

Nested states (an optimizer's `state_dict`, say) are split into a flat map of tensors and a JSON skeleton that
records where each tensor goes; loading rebuilds the structure from JSON and reads the tensors, so opening a
checkpoint can never execute code.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load as load_safetensors_bytes
from safetensors.torch import save as save_safetensors_bytes

from rlgen.atomic import atomic_write_bytes
from rlgen.errors import RlgenError


def save_tensors(path: Path, tensors: dict[str, torch.Tensor], metadata: dict[str, str] | None = None) -> None:
    # safetensors refuses shared or strided storage; a contiguous CPU copy of each tensor is always accepted.
    plain = {k: v.detach().to("cpu").contiguous().clone() for k, v in tensors.items()}
    atomic_write_bytes(path, save_safetensors_bytes(plain, metadata=metadata))


def load_tensors(path: Path, device: torch.device | str = "cpu") -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    path = Path(path)
    if not path.is_file():
        raise RlgenError(f"{path} is missing")
    try:
        with safe_open(str(path), framework="pt") as f:
            metadata = f.metadata() or {}
        tensors = load_safetensors_bytes(path.read_bytes())
    except (SafetensorError, OSError, ValueError) as exc:
        raise RlgenError(f"{path} is not a readable safetensors file ({exc.__class__.__name__})") from None
    return {k: v.to(device) for k, v in tensors.items()}, metadata


def _flatten(obj: Any, tensors: dict[str, torch.Tensor]) -> Any:
    """JSON skeleton of `obj` with each tensor replaced by a reference into `tensors`."""
    if isinstance(obj, torch.Tensor):
        key = f"t{len(tensors)}"
        tensors[key] = obj
        return {"__tensor__": key}
    if isinstance(obj, dict):  # pairs keep non-string keys (optimizer state is keyed by int)
        return {"__dict__": [[k, _flatten(v, tensors)] for k, v in obj.items()]}
    if isinstance(obj, (list, tuple)):
        return [_flatten(v, tensors) for v in obj]
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    raise TypeError(f"cannot store {type(obj).__name__} in a checkpoint")


MAX_DEPTH = 32  # rlgen's own states nest 6 deep; anything far deeper is damage or an attack


def json_depth(text: str) -> int:
    """How deep the brackets of a JSON text nest (outside strings), measured without parsing it."""
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            escaped, in_string = (False, in_string) if escaped else (char == "\\", char != '"')
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def _unflatten(obj: Any, tensors: dict[str, torch.Tensor]) -> Any:
    if isinstance(obj, dict) and set(obj) == {"__tensor__"}:
        return tensors[obj["__tensor__"]]
    if isinstance(obj, dict) and set(obj) == {"__dict__"}:
        return {_key(k): _unflatten(v, tensors) for k, v in obj["__dict__"]}
    if isinstance(obj, list):
        return [_unflatten(v, tensors) for v in obj]
    if isinstance(obj, dict):
        raise ValueError("a JSON object that is neither a tensor reference nor a stored dict")
    return obj


def _key(key: Any) -> Any:
    if not isinstance(key, (str, int)) or isinstance(key, bool):
        raise ValueError(f"a dict key of type {type(key).__name__}")
    return key


def save_state(path: Path, state: Any) -> None:
    """Save any nesting of dicts, lists, numbers, strings and tensors."""
    tensors: dict[str, torch.Tensor] = {}
    skeleton = _flatten(state, tensors)
    save_tensors(path, tensors, {"skeleton": json.dumps(skeleton)})


def load_state(path: Path, device: torch.device | str = "cpu") -> Any:
    tensors, metadata = load_tensors(path, device)
    if "skeleton" not in metadata:
        raise RlgenError(f"{path} holds tensors but no state skeleton; it was not written by rlgen")
    skeleton = metadata["skeleton"]
    if json_depth(skeleton) > MAX_DEPTH:
        raise RlgenError(f"{path} has a damaged state skeleton (nested deeper than {MAX_DEPTH})")
    try:
        return _unflatten(json.loads(skeleton), tensors)
    except (json.JSONDecodeError, KeyError, TypeError, ValueError):
        raise RlgenError(f"{path} has a damaged state skeleton") from None


def check_like(saved: Any, current: dict[str, torch.Tensor], what: str) -> dict[str, torch.Tensor]:
    """`saved` as a dict of tensors with exactly `current`'s names, shapes and dtypes, or one RlgenError naming the
    first difference (state read from a file is checked before anything uses it)."""
    if not isinstance(saved, dict) or set(saved) != set(current):
        raise RlgenError(f"{what} does not hold {', '.join(sorted(current))}")
    for name, tensor in current.items():
        value = saved[name]
        if not isinstance(value, torch.Tensor) or value.shape != tensor.shape or value.dtype != tensor.dtype:
            got = f"{value.dtype} {tuple(value.shape)}" if isinstance(value, torch.Tensor) else type(value).__name__
            raise RlgenError(f"{what}: {name} is {got}, needs {tensor.dtype} {tuple(tensor.shape)}")
    return saved
