"""Reference integrity of a SageMaker pipeline definition, without AWS.

No offline validator of definitions is trustworthy (the published JSON schema is stale), but the mistakes that
break a pipeline at run time are mostly reference mistakes: two steps with one name, a `Steps.X` or
`Parameters.Y` that names nothing, a `DependsOn` on a missing step, a `PropertyFile` a step doesn't declare,
or a dependency cycle. `check_references` finds those. Standard library only.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

_EXECUTION_VARIABLES = {
    "PipelineExecutionId", "PipelineExecutionArn", "PipelineName", "PipelineArn", "StartDateTime",
    "CurrentDateTime",
}  # fmt: skip
_STEP_REF = re.compile(r"^Steps\.(?P<step>[A-Za-z0-9_-]+)(?P<rest>.*)$")
_PROPERTY_FILE_REF = re.compile(r"^Steps\.(?P<step>[A-Za-z0-9_-]+)\.PropertyFiles\.(?P<file>[A-Za-z0-9_-]+)$")


def all_steps(definition: dict[str, Any]) -> list[dict[str, Any]]:
    """Every step, including those nested in a Condition step's if/else branches."""
    found: list[dict[str, Any]] = []

    def visit(steps: list[dict[str, Any]]) -> None:
        for step in steps:
            found.append(step)
            if step.get("Type") == "Condition":
                visit(step["Arguments"].get("IfSteps", []))
                visit(step["Arguments"].get("ElseSteps", []))

    visit(definition.get("Steps", []))
    return found


def _gets(node: Any) -> Iterator[str]:
    """Every `{"Get": "..."}` expression below `node`."""
    if isinstance(node, dict):
        if set(node) == {"Get"} and isinstance(node["Get"], str):
            yield node["Get"]
        for value in node.values():
            yield from _gets(value)
    elif isinstance(node, list):
        for value in node:
            yield from _gets(value)


def _data_dependencies(step: dict[str, Any]) -> set[str]:
    return {m["step"] for ref in _gets(step.get("Arguments", {})) if (m := _STEP_REF.match(ref))}


def check_references(definition: dict[str, Any]) -> list[str]:
    """Human-readable problems; an empty list means every reference resolves and there is no cycle."""
    problems: list[str] = []
    steps = all_steps(definition)
    names = [step["Name"] for step in steps]
    by_name = {step["Name"]: step for step in steps}
    for name in sorted({n for n in names if names.count(n) > 1}):
        problems.append(f"duplicate step name {name!r}")
    parameters = {p["Name"] for p in definition.get("Parameters", [])}

    for step in steps:
        where = f"step {step['Name']!r}"
        for ref in _gets(step.get("Arguments", {})):
            head, _, tail = ref.partition(".")
            if head == "Parameters" and tail not in parameters:
                problems.append(f"{where}: Parameters.{tail} is not a pipeline parameter")
            elif head == "Execution" and tail not in _EXECUTION_VARIABLES:
                problems.append(f"{where}: Execution.{tail} is not an execution variable")
            elif head == "Steps":
                match = _STEP_REF.match(ref)
                if match is None or match["step"] not in by_name:
                    problems.append(f"{where}: {ref} names no step")
                    continue
                file_ref = _PROPERTY_FILE_REF.match(ref)
                if file_ref:
                    declared = {f["PropertyFileName"] for f in by_name[file_ref["step"]].get("PropertyFiles", [])}
                    if file_ref["file"] not in declared:
                        problems.append(f"{where}: {ref}: step {file_ref['step']!r} declares no such PropertyFile")
            elif head not in {"Parameters", "Execution", "Steps"}:
                problems.append(f"{where}: unknown reference {ref!r}")
        for dependency in step.get("DependsOn", []):
            if dependency not in by_name:
                problems.append(f"{where}: DependsOn {dependency!r} names no step")
    problems += _cycles(steps)
    return problems


def _cycles(steps: list[dict[str, Any]]) -> list[str]:
    edges: dict[str, set[str]] = {step["Name"]: set() for step in steps}
    for step in steps:
        edges[step["Name"]] |= _data_dependencies(step) | set(step.get("DependsOn", []))
        if step.get("Type") == "Condition":  # branch steps run after their condition
            for child in step["Arguments"].get("IfSteps", []) + step["Arguments"].get("ElseSteps", []):
                edges[child["Name"]].add(step["Name"])
    state: dict[str, str] = {}
    problems: list[str] = []

    def visit(name: str, path: list[str]) -> None:
        state[name] = "active"
        for dependency in sorted(edges.get(name, ())):
            if state.get(dependency) == "active":
                cycle = [*path[path.index(dependency) :], dependency] if dependency in path else [name, dependency]
                problems.append(f"dependency cycle: {' -> '.join(cycle)}")
            elif dependency in edges and dependency not in state:
                visit(dependency, [*path, dependency])
        state[name] = "done"

    for name in edges:
        if name not in state:
            visit(name, [name])
    return problems


def instance_types(definition: dict[str, Any]) -> dict[str, list[str]]:
    """Each step's instance types, with parameters resolved to their defaults."""
    defaults = {p["Name"]: p.get("DefaultValue") for p in definition.get("Parameters", [])}

    def resolve(value: Any) -> str:
        if isinstance(value, dict) and "Get" in value and value["Get"].startswith("Parameters."):
            return str(defaults[value["Get"].removeprefix("Parameters.")])
        return str(value)

    found: dict[str, list[str]] = {}

    def collect(node: Any, into: list[str]) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "InstanceType":
                    into.append(resolve(value))
                elif key in {"SupportedRealtimeInferenceInstanceTypes", "SupportedTransformInstanceTypes"}:
                    into.extend(resolve(v) for v in value)
                elif key not in {"IfSteps", "ElseSteps"}:  # nested steps are reported on their own
                    collect(value, into)
        elif isinstance(node, list):
            for value in node:
                collect(value, into)

    for step in all_steps(definition):
        collected: list[str] = []
        collect(step.get("Arguments", {}), collected)
        if collected:
            found[step["Name"]] = collected
    return found
