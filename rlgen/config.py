"""Typed YAML configs: load, apply `--set a.b=value` overrides, validate, and explain errors in one line."""

from __future__ import annotations

import types
import typing
from pathlib import Path
from typing import Any, Mapping

import yaml
from pydantic import BaseModel, ValidationError

from rlgen.errors import ConfigError

MAX_YAML_DEPTH = 50  # rlgen's configs nest 4 deep
MAX_CONFIG_BYTES = 1_000_000


class StrictLoader(yaml.SafeLoader):
    """YAML's safe loader without aliases (so no "billion laughs" can expand a small file into gigabytes), without
    duplicate keys (the second would silently win), and with bounded nesting."""

    depth = 0

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            raise yaml.MarkedYAMLError(problem="aliases (*name) are not allowed",
                                       problem_mark=self.peek_event().start_mark)
        self.depth += 1
        if self.depth > MAX_YAML_DEPTH:
            raise yaml.MarkedYAMLError(problem=f"nested deeper than {MAX_YAML_DEPTH} levels",
                                       problem_mark=self.peek_event().start_mark)
        try:
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if isinstance(key, typing.Hashable) and key in seen:
                raise yaml.MarkedYAMLError(problem=f"duplicate key {key!r}", problem_mark=key_node.start_mark)
            if isinstance(key, typing.Hashable):
                seen.add(key)
        return super().construct_mapping(node, deep)


def parse_yaml(text: str) -> Any:
    """Parse YAML with `StrictLoader`; raises yaml.YAMLError with a problem and a line where there is one."""
    loader = StrictLoader(text)
    try:
        return loader.get_single_data()
    except (ValueError, OverflowError) as exc:  # a number YAML reads but Python will not hold (5,000 digits)
        raise yaml.MarkedYAMLError(problem=str(exc).split(";")[0]) from None
    finally:
        loader.dispose()


def _yaml_problem(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None)
    return (f" at line {mark.line + 1}" if mark is not None else "") + (f": {problem}" if problem else "")


def read_yaml_mapping(path: Path) -> dict[str, Any]:
    try:
        if Path(path).stat().st_size > MAX_CONFIG_BYTES:
            raise ConfigError(f"config file {path} is larger than {MAX_CONFIG_BYTES:,} bytes")
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except (IsADirectoryError, PermissionError, UnicodeDecodeError, OSError) as exc:
        raise ConfigError(f"config file {path} cannot be read: {exc.__class__.__name__}") from None
    try:
        data = parse_yaml(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"config file {path} is not valid YAML{_yaml_problem(exc)}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path} must hold a mapping of keys to values")
    return data


def set_value(data: dict[str, Any], key: str, value: Any, shown: str | None = None) -> None:
    """Set the field at dotted `key` (creating sections on the way) to `value`; `shown` names the override in errors."""
    shown = shown or key
    parts = key.strip().split(".")
    if not key.strip() or not all(parts):
        raise ConfigError(f"--set {shown!r}: expected KEY=VALUE, e.g. --set optimizer.lr=0.01")
    node = data
    for depth, part in enumerate(parts[:-1]):
        child = node.setdefault(part, {})
        if child is None:
            child = node[part] = {}
        if not isinstance(child, dict):
            raise ConfigError(f"--set {shown!r}: {'.'.join(parts[: depth + 1])} is a value, not a section")
        node = child
    node[parts[-1]] = value


def apply_overrides(data: dict[str, Any], overrides: list[str] | Mapping[str, Any]) -> dict[str, Any]:
    """Apply overrides in order: `a.b.c=value` strings, whose value is parsed as YAML (so `0.1`, `[64, 64]`,
    `null` work), or a mapping of dotted keys to Python values (the Python API)."""
    if isinstance(overrides, Mapping):
        for key, value in overrides.items():
            set_value(data, str(key), value)
        return data
    for item in overrides:
        key, sep, text = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set {item!r}: expected KEY=VALUE, e.g. --set optimizer.lr=0.01")
        try:
            value = parse_yaml(text)
        except yaml.YAMLError as exc:
            raise ConfigError(f"--set {item!r}: the value is not valid YAML{_yaml_problem(exc)}") from None
        set_value(data, key, value, item)
    return data


