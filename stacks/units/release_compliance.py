"""cdk-nag acknowledgments for the IAM that CDK Pipelines generates, one finding at a time, each with its reason.

CDK Pipelines writes the roles of its pipeline, source action, CodeBuild projects and self-mutation itself;
their grants use AWS's standard wildcard action groups and generated names. Rather than one blanket exception,
`acknowledge_generated_grants` reads each generated policy, lists its wildcard findings exactly as cdk-nag's
AwsSolutions-IAM5 names them, and acknowledges each on that policy with the reason of its kind. A wildcard of a
kind not in `_REASONS` (a new CDK version granting something new) raises, so it is reviewed before it ships.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from constructs import IConstruct

from stacks.units.compliance import acknowledge

_ARTIFACTS = (
    "the pipeline's own artifact bucket: every execution writes source zips and cloud assemblies under new "
    "generated keys, so the grant is to that one bucket's objects, with S3's standard read/write action groups"
)
_REASONS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), reason)
    for pattern, reason in (
        (r"^Action::s3:(GetBucket|GetObject|List|Abort|DeleteObject)\*$", f"Grant on {_ARTIFACTS}."),
        (r"^Resource::<PipelineArtifactsBucket\w+\.Arn>/\*$", f"Objects of {_ARTIFACTS}."),
        (
            r"^Resource::arn:[\w-]+:s3:::[\w.-]+-support-[\w.-]+/\*$",
            f"Objects of the artifact bucket CDK Pipelines keeps in each other region a stage deploys to, like "
            f"{_ARTIFACTS}.",
        ),
        (
            r"^Action::kms:(GenerateDataKey|ReEncrypt)\*$",
            "Use of the pipeline's own cross-account artifact key (one key resource): KMS's standard action "
            "groups to encrypt and decrypt artifacts that the stage accounts also read.",
        ),
        (
            r"^Resource::arn:[\w-]+:logs:[\w-]+:\d{12}:log-group:/aws/codebuild/<\w+>:\*$",
            "CodeBuild writes log streams, named per build, into its own project's log group only.",
        ),
        (
            r"^Resource::arn:[\w-]+:codebuild:[\w-]+:\d{12}:report-group/<\w+>-\*$",
            "CodeBuild test-report groups of its own project, which CodeBuild names per report.",
        ),
        (
            r"^Resource::arn:[\w-]+:(logs|codebuild):[\w-]+:\d{12}:(log-group:/aws/codebuild|report-group)/\*$",
            "The asset-publishing role is shared by every asset CodeBuild project CDK Pipelines generates (one per "
            "asset, created as the app grows), so it covers their CodeBuild log and report groups in this account.",
        ),
        (
            r"^Resource::arn:\*:iam::\d{12}:role/\*$",
            "Self-mutation assumes the CDK bootstrap roles of the tooling account; the statement is limited by a "
            "condition to roles tagged aws-cdk:bootstrap-role = deploy, file-publishing or image-publishing.",
        ),
        (
            r"^Resource::\*$",
            "Generated run-time lookups whose targets are unknown at synth: cloudformation:DescribeStacks and "
            "s3:ListBucket of the CDK CLI (self-mutation), codebuild:StartBuild/BatchGetBuilds of asset publishing.",
        ),
    )
)
_INLINE_REASON = (
    "CDK Pipelines attaches each generated role's grants as that role's default inline policy; every such role "
    "serves one pipeline action, so the policy shares the role's lifecycle and is never reused elsewhere."
)


def _render(value: Any) -> str:
    """A resolved CloudFormation value in cdk-nag's notation: Ref -> <Id>, GetAtt -> <Id.Attr>, Join joined."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and len(value) == 1:
        ((function, argument),) = value.items()
        if function == "Ref":
            return f"<{argument}>"
        if function == "Fn::GetAtt":
            return f"<{argument[0]}.{argument[1]}>"
        if function == "Fn::Join":
            separator, parts = argument
            return str(separator).join(_render(part) for part in parts)
    return str(value)


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def wildcard_findings(policy_document: dict[str, Any]) -> list[str]:
    """The AwsSolutions-IAM5 findings of an allow-policy document, named as cdk-nag names them."""
    findings: list[str] = []
    for statement in policy_document.get("Statement", []):
        if statement.get("Effect") != "Allow":
            continue
        findings += [f"Action::{a}" for a in _as_list(statement.get("Action", [])) if "*" in a]
        findings += [f"Resource::{r}" for r in map(_render, _as_list(statement.get("Resource", []))) if "*" in r]
    return list(dict.fromkeys(findings))


def _reason_for(finding: str, where: str) -> str:
    for pattern, reason in _REASONS:
        if pattern.match(finding):
            return reason
    raise ValueError(f"{where}: no reviewed reason for the generated wildcard {finding!r}; review it and add one")


def _generated_policies(scope: IConstruct) -> Iterator[iam.Policy]:
    return (c for c in scope.node.find_all() if isinstance(c, iam.Policy))


def acknowledge_generated_grants(scope: IConstruct) -> None:
    """Acknowledge, policy by policy, the findings of the IAM that CDK Pipelines generated under `scope`.

    Call after `CodePipeline.build_pipeline()`, when every generated role exists.
    """
    stack = cdk.Stack.of(scope)
    for policy in _generated_policies(scope):
        acknowledge(policy, "NIST.800.53.R5-IAMNoInlinePolicy", _INLINE_REASON)
        document = stack.resolve(policy.document.to_json()) or {}
        for finding in wildcard_findings(document):
            acknowledge(policy, "AwsSolutions-IAM5", _reason_for(finding, policy.node.path), finding=finding)
