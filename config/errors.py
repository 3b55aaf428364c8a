"""The one error type of the config, and how pydantic's errors become lines a person can act on.

Every line names the file, the environment when there is one, the dotted key, the bad value and what is allowed:
the reader should not need to know pydantic to fix the file.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel


class ConfigError(ValueError):
    """A configuration file is wrong; the message says where and how to fix it.

    A ValueError, so callers that only know "bad value" still catch it; `app.main` catches this type and prints
    the message instead of a traceback, which is why constructs refusing a config value raise it too.
    """


def invalid(problems: list[str]) -> ConfigError:
    """One error listing every problem, one a line, so a single synth shows everything there is to fix."""
    return ConfigError("invalid configuration:\n  " + "\n  ".join(problems))


def _allowed_keys(model: type[BaseModel], loc: tuple[str | int, ...]) -> list[str]:
    """The field names of the section that `loc` (ending in the offending key) points into."""
    for part in loc[:-1]:
        annotation = model.model_fields[str(part)].annotation if str(part) in model.model_fields else None
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return []
        model = annotation
    return [name for name in model.model_fields if name != "name"]


def describe(error: Mapping[str, Any], where: str, *, model: type[BaseModel], key_prefix: str = "") -> str:
    """One pydantic error of validating `model` as one line: `<where>: key '<dotted key>' ...`."""
    loc = tuple(error["loc"])
    key = ".".join([*([key_prefix] if key_prefix else []), *(str(p) for p in loc)]) or "(top level)"
    kind = error["type"]
    if kind == "missing":
        return f"{where}: key '{key}' is missing (required)"
    if kind == "extra_forbidden":
        allowed = _allowed_keys(model, loc)
        return f"{where}: key '{key}' is not allowed; allowed keys here: {', '.join(allowed)}"
    message = str(error["msg"]).removeprefix("Value error, ")
    if not loc and not key_prefix:  # a check across the sections of the whole model (one environment)
        return f"{where}: {message}"
    value = error.get("input")
    if isinstance(value, Mapping):  # a cross-field check: the model itself is the input
        return f"{where}: section '{key}' is not valid: {message}"
    return f"{where}: key '{key}' has value {value!r}: {message}"
