"""What each step type does; the runner resolves arguments and handles order, caching and records."""

from __future__ import annotations

from typing import Any

from pipeline_definition.local_runner.errors import UnsupportedConstruct

_COMPARISONS = {
    "Equals": lambda a, b: a == b,
    "GreaterThan": lambda a, b: a > b,
    "GreaterThanOrEqualTo": lambda a, b: a >= b,
    "LessThan": lambda a, b: a < b,
    "LessThanOrEqualTo": lambda a, b: a <= b,
}


def _comparable(value: Any) -> Any:
    """Numbers compare as numbers whether they came from a parameter or a JSON property file."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return value
    try:
        return float(value)
    except ValueError:
        return value


def evaluate(condition: dict[str, Any], step: str) -> bool:
    """One resolved condition of a Condition step (all types SageMaker defines)."""
    kind = condition.get("Type")
    if kind in _COMPARISONS:
        left, right = _comparable(condition["LeftValue"]), _comparable(condition["RightValue"])
        try:
            return bool(_COMPARISONS[kind](left, right))
        except TypeError as err:
            raise UnsupportedConstruct(step, f"condition {kind} between {left!r} and {right!r}") from err
    if kind == "In":
        return _comparable(condition["QueryValue"]) in [_comparable(v) for v in condition["Values"]]
    if kind == "Not":
        return not evaluate(condition["Condition"], step)
    if kind == "Or":
        return any(evaluate(c, step) for c in condition["Conditions"])
    raise UnsupportedConstruct(step, f"condition type {kind!r}")


def references(value: Any) -> set[str]:
    """The step names a piece of a definition reads with Get 'Steps.<name>...' (data dependencies)."""
    found: set[str] = set()
    if isinstance(value, dict):
        get = value.get("Get")
        if isinstance(get, str) and get.startswith("Steps."):
            found.add(get.split(".")[1].split("[")[0])
        for item in value.values():
            found |= references(item)
    elif isinstance(value, list):
        for item in value:
            found |= references(item)
    return found


def branch_steps(step: dict[str, Any]) -> list[dict[str, Any]]:
    if step["Type"] != "Condition":
        return []
    arguments = step["Arguments"]
    return [*arguments.get("IfSteps", []), *arguments.get("ElseSteps", [])]
