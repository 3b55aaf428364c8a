"""What the platform's SageMaker pipelines share in CDK: their generated definitions and their execution roles."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_scheduler as scheduler
from constructs import Construct

from pipeline_definition.contract import LIST_PLACEHOLDERS
from stacks.units.compliance import acknowledge, nag_finding

_ECR_IMAGE = re.compile(r"(?P<account>\d{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com/(?P<repo>[\w./-]+):")

# The jobs a pipeline run starts are named `pipelines-<execution>-<step>-<suffix>`, except tuning jobs: their
# names hold at most 32 characters, too few for that form, so Pipelines names them without the prefix.
_NAME_PATTERNS = {"hyper-parameter-tuning-job": "*"}
_JOB_ACTIONS = {
    "processing-job": ["CreateProcessingJob", "DescribeProcessingJob", "StopProcessingJob"],
    "training-job": ["CreateTrainingJob", "DescribeTrainingJob", "StopTrainingJob"],
    "hyper-parameter-tuning-job": [
        "CreateHyperParameterTuningJob",
        "DescribeHyperParameterTuningJob",
        "StopHyperParameterTuningJob",
        "ListTrainingJobsForHyperParameterTuningJob",
    ],
    "transform-job": ["CreateTransformJob", "DescribeTransformJob", "StopTransformJob"],
}


@dataclass(frozen=True)
class PipelineDefinition:
    """A generated definition (pipeline_definition/generated) and what CDK must ship for it."""

    body: str  # the definition JSON, with placeholders
    code_dir: Path  # pipeline_code/, deployed under CODE_PREFIX/<code_hash>/
    code_hash: str
    staging_dir: Path  # what the SDK staged, deployed under STAGING_PREFIX/

    @classmethod
    def load(cls, path: Path, *, code_dir: Path, code_hash: str, staging_dir: Path) -> PipelineDefinition:
        # Compact the committed (pretty) JSON: the definition body travels inside the template.
        body = json.dumps(json.loads(path.read_text(encoding="utf-8")), separators=(",", ":"), sort_keys=True)
        return cls(body=body, code_dir=code_dir, code_hash=code_hash, staging_dir=staging_dir)

    def image_repositories(self) -> list[tuple[str, str, str]]:
        """(account, region, repository) of every container image the definition runs."""
        return sorted({(m["account"], m["region"], m["repo"]) for m in _ECR_IMAGE.finditer(self.body)})

    def render(self, substitutions: Mapping[str, str], lists: Mapping[str, Sequence[str]] | None = None) -> str:
        """The body with each placeholder replaced by its (CDK token) value; CDK turns it into an Fn::Join.

        `lists`: placeholders that stand for several values (`contract.LIST_PLACEHOLDERS`): the JSON string
        holding one becomes one string per value, in the list or the arguments it was in."""
        body = self.body
        for placeholder, value in substitutions.items():
            body = body.replace(placeholder, value)
        for placeholder, values in (lists or {}).items():
            if not values:
                raise ValueError(f"no values for the list placeholder {placeholder}")
            body = body.replace(placeholder, '","'.join(values))
        return body

    @property
    def runs_in_a_vpc(self) -> bool:
        """Whether the definition's jobs carry the network placeholders (built for a VPC environment)."""
        return all(placeholder in self.body for placeholder in LIST_PLACEHOLDERS)


def grant_volume_key(role: iam.Role, key: kms.IKey) -> None:
    """Job volumes are encrypted with the lake key: SageMaker creates grants for each job's EBS volumes, and
    only for AWS resources."""
    key.grant(role, "kms:CreateGrant", "kms:DescribeKey")
    role.add_to_policy(
        iam.PolicyStatement(
            sid="DenyNonAwsResourceGrants",
            effect=iam.Effect.DENY,
            actions=["kms:CreateGrant"],
            resources=[key.key_arn],
            conditions={"Bool": {"kms:GrantIsForAWSResource": "false"}},
        )
    )


