"""A small IAM policy evaluator over synthesized CloudFormation templates.

No kept PyPI library evaluates policies offline: `policyuniverse` only expands and categorises actions, and
the policy simulators call AWS. This one covers what the platform's policies use: Allow/Deny (an explicit Deny
wins), `*`/`?` wildcards in actions and resources, NotAction/NotResource, principals of resource policies, and
the condition operators below. A condition whose key the caller gave no value for, or whose operator is unknown,
makes the statement not apply and is reported in `Verdict.unevaluated`, never silently counted as a grant.

`Resolver` turns template intrinsics (Ref, Fn::GetAtt, Fn::Join, Fn::Sub, Fn::GetStackOutput, ...) into
realistic strings, with the account and region of the stage, so statements can be matched against real ARNs.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from tests.synthesis import SynthesizedStack

_NAME_PROPERTY = {
    "AWS::S3::Bucket": "BucketName",
    "AWS::IAM::Role": "RoleName",
    "AWS::SNS::Topic": "TopicName",
    "AWS::SQS::Queue": "QueueName",
    "AWS::Logs::LogGroup": "LogGroupName",
    "AWS::Lambda::Function": "FunctionName",
    "AWS::StepFunctions::StateMachine": "StateMachineName",
    "AWS::DynamoDB::Table": "TableName",
    "AWS::SageMaker::Pipeline": "PipelineName",
}


class Resolver:
    """Intrinsic functions of the stacks of one stage, resolved to strings."""

    def __init__(self, stacks: Iterable[SynthesizedStack], account: str, region: str) -> None:
        self.stacks = {s.stack_name: s for s in stacks}
        self.account, self.region = account, region

    def resolve(self, node: Any, stack: SynthesizedStack) -> Any:
        if isinstance(node, list):
            return [self.resolve(item, stack) for item in node]
        if not isinstance(node, dict):
            return node
        if len(node) != 1 or not next(iter(node)).startswith(("Ref", "Fn::")):
            return {key: self.resolve(value, stack) for key, value in node.items()}
        ((function, argument),) = node.items()
        if function == "Ref":
            return self._ref(argument, stack)
        if function == "Fn::GetAtt":
            logical, attribute = argument if isinstance(argument, list) else argument.split(".", 1)
            return self._attribute(logical, attribute, stack)
        if function == "Fn::Join":
            separator, values = argument
            return separator.join(str(v) for v in self.resolve(values, stack))
        if function == "Fn::Select":
            index, values = self.resolve(argument, stack)
            return values[int(index)]
        if function == "Fn::Split":
            separator, value = self.resolve(argument, stack)
            return value.split(separator)
        if function == "Fn::Sub":
            text, variables = (argument, {}) if isinstance(argument, str) else argument
            variables = self.resolve(variables, stack)

            def substitute(match: re.Match[str]) -> str:
                name = match[1]
                if name in variables:
                    return str(variables[name])
                if "." in name:
                    return str(self._attribute(*name.split(".", 1), stack))
                return str(self._ref(name, stack))

            return re.sub(r"\$\{([^}!]+)\}", substitute, text)
        if function == "Fn::GetStackOutput":
            source = self.stacks[argument["StackName"]]
            return self.resolve(source.template["Outputs"][argument["OutputName"]]["Value"], source)
        if function == "Fn::ImportValue":
            name = self.resolve(argument, stack)
            for other in self.stacks.values():
                for output in other.template.get("Outputs", {}).values():
                    if self.resolve(output.get("Export", {}).get("Name"), other) == name:
                        return self.resolve(output["Value"], other)
            raise KeyError(f"no export {name!r}")
        raise NotImplementedError(f"intrinsic {function} in {stack.stack_name}")

    def _name(self, logical: str, stack: SynthesizedStack) -> str:
        resource = stack.template["Resources"][logical]
        prop = _NAME_PROPERTY.get(resource["Type"])
        value = resource.get("Properties", {}).get(prop) if prop else None
        return str(self.resolve(value, stack)) if value is not None else f"{stack.stack_name}-{logical}"

    def _ref(self, name: str, stack: SynthesizedStack) -> Any:
        pseudo = {
            "AWS::AccountId": self.account,
            "AWS::Region": self.region,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackName": stack.stack_name,
        }
        if name in pseudo:
            return pseudo[name]
        if name in stack.template.get("Parameters", {}):
            return stack.template["Parameters"][name].get("Default", f"<parameter {name}>")
        kind = stack.template["Resources"][name]["Type"]
        if kind in ("AWS::SNS::Topic", "AWS::StepFunctions::StateMachine"):
            return self._attribute(name, "Arn", stack)
        if kind == "AWS::SQS::Queue":
            return f"https://sqs.{self.region}.amazonaws.com/{self.account}/{self._name(name, stack)}"
        if kind == "AWS::KMS::Key":
            return f"key-{name.lower()}"
        return self._name(name, stack)

    def _attribute(self, logical: str, attribute: str, stack: SynthesizedStack) -> str:
        kind = stack.template["Resources"][logical]["Type"]
        name, where = self._name(logical, stack), f"{self.region}:{self.account}"
        arns = {
            "AWS::IAM::Role": f"arn:aws:iam::{self.account}:role/{name}",
            "AWS::KMS::Key": f"arn:aws:kms:{where}:key/key-{logical.lower()}",
            "AWS::S3::Bucket": f"arn:aws:s3:::{name}",
            "AWS::SNS::Topic": f"arn:aws:sns:{where}:{name}",
            "AWS::SQS::Queue": f"arn:aws:sqs:{where}:{name}",
            "AWS::Logs::LogGroup": f"arn:aws:logs:{where}:log-group:{name}:*",
            "AWS::Lambda::Function": f"arn:aws:lambda:{where}:function:{name}",
            "AWS::StepFunctions::StateMachine": f"arn:aws:states:{where}:stateMachine:{name}",
            "AWS::DynamoDB::Table": f"arn:aws:dynamodb:{where}:table/{name}",
            "AWS::SageMaker::MlflowTrackingServer": f"arn:aws:sagemaker:{where}:mlflow-tracking-server/{name}",
        }
        if attribute in ("Arn", "TopicArn", "TrackingServerArn") and kind in arns:
            return arns[kind]
        return f"<{logical}.{attribute}>"


@dataclass(frozen=True)
class Statement:
    effect: str
    actions: tuple[str, ...] = ()
    not_actions: tuple[str, ...] = ()
    resources: tuple[str, ...] = ()
    not_resources: tuple[str, ...] = ()
    principals: Any = None  # resource policies only
    conditions: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    source: str = ""


def _tuple(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    return tuple(value) if isinstance(value, list) else (value,)


def statements(document: Mapping[str, Any], source: str) -> list[Statement]:
    """The statements of a resolved policy document."""
    found = document.get("Statement", [])
    return [
        Statement(
            effect=s["Effect"],
            actions=_tuple(s.get("Action")),
            not_actions=_tuple(s.get("NotAction")),
            resources=_tuple(s.get("Resource")),
            not_resources=_tuple(s.get("NotResource")),
            principals=s.get("Principal"),
            conditions=s.get("Condition", {}),
            source=source,
        )
        for s in (found if isinstance(found, list) else [found])
    ]


def _wild(pattern: str, value: str, *, case: bool) -> bool:
    if not case:
        pattern, value = pattern.lower(), value.lower()
    # IAM wildcards: * and ?; nothing else is special (fnmatch would treat [ ] as a class).
    expression = ".*".join(".".join(map(re.escape, part.split("?"))) for part in pattern.split("*"))
    return re.fullmatch(expression, value) is not None


def _action_matches(statement: Statement, action: str) -> bool:
    if statement.not_actions:
        return not any(_wild(a, action, case=False) for a in statement.not_actions)
    return any(_wild(a, action, case=False) for a in statement.actions)


def _resource_matches(statement: Statement, resource: str) -> bool:
    if not statement.resources and not statement.not_resources:
        return statement.principals is not None  # a role's trust policy: the resource is the role itself
    if statement.not_resources:
        return not any(_wild(r, resource, case=True) for r in statement.not_resources)
    return any(_wild(r, resource, case=True) for r in statement.resources)


def _principal_matches(statement: Statement, principal: str | None) -> bool:
    if statement.principals is None:
        return True  # identity policy: the principal is the one it is attached to
    if statement.principals == "*" or principal is None:
        return statement.principals == "*"
    for kind, values in statement.principals.items():
        for value in _tuple(values):
            if value == "*" or value == principal:
                return True
            account = re.fullmatch(r"arn:aws:iam::(\d{12}):root", value)
            if kind == "AWS" and account and f":{account[1]}:" in principal:
                return True
    return False


_OPERATORS = {
    "StringEquals": lambda want, got: got == want,
    "StringNotEquals": lambda want, got: got != want,
    "StringLike": lambda want, got: _wild(want, got, case=True),
    "StringEqualsIgnoreCase": lambda want, got: got.lower() == want.lower(),
    "ArnEquals": lambda want, got: got == want,
    "ArnLike": lambda want, got: _wild(want, got, case=True),
    "Bool": lambda want, got: str(got).lower() == str(want).lower(),
    # a multi-valued key with one value in the request (dynamodb:LeadingKeys of a GetItem or UpdateItem)
    "ForAllValues:StringEquals": lambda want, got: got == want,
}


def _conditions_hold(statement: Statement, context: Mapping[str, Any], unevaluated: list[str]) -> bool:
    for operator, tests in statement.conditions.items():
        check = _OPERATORS.get(operator)
        for key, wanted in tests.items():
            if check is None or key not in context:
                unevaluated.append(f"{statement.source}: {operator} {key} (no value given)")
                return False
            negated = operator.startswith("StringNot")
            results = [check(w, str(context[key])) for w in _tuple(wanted)]
            if not (all(results) if negated else any(results)):
                return False
    return True


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    denied_by: tuple[str, ...] = ()
    unevaluated: tuple[str, ...] = ()


def evaluate(
    policy: Iterable[Statement],
    action: str,
    resource: str,
    *,
    principal: str | None = None,
    context: Mapping[str, Any] | None = None,
) -> Verdict:
    """Whether `policy` allows `action` on `resource` (for `principal`, in resource policies)."""
    context = context or {}
    unevaluated: list[str] = []
    applying = [
        s
        for s in policy
        if _action_matches(s, action)
        and _resource_matches(s, resource)
        and _principal_matches(s, principal)
        and _conditions_hold(s, context, unevaluated)
    ]
    denies = tuple(s.source for s in applying if s.effect == "Deny")
    allowed = not denies and any(s.effect == "Allow" for s in applying)
    return Verdict(allowed=allowed, denied_by=denies, unevaluated=tuple(unevaluated))


def role_policy(resolver: Resolver, stack: SynthesizedStack, role_logical_id: str) -> list[Statement]:
    """Every identity-policy statement attached to a role of `stack` (inline and AWS::IAM::Policy)."""
    found: list[Statement] = []
    role = stack.template["Resources"][role_logical_id]
    for inline in role.get("Properties", {}).get("Policies", []):
        found += statements(resolver.resolve(inline["PolicyDocument"], stack), inline["PolicyName"])
    for logical, resource in stack.template["Resources"].items():
        if resource["Type"] not in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            continue
        if {"Ref": role_logical_id} in resource["Properties"].get("Roles", []):
            found += statements(resolver.resolve(resource["Properties"]["PolicyDocument"], stack), logical)
    return found


def resource_policies(resolver: Resolver, stacks: Iterable[SynthesizedStack], kind: str, key: str) -> list[Statement]:
    """The statements of every resource policy of CloudFormation type `kind` (document under property `key`)."""
    found: list[Statement] = []
    for stack in stacks:
        for logical, resource in stack.template["Resources"].items():
            if resource["Type"] == kind:
                found += statements(resolver.resolve(resource["Properties"][key], stack), logical)
    return found
