"""Reading synthesized templates: resources by type, IAM statements, and CloudFormation references (Fn::Join
pieces) rendered to one text with placeholders."""

from __future__ import annotations

from typing import Any


def render(node: Any) -> str:
    """`<LogicalId>` for a Ref, `<LogicalId.Attr>` for a GetAtt, `<OutputName>` for a cross-stack output."""
    if isinstance(node, str):
        return node
    if "Fn::Join" in node:
        separator, parts = node["Fn::Join"]
        return str(separator).join(render(part) for part in parts)
    if "Ref" in node:
        return f"<{node['Ref']}>"
    if "Fn::GetAtt" in node:
        return f"<{'.'.join(node['Fn::GetAtt'])}>"
    if "Fn::GetStackOutput" in node:
        return f"<{node['Fn::GetStackOutput']['OutputName']}>"
    raise AssertionError(f"unexpected intrinsic: {node}")


def resources(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {key: r for key, r in template["Resources"].items() if r["Type"] == kind}


def policy_statements(template: dict[str, Any], prefix: str = "", effect: str | None = None) -> list[dict[str, Any]]:
    """The statements of every AWS::IAM::Policy whose logical ID starts with `prefix` (only `effect`'s, if given:
    "Allow" for what a role may do, without the Deny statements that fence it)."""
    return [
        statement
        for key, policy in resources(template, "AWS::IAM::Policy").items()
        if key.startswith(prefix)
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if effect is None or statement["Effect"] == effect
    ]


def as_list(value: Any) -> list[Any]:
    """An IAM `Action` or `Resource`, which is a string or a list."""
    return value if isinstance(value, list) else [value]