def grant_pipeline_jobs(role: iam.Role, job_types: Iterable[str], definitions: Iterable[PipelineDefinition]) -> None:
    """Let `role` run pipeline jobs of `job_types` (named `pipelines-*` by SageMaker Pipelines), pass itself
    to them, write their logs and pull the images the `definitions` name."""
    stack = cdk.Stack.of(role)
    for resource in job_types:
        actions = _JOB_ACTIONS[resource]
        arn = stack.format_arn(
            service="sagemaker", resource=resource, resource_name=_NAME_PATTERNS.get(resource, "pipelines-*")
        )
        role.add_to_policy(
            iam.PolicyStatement(actions=[f"sagemaker:{a}" for a in actions] + ["sagemaker:AddTags"], resources=[arn])
        )
        acknowledge(
            role,
            "AwsSolutions-IAM5",
            "SageMaker Pipelines names each job pipelines-<execution id>-<step>-<suffix> at run time (tuning jobs, "
            "capped at 32 characters, <execution id>-<step>-<suffix>): only Create/Describe/Stop/List of that type.",
            finding=f"Resource::{nag_finding(role, arn)}",
        )
    # Jobs run as this same role.
    role.add_to_policy(
        iam.PolicyStatement(
            actions=["iam:PassRole"],
            resources=[role.role_arn],
            conditions={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
        )
    )
    log_groups = stack.format_arn(
        service="logs",
        resource="log-group",
        resource_name="/aws/sagemaker/*",
        arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
    )
    role.add_to_policy(
        iam.PolicyStatement(
            actions=["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
            resources=[log_groups, f"{log_groups}:log-stream:*"],
        )
    )
    for arn in (log_groups, f"{log_groups}:log-stream:*"):
        acknowledge(
            role,
            "AwsSolutions-IAM5",
            "SageMaker jobs log to /aws/sagemaker/<job type> groups, one stream per job, named at run time.",
            finding=f"Resource::{nag_finding(role, arn)}",
        )
    repositories = [
        f"arn:{cdk.Aws.PARTITION}:ecr:{region}:{account}:repository/{repo}"
        for account, region, repo in sorted({repo for d in definitions for repo in d.image_repositories()})
    ]
    role.add_to_policy(
        iam.PolicyStatement(
            actions=["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"],
            resources=repositories,
        )
    )
    role.add_to_policy(iam.PolicyStatement(actions=["ecr:GetAuthorizationToken"], resources=["*"]))
    acknowledge(
        role,
        "AwsSolutions-IAM5",
        "ecr:GetAuthorizationToken has no resource type in IAM: it only returns a registry login token; image "
        "pulls are limited to the definition's own repositories.",
        finding="Resource::*",
    )


def pipeline_schedule(
    scope: Construct, construct_id: str, *, pipeline: str, expression: str, role: iam.IRole, key: kms.IKey
) -> scheduler.CfnSchedule:
    """An EventBridge Scheduler schedule (UTC) that starts the SageMaker pipeline `pipeline` of `scope`'s stack,
    as `role` (granted StartPipelineExecution on it here), its target encrypted with `key`; a late start is retried
    for an hour (the next run catches up anyway)."""
    pipeline_arn = cdk.Stack.of(scope).format_arn(service="sagemaker", resource="pipeline", resource_name=pipeline)
    role.add_to_principal_policy(
        iam.PolicyStatement(actions=["sagemaker:StartPipelineExecution"], resources=[pipeline_arn])
    )
    return scheduler.CfnSchedule(
        scope,
        construct_id,
        name=pipeline,
        description=f"Starts {pipeline}",
        schedule_expression=expression,
        schedule_expression_timezone="UTC",
        flexible_time_window=scheduler.CfnSchedule.FlexibleTimeWindowProperty(mode="OFF"),
        kms_key_arn=key.key_arn,
        target=scheduler.CfnSchedule.TargetProperty(
            arn=pipeline_arn,
            role_arn=role.role_arn,
            retry_policy=scheduler.CfnSchedule.RetryPolicyProperty(
                maximum_event_age_in_seconds=3600, maximum_retry_attempts=3
            ),
        ),
    )