def override_string(key: str, value: Any) -> str:
    """`--set` text that `apply_overrides` reads back as `value` (YAML flow style: 1.0e-05 stays a float)."""
    text = yaml.safe_dump(value, default_flow_style=True, width=10**9).strip()
    return f"{key}={text.removesuffix('...').strip()}"


def read_overrides_file(path: Path) -> list[str]:
    """A YAML mapping of dotted keys to values (what `rlgen tune` writes) as `--set` strings, in the file's order."""
    try:
        data = read_yaml_mapping(path)
    except ConfigError as exc:
        raise ConfigError(f"--set-file: {exc}") from None
    return [override_string(str(key), value) for key, value in data.items()]


def _model_class(annotation: Any) -> type[BaseModel] | None:
    """The pydantic model class inside an annotation such as `Foo`, `Foo | None` or `Optional[Foo]`."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        for arg in typing.get_args(annotation):
            found = _model_class(arg)
            if found is not None:
                return found
    return None


def _step(annotation: Any, part: str | int) -> Any:
    """The annotation one step down an error location: a field of a model, an item of a list, or the member of a
    tagged union (`{type: conv, …}`) that the tag names."""
    while typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    origin = typing.get_origin(annotation)
    if isinstance(part, int):
        return typing.get_args(annotation)[0] if origin in (list, tuple) else None
    members = typing.get_args(annotation) if origin in (typing.Union, types.UnionType) else (annotation,)
    models = [m for m in map(_model_class, members) if m is not None]
    for model in models:  # a union's tag
        if any(typing.get_origin(f.annotation) is typing.Literal and part in typing.get_args(f.annotation)
               for f in model.model_fields.values()) and len(models) > 1:
            return model
    for model in models:
        if part in model.model_fields:
            return model.model_fields[part].annotation
    return None


def _allowed_keys(root: type[BaseModel], loc: tuple) -> list[str]:
    annotation: Any = root
    for part in loc:
        annotation = _step(annotation, part)
        if annotation is None:
            return []
    model = _model_class(annotation)
    return list(model.model_fields) if model is not None else []


def explain(error: ValidationError, root: type[BaseModel]) -> str:
    """One line naming the first offending key and what is allowed there (an unknown key first: a misspelt key also
    leaves the intended one missing)."""
    first = sorted(error.errors(), key=lambda e: e["type"] != "extra_forbidden")[0]
    loc = tuple(first["loc"])
    path = ".".join(str(p) for p in loc) or "<top level>"
    if first["type"] == "extra_forbidden":
        allowed = _allowed_keys(root, loc[:-1])
        return f"{path}: unknown key; allowed here: {', '.join(allowed)}"
    if first["type"] == "missing":
        return f"{path}: required key is missing"
    more = f" (and {error.error_count() - 1} more problem(s))" if error.error_count() > 1 else ""
    if first["type"] == "value_error":  # a check across keys: its message names them
        message = first["msg"].removeprefix("Value error, ")
        return f"{path}: {message}{more}" if loc else f"{message}{more}"
    got = first.get("input")
    shown = repr(got) if not isinstance(got, (dict, list)) or len(repr(got)) < 60 else type(got).__name__
    return f"{path}: {first['msg']} (got {shown}){more}"


def validate(data: Mapping[str, Any], schemas: Mapping[str, type[BaseModel]], source: str) -> BaseModel:
    """Pick the schema by the `algo` key and validate the whole mapping against it."""
    algo = data.get("algo")
    if not isinstance(algo, str) or algo not in schemas:
        raise ConfigError(f"{source}: algo: must be one of {', '.join(sorted(schemas))} (got {algo!r})")
    schema = schemas[algo]
    try:
        return schema.model_validate(dict(data))
    except ValidationError as exc:
        raise ConfigError(f"{source}: {explain(exc, schema)}") from None


def load_config(path: Path, overrides: list[str] | Mapping[str, Any], schemas: Mapping[str, type[BaseModel]]) -> BaseModel:
    overrides = overrides if isinstance(overrides, Mapping) else list(overrides)
    return validate(apply_overrides(read_yaml_mapping(path), overrides), schemas, str(path))


def dump_config(config: BaseModel) -> str:
    return yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False)
