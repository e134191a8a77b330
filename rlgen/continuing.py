"""Continuing a finished run with a larger budget (`rlgen train --resume RUN --set train.epochs=30`,
`rlgen.resume(run, overrides)`): only the keys a kind calls its budget may change, written to the run's config.yaml
and recorded in meta.json; the run's checkpoint is then loaded as running again (`RunDir.reopen`)."""

from __future__ import annotations

from typing import Any, Mapping

from rlgen import distributed
from rlgen.atomic import atomic_write_text
from rlgen.config import apply_overrides, dump_config, validate
from rlgen.errors import ConfigError
from rlgen.registry import schemas
from rlgen.run_handle import Run

Overrides = Mapping[str, Any] | list[str] | tuple[str, ...] | None


def finished_hint(handle: Run) -> str:
    """What to say when a finished run is resumed with nothing changed: how to give it more to do."""
    said = "it had finished: nothing more was trained"
    if not handle.kind.continuable:
        return said
    problem = handle.kind.continue_problem(handle.config, handle.run.state())
    how = problem.split(": ", 1)[-1] if problem else "continue it with a larger train.patience or budget (--set)"
    return f"{said}; {how}"


def continue_with(handle: Run, overrides: Overrides) -> None:
    """Give a run a larger budget (only the kind's `continuable` keys may change), written to its config.yaml, with
    the change recorded in meta.json (info.continued); a finished run is then reopened."""
    before = handle.config
    overrides = overrides if isinstance(overrides, Mapping) else list(overrides or [])
    after = validate(apply_overrides(before.model_dump(mode="json"), overrides), schemas(), "config")
    old, new = _flat(before.model_dump(mode="json")), _flat(after.model_dump(mode="json"))
    changed = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
    kind = handle.kind
    refused = [k for k in changed if k not in kind.continuable]
    if refused:
        allowed = ", ".join(kind.continuable) or "nothing"
        raise ConfigError(f"--resume continues a run with a larger budget; {', '.join(refused)} would change its model "
                          f"or data (a {kind.name} run may change {allowed}): train a new run, with --init-from "
                          f"{handle.path} to start from its weights")
    state = handle.run.state()
    problem = kind.continue_problem(after, state)
    if problem is not None:
        raise ConfigError(f"{handle.path} cannot continue: {problem}")
    if changed and distributed.launched_world().is_main:
        atomic_write_text(handle.path / "config.yaml", dump_config(after))
        record = {"at": state.progress, "set": {k: new.get(k) for k in changed}}
        handle.run.update_meta(info={"continued": [*handle.meta.info.get("continued", []), record]})
    handle.config = after
    handle.run.reopen = state.finished


def _flat(tree: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in tree.items():
        if isinstance(value, Mapping):
            out.update(_flat(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out
