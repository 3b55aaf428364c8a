"""Config values turned into CDK values, in one place so every unit reads them the same way."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_logs as logs

from config import LOG_RETENTION_DAYS, EnvironmentConfig
from naming import ResourceNames

# RetentionDays lists CloudWatch's accepted periods in ascending order, as LOG_RETENTION_DAYS does (then INFINITE).
_RETENTION = dict(zip(LOG_RETENTION_DAYS, [r for r in logs.RetentionDays if r.name != "INFINITE"], strict=True))


def removal_policy(environment: EnvironmentConfig) -> cdk.RemovalPolicy:
    return cdk.RemovalPolicy.DESTROY if environment.is_destroyable else cdk.RemovalPolicy.RETAIN


def log_retention(environment: EnvironmentConfig) -> logs.RetentionDays:
    return _RETENTION[environment.log_retention_days]


def stage_names(project_name: str, environment: str, dataset: str) -> ResourceNames:
    """The environment's names as its templates write them: the account and region are the stack's deploy-time
    pseudo parameters (`AWS::AccountId`, `AWS::Region`), so a bucket name reads the same in every stack."""
    return ResourceNames(project_name, environment, account=cdk.Aws.ACCOUNT_ID, region=cdk.Aws.REGION, dataset=dataset)
