"""The bases of every typed config: unknown keys are errors and assignments are re-validated."""

from pydantic import BaseModel, ConfigDict, Field

DEVICE_PATTERN = r"^(auto|cpu|cuda(:\d+)?)$"


class Strict(BaseModel):
    # infinities and NaN are never meaningful settings (an infinite learning rate is a typo, not a choice)
    model_config = ConfigDict(extra="forbid", validate_assignment=True, use_attribute_docstrings=True,
                              allow_inf_nan=False)


class RunBase(Strict):
    """Fields every run config has, whatever it trains."""

    seed: int = Field(default=0, ge=0)
    """Seeds Python, NumPy, torch and the environments."""
    device: str = Field(default="auto", pattern=DEVICE_PATTERN)
    """auto (CUDA when present) | cpu | cuda | cuda:N."""
