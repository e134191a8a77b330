"""The config reference, written from the pydantic schemas themselves (the docs site's reference page): every algo's
top-level keys, then one table per section type (optimizer, env, policy, …), each field with its type, default and
docstring. A field added to a schema appears here with no other change."""

from __future__ import annotations

import json
import re
import types
import typing
from typing import Any

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from rlgen.registry import kinds


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    """The config classes an annotation holds (itself, inside a list, a union, an Optional, …)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    found = []
    for arg in typing.get_args(annotation):
        found += _models_in(arg)
    return found


def type_name(annotation: Any) -> str:
    origin = typing.get_origin(annotation)
    if origin is typing.Literal:
        return " \\| ".join(f"`{a}`" if a is not None else "null" for a in typing.get_args(annotation))
    if origin in (typing.Union, types.UnionType):
        return " \\| ".join(type_name(a) for a in typing.get_args(annotation))
    if origin is typing.Annotated:
        return type_name(typing.get_args(annotation)[0])
    if annotation is type(None):
        return "null"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return f"[{annotation.__name__}](#{annotation.__name__.lower()})"
    if origin is not None:
        args = ", ".join(type_name(a) for a in typing.get_args(annotation))
        return f"{getattr(origin, '__name__', str(origin))}[{args}]"
    return getattr(annotation, "__name__", re.sub(r"\b(?:\w+\.)+(\w+)", r"\1", str(annotation)))


def default_text(field) -> str:
    if field.default_factory is not None:
        value = field.default_factory()
    elif field.default is PydanticUndefined:
        return "required"
    else:
        value = field.default
    if isinstance(value, BaseModel):
        return "its defaults"
    try:
        return f"`{json.dumps(value, ensure_ascii=False)}`"
    except TypeError:
        return f"`{value}`"


def _cell(text: str | None) -> str:
    return " ".join((text or "").split()).replace("|", "\\|")


def _first_sentence(text: str | None) -> str:
    text = " ".join((text or "").split())
    return text[: text.index(". ") + 1] if ". " in text else text


def _table(model: type[BaseModel], skip: tuple[str, ...] = ()) -> list[str]:
    lines = ["| key | type | default | what it does |", "| --- | --- | --- | --- |"]
    for name, field in model.model_fields.items():
        if name in skip:
            continue
        models = _models_in(field.annotation)
        what = field.description or (_first_sentence(models[0].__doc__) if len(models) == 1 else "")
        lines.append(f"| `{name}` | {type_name(field.annotation)} | {default_text(field)} | {_cell(what)} |")
    return lines


def config_reference() -> str:
    """Markdown: one section per kind and algo, then every section type once, in the order first met."""
    out: list[str] = []
    sections: dict[str, type[BaseModel]] = {}
    for kind in kinds().values():
        out += [f"## Kind `{kind.name}`", ""]
        for algo, schema in kind.configs.items():
            out += [f"### `algo: {algo}`", "", _cell(schema.__doc__) or "", "", *_table(schema, ("algo",)), ""]
            todo = [schema]
            while todo:
                for field in todo.pop(0).model_fields.values():
                    for model in _models_in(field.annotation):
                        if model.__name__ not in sections:
                            sections[model.__name__] = model
                            todo.append(model)
    out += ["## Sections", "", "The types the tables above link to, each once.", ""]
    for name, model in sections.items():
        out += [f"### {name}", "", _cell(model.__doc__) or "", "", *_table(model), ""]
    return "\n".join(out)
