"""The base of every mapping of the config file."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Section(BaseModel):
    """A mapping of the config file: unknown keys are errors (a typo never falls back to a default silently),
    values are not coerced (`"2"` is not a count) and a loaded config cannot be changed."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)
