"""Environment variables, parsed once per cold start into a validated, frozen dataclass.

CDK sets every variable from the environment's config (`stacks/units/retraining_triggers.py`); a missing or
wrong one stops the function at its first invocation with one message naming each variable, its value and what
is allowed. Each field declares its variable and a JSON Schema of its value; `load_settings` puts them together
into one schema of the environment, compiled and checked once (fastjsonschema, `lambdas.shared.validation`).

Integers arrive as text. A variable whose schema is an `integer` is converted first when it is written as one, so
the schema checks the number (`COOLDOWN_HOURS='-1': must be bigger than or equal to 0`) and anything else stays
text, which the schema refuses as not an integer. fastjsonschema stops at the first problem: only when there is
one (a broken deployment, never a warm path) each variable is checked on its own, so that the message lists all.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import MISSING, dataclass, field, fields
from typing import Any, TypeVar

from lambdas.shared.validation import SchemaValidationError, compile_schema

_RESOURCE_NAME = r"^[a-zA-Z0-9][a-zA-Z0-9-]{0,255}$"
_BUCKET_NAME = r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$"
_FOLDER = r"[\w!.*'()/-]+/"
_INTEGER = re.compile(r"-?[0-9]{1,30}")  # ASCII digits; int() would also read "1_000", " 7" or non-ASCII digits


class SettingsError(RuntimeError):
    """The function's environment variables are missing or invalid (a deployment error, not an event error)."""


def env(name: str, schema: Mapping[str, Any]) -> dict[str, Any]:
    """A field's metadata: the environment variable it is read from and the JSON Schema of its value."""
    return {"env": name, "schema": dict(schema)}


@dataclass(frozen=True, slots=True, kw_only=True)
class TriggerSettings:
    """What both triggers need: the pipeline they start, the state table and the cooldown."""

    environment: str = field(
        metadata=env("PLATFORM_ENVIRONMENT", {"type": "string", "pattern": r"^[a-z][a-z0-9-]{1,40}$"})
    )
    pipeline_name: str = field(metadata=env("TRAINING_PIPELINE_NAME", {"type": "string", "pattern": _RESOURCE_NAME}))
    state_table: str = field(
        metadata=env("STATE_TABLE_NAME", {"type": "string", "pattern": r"^[a-zA-Z0-9_.-]{3,255}$"})
    )
    cooldown_hours: int = field(metadata=env("COOLDOWN_HOURS", {"type": "integer", "minimum": 0, "maximum": 8760}))
    # The data snapshot every run reads: the raw zone's objects under these prefixes (comma-separated folders,
    # `adult/,feedback/`, from pipeline_definition.contract), its manifest written under SNAPSHOTS_URI.
    raw_bucket: str = field(metadata=env("RAW_BUCKET_NAME", {"type": "string", "pattern": _BUCKET_NAME}))
    snapshot_prefixes: str = field(
        metadata=env("SNAPSHOT_PREFIXES", {"type": "string", "pattern": rf"^{_FOLDER}(,{_FOLDER})*$"})
    )
    snapshots_uri: str = field(metadata=env("SNAPSHOTS_URI", {"type": "string", "pattern": r"^s3://[a-z0-9.-]+/\S*/$"}))
    # How long a delivered event is remembered: EventBridge and Lambda retry for up to 24 h.
    idempotency_hours: int = field(
        default=48, metadata=env("IDEMPOTENCY_HOURS", {"type": "integer", "minimum": 1, "maximum": 8760})
    )


Settings = TypeVar("Settings", bound=TriggerSettings)


@dataclass(frozen=True, slots=True)
class _Variable:
    attribute: str
    name: str
    schema: dict[str, Any]
    required: bool


def load_settings(model: type[Settings], environ: Mapping[str, str]) -> Settings:
    """`model` read from `environ` (other variables are ignored), or SettingsError naming every bad variable."""
    variables = list(_variables(model))
    values = {v.name: _typed(environ[v.name], v.schema) for v in variables if v.name in environ}
    try:
        compile_schema(environment_schema(model))(values)
    except SchemaValidationError as error:
        problems = "; ".join(_problems(variables, values, environ)) or str(error)
        raise SettingsError(f"invalid environment variables for {model.__name__}: {problems}") from None
    return model(**{v.attribute: values[v.name] for v in variables if v.name in values})


def environment_schema(model: type[TriggerSettings]) -> dict[str, Any]:
    """The JSON Schema (Draft-07) of the environment `model` reads, integers converted."""
    variables = list(_variables(model))
    return {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "type": "object",
        "required": [v.name for v in variables if v.required],
        "properties": {v.name: v.schema for v in variables},
    }


def _variables(model: type[TriggerSettings]) -> Iterator[_Variable]:
    for f in fields(model):
        required = f.default is MISSING and f.default_factory is MISSING
        yield _Variable(f.name, f.metadata["env"], f.metadata["schema"], required)


def _typed(value: str, schema: Mapping[str, Any]) -> Any:
    """An integer variable written as an integer, as int; anything else as the text it is."""
    return int(value) if schema.get("type") == "integer" and _INTEGER.fullmatch(value) else value


def _problems(variables: list[_Variable], values: Mapping[str, Any], environ: Mapping[str, str]) -> Iterator[str]:
    """Each variable on its own (the error path only): missing, or its value against its schema."""
    for variable in variables:
        if variable.name not in values:
            if variable.required:
                yield f"{variable.name}: is required (not set); allowed: {_allowed(variable.schema)}"
            continue
        try:
            compile_schema(variable.schema)(values[variable.name])
        except SchemaValidationError as error:
            (problem,) = error.problems
            yield f"{variable.name}={environ[variable.name]!r}: {problem.msg}; allowed: {_allowed(variable.schema)}"


def _allowed(schema: Mapping[str, Any]) -> str:
    """What a variable's schema allows, in words: `an integer >= 0 and <= 8760`, `text matching ^s3://\\S+/$`."""
    if schema.get("type") == "integer":
        bounds = [
            f"{word} {schema[key]}"
            for key, word in (("minimum", ">="), ("exclusiveMinimum", ">"), ("maximum", "<="))
            if key in schema
        ]
        return " ".join(["an integer", " and ".join(bounds)]).strip()
    parts = ["text"]
    if "minLength" in schema:
        parts.append(f"of at least {schema['minLength']} characters")
    if "pattern" in schema:
        parts.append(f"matching {schema['pattern']}")
    return " ".join(parts)
