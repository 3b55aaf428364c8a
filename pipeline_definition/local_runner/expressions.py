"""SageMaker Pipelines' expression language: Get (Parameters, Execution, Steps), Std:Join and Std:JsonGet.

A definition's arguments are JSON in which these objects stand for values known only at run time. `resolve`
replaces every one of them, recursively, by its value; anything else in the JSON is returned unchanged.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

# One element of a property path: `.Name`, `['name']` / `["name"]`, or `[0]`.
_PATH_TOKEN = re.compile(r"\.?([A-Za-z_][A-Za-z0-9_]*)|\[(?:'([^']*)'|\"([^\"]*)\"|(\d+))\]")


class ExpressionError(ValueError):
    """An expression that cannot be evaluated (unknown reference, missing property, bad JsonGet path)."""


class UnsupportedExpression(ExpressionError):
    """A function the runner does not implement (SageMaker may know it)."""


def parse_path(path: str) -> list[str | int]:
    """`A.B['c'].D[0]` as ['A', 'B', 'c', 'D', 0]; anything that is not such a path is an error naming it."""
    tokens: list[str | int] = []
    position = 0
    while position < len(path):
        match = _PATH_TOKEN.match(path, position)
        if not match or (position == 0 and path.startswith(".")):
            raise ExpressionError(f"cannot parse property path '{path}' at character {position}")
        name, single, double, index = match.groups()
        tokens.append(int(index) if index is not None else (name or single or double or ""))
        position = match.end()
    return tokens


def walk(value: Any, tokens: list[str | int], described: str) -> Any:
    """Follow `tokens` into nested dicts and lists; a list indexed by a name finds the item that carries that name
    (SageMaker's `Outputs['train']` selects the output whose OutputName is 'train')."""
    for token in tokens:
        if isinstance(value, Mapping) and isinstance(token, str) and token in value:
            value = value[token]
        elif isinstance(value, list) and isinstance(token, int) and -len(value) <= token < len(value):
            value = value[token]
        elif isinstance(value, list) and isinstance(token, str):
            named = [item for item in value if isinstance(item, Mapping) and token in _names(item)]
            if not named:
                raise ExpressionError(f"{described}: no item named '{token}'")
            value = named[0]
        else:
            raise ExpressionError(f"{described}: no property '{token}'")
    return value


def _names(item: Mapping[str, Any]) -> set[Any]:
    return {v for k, v in item.items() if k.endswith("Name") and isinstance(v, str)}


@dataclass
class Context:
    """What expressions of one execution can see.

    `step_property(step, tokens)` returns a property of a finished step; `property_file(step, name)` returns the
    parsed JSON of a step's PropertyFile. Both raise ExpressionError for what does not exist (yet).
    """

    parameters: Mapping[str, Any]
    execution: Mapping[str, Any]
    step_property: Callable[[str, list[str | int]], Any]
    property_file: Callable[[str, str], Any]

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self.resolve(item) for item in value]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, body),) = value.items()
            if key == "Get":
                return self._get(body)
            if key == "Std:Join":
                return self._join(body)
            if key == "Std:JsonGet":
                return self._json_get(body)
            if key.startswith("Std:"):
                raise UnsupportedExpression(f"unsupported function '{key}'")
        return {key: self.resolve(item) for key, item in value.items()}

    def _get(self, reference: Any) -> Any:
        if not isinstance(reference, str):
            raise ExpressionError(f"Get takes a reference string, got {reference!r}")
        tokens = parse_path(reference)
        root, rest = tokens[0], tokens[1:]
        if root == "Parameters" and len(rest) == 1:
            if rest[0] not in self.parameters:
                raise ExpressionError(f"Get {reference}: no parameter '{rest[0]}' is declared")
            return self.parameters[str(rest[0])]
        if root == "Execution" and len(rest) == 1:
            if rest[0] not in self.execution:
                raise ExpressionError(f"Get {reference}: unknown execution variable '{rest[0]}'")
            return self.execution[str(rest[0])]
        if root == "Steps" and len(rest) >= 2 and isinstance(rest[0], str):
            if rest[1] == "PropertyFiles":
                raise ExpressionError(f"Get {reference}: a property file is read only inside Std:JsonGet")
            return self.step_property(rest[0], rest[1:])
        raise ExpressionError(f"cannot resolve Get '{reference}'")

    def _join(self, body: Any) -> str:
        if not isinstance(body, dict) or not isinstance(body.get("Values"), list):
            raise ExpressionError(f"Std:Join needs On and a Values list, got {body!r}")
        return str(body.get("On", "")).join(render(self.resolve(item)) for item in body["Values"])

    def _json_get(self, body: Any) -> Any:
        if not isinstance(body, dict) or "Path" not in body or "PropertyFile" not in body:
            raise ExpressionError(f"Std:JsonGet needs Path and PropertyFile, got {body!r}")
        source = body["PropertyFile"]
        reference = source.get("Get") if isinstance(source, dict) else None
        tokens = parse_path(reference) if isinstance(reference, str) else []
        if len(tokens) != 4 or tokens[0] != "Steps" or tokens[2] != "PropertyFiles":
            raise ExpressionError(f"Std:JsonGet PropertyFile must be Steps.<step>.PropertyFiles.<name>: {source!r}")
        document = self.property_file(str(tokens[1]), str(tokens[3]))
        path = str(self.resolve(body["Path"]))
        return walk(document, parse_path(path), f"Std:JsonGet '{path}' in {reference}")


def render(value: Any) -> str:
    """A value as Std:Join and the job APIs see it: strings as they are, booleans lower case, JSON otherwise."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value)
