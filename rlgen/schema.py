"""The bases of every typed config: unknown keys are errors, assignments are re-validated, numbers are finite and
never booleans, and sizes are bounded by what a machine can hold."""

import types
import typing
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

DEVICE_PATTERN = r"^(auto|cpu|cuda(:\d+)?)$"
MAX_WIDTH = 65536
Width = Annotated[int, Field(ge=1, le=MAX_WIDTH)]
"""A layer's number of units."""
Widths = Annotated[list[Width], Field(max_length=64)]
"""Hidden layer sizes."""


def _wants_number(annotation: Any) -> bool:
    """Whether a field (or the items of a list field) holds ints or floats, where YAML's true/false is a mistake."""
    while typing.get_origin(annotation) is Annotated:
        annotation = typing.get_args(annotation)[0]
    if annotation in (int, float):
        return True
    if typing.get_origin(annotation) in (list, tuple, typing.Union, types.UnionType):
        return any(_wants_number(arg) for arg in typing.get_args(annotation) if arg is not type(None))
    return False


class Strict(BaseModel):
    # infinities and NaN are never meaningful settings (an infinite learning rate is a typo, not a choice)
    # defer_build: a schema is built when first used, so a command builds only its own kind's (0.14 s less start-up)
    # use_attribute_docstrings: each field's docstring is its description (the docs site's config reference)
    model_config = ConfigDict(extra="forbid", validate_assignment=True,
                              allow_inf_nan=False, defer_build=True, use_attribute_docstrings=True)

    @model_validator(mode="before")
    @classmethod
    def _no_booleans_for_numbers(cls, data: Any) -> Any:
        """pydantic would read `lr: true` as 1.0 and `hidden: [true]` as [1]."""
        if isinstance(data, dict):
            for name, value in data.items():
                field = cls.model_fields.get(name) if isinstance(name, str) else None
                values = value if isinstance(value, (list, tuple)) else [value]
                if field is not None and any(isinstance(v, bool) for v in values) and _wants_number(field.annotation):
                    raise ValueError(f"{name}: a number is needed here, not true/false")
        return data


class RunBase(Strict):
    """Fields every run config has, whatever it trains."""

    seed: int = Field(default=0, ge=0, le=2**32 - 1)
    """Seeds Python, NumPy, torch and the environments."""
    device: str = Field(default="auto", pattern=DEVICE_PATTERN)
    """auto (CUDA when present) | cpu | cuda | cuda:N."""
