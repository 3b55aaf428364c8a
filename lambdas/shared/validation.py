"""JSON Schema validation of events and settings: fastjsonschema, each schema compiled once per cold start.

fastjsonschema turns a schema into Python source and `exec`s it (~1-3 ms a schema): that happens at import, once,
and validating an event is then a plain function call. Powertools' `validation.validate()` is not used in the hot
path because it compiles the schema again on every call. Powertools' layer ships fastjsonschema (its `validation`
extra), so the functions' packages stay Python sources only; pydantic (~150 ms to import and build the first model)
is not used by the functions at all.

A violation is turned into a `Problem`: the dotted path of the field (`detail.state.value`, `resources.0`), the
JSON Schema keyword it breaks (`const`, `pattern`, `required`, ...) and a message without fastjsonschema's `data.`
prefix. fastjsonschema stops at the first violation, so an event error names one problem (settings collect all).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import fastjsonschema
from fastjsonschema import JsonSchemaValueException

Validator = Callable[[Any], Any]

# RFC 3339 with an upper-case `T` and a time zone, ASCII digits only: what `datetime.fromisoformat` reads (it
# also reads CloudWatch's `+0000`). Overrides fastjsonschema's `date-time`, which also lets `t`, `z` and non-ASCII
# digits through. Ranges (month 13, hour 24) are left to `fromisoformat`, see `moment()`.
DATE_TIME = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?(Z|[+-][0-9]{2}:?[0-9]{2})$"


def compile_schema(schema: Mapping[str, Any]) -> Validator:
    """A validator of `schema` (Draft-07): returns its argument unchanged or raises SchemaValidationError naming
    the problem. Call it at import only: compiling costs milliseconds, validating microseconds."""
    compiled = fastjsonschema.compile(dict(schema), formats={"date-time": DATE_TIME}, use_default=False)

    def validate(document: Any) -> Any:
        try:
            return compiled(document)
        except JsonSchemaValueException as error:
            raise SchemaValidationError(problems_of(error)) from None

    return validate


@dataclass(frozen=True, slots=True)
class Problem:
    """One invalid field: where (`loc`, dotted, empty for the whole document), which rule, and what is wrong."""

    loc: str
    rule: str
    msg: str

    def __str__(self) -> str:
        return f"{self.loc or '(event)'}: {self.msg}"

    def as_dict(self) -> dict[str, str]:
        return {"loc": self.loc, "type": self.rule, "msg": self.msg}


class SchemaValidationError(ValueError):
    """A document does not match its schema; `problems` says where and why (never empty)."""

    def __init__(self, problems: tuple[Problem, ...]) -> None:
        self.problems = problems
        super().__init__("; ".join(str(p) for p in problems))


def problems_of(error: JsonSchemaValueException) -> tuple[Problem, ...]:
    """fastjsonschema's error as Problems. `required` names the parent and lists the missing keys: each missing
    key becomes a problem at its own path (`detail.object.sequencer: is required`)."""
    loc = dotted(error.path)
    if error.rule == "required" and isinstance(error.value, dict) and isinstance(error.definition, dict):
        missing = [key for key in error.definition.get("required", ()) if key not in error.value]
        if missing:
            return tuple(Problem(_join(loc, key), "required", "is required") for key in missing)
    message = error.message
    name = error.name or ""
    if name and message.startswith(name + " "):
        message = message[len(name) + 1 :]
    return (Problem(loc, error.rule or "invalid", message),)


def dotted(path: list[str]) -> str:
    """fastjsonschema's path (`['data', 'resources', '0']`) as `resources.0`."""
    return ".".join(str(part) for part in path[1:])


def moment(value: str, loc: str) -> datetime:
    """A timestamp the schema let through (`date-time`), as an aware datetime; an impossible date (month 13)
    is the same kind of error as a malformed one."""
    try:
        return datetime.fromisoformat(value)
    except ValueError as error:
        raise SchemaValidationError((Problem(loc, "format", f"must be date-time ({error})"),)) from None


def _join(loc: str, key: str) -> str:
    return f"{loc}.{key}" if loc else key
