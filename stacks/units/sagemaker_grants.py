"""Grants every role that SageMaker runs containers as needs: its CloudWatch log group and metric namespace."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_iam as iam

from stacks.units.compliance import acknowledge, nag_finding


def grant_container_logs(role: iam.Role, log_group_name: str, *, who: str) -> None:
    """Logs of SageMaker containers (endpoints, jobs) in `log_group_name`, one stream each, named at run time."""
    group = cdk.Stack.of(role).format_arn(
        service="logs", resource="log-group", resource_name=log_group_name, arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME
    )
    role.add_to_policy(
        iam.PolicyStatement(
            sid="ContainerLogs",
            actions=["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
            resources=[group, f"{group}:log-stream:*"],
        )
    )
    acknowledge(
        role,
        "AwsSolutions-IAM5",
        f"{who} log one stream per container instance in {log_group_name}, named by SageMaker at run time.",
        finding=f"Resource::{nag_finding(role, group)}:log-stream:*",
    )


def grant_metrics(role: iam.Role, namespace_pattern: str, *, who: str) -> None:
    """cloudwatch:PutMetricData, which has no resource type, limited by condition to `namespace_pattern`."""
    role.add_to_policy(
        iam.PolicyStatement(
            sid="PublishMetrics",
            actions=["cloudwatch:PutMetricData"],
            resources=["*"],
            conditions={"StringLike": {"cloudwatch:namespace": namespace_pattern}},
        )
    )
    acknowledge(
        role,
        "AwsSolutions-IAM5",
        f"cloudwatch:PutMetricData has no resource type; {who} may publish only to namespaces {namespace_pattern}.",
        finding="Resource::*",
    )
