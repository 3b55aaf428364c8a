"""The twin's AWS: a local moto server, the process environment that points boto3 at it, and the stage's
resources created on it from the synthesized templates and the committed pipeline definitions."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from pipeline_definition.contract import definition_path
from pipeline_definition.local_runner.runner import render_definition as runner_rendering
from pipeline_definition.local_runner.twin import TwinNames, moto_endpoint, prepare_local_twin
from twin.assembly import StageTemplates

moto_server = moto_endpoint  # one moto server for the runner's twin and the loop's

SERVICES = (
    "s3", "sagemaker", "sagemaker-runtime", "ssm", "dynamodb", "events", "sqs", "cloudwatch", "stepfunctions",
    "lambda", "iam", "sns", "kms", "sts",
)  # fmt: skip
# moto answers what it lacks with HTTP 500, which botocore would retry: one attempt, so a gap shows at once.
CLIENT_CONFIG = Config(retries={"max_attempts": 1, "mode": "standard"})


def point_boto3_at(url: str, region: str) -> None:
    """Fake credentials and the moto endpoint for every boto3 client made in this process or its children
    (the handlers, the release script and the pipeline steps make their own clients)."""
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        os.environ.pop(name, None)
    os.environ.update(
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION=region,
        AWS_REGION=region,
        AWS_ENDPOINT_URL=url,
        AWS_MAX_ATTEMPTS="1",
        AWS_EC2_METADATA_DISABLED="true",
    )


def clients(url: str, region: str) -> dict[str, Any]:
    return {name: boto3.client(name, endpoint_url=url, region_name=region, config=CLIENT_CONFIG) for name in SERVICES}


def twin_names(stage: StageTemplates, project: str, environment: str) -> TwinNames:
    """The local runner's names of the environment, checked against the synthesized stage: one naming, not two."""
    names = TwinNames(project, environment, stage.region, account=stage.account, dataset=stage.dataset)
    for zone in ("raw", "curated", "features", "artifacts"):
        if names.bucket(zone) != stage.bucket(zone):
            raise RuntimeError(f"the runner names the {zone} zone {names.bucket(zone)}, the stage {stage.bucket(zone)}")
    groups = stage.names("AWS::SageMaker::ModelPackageGroup")
    if groups != [names.resources.model_package_group]:
        raise RuntimeError(f"the stage's model package groups {groups} are not the runner's")
    return names


def render_definition(path: Path, names: dict[str, str], defaults: dict[str, Any] | None = None) -> str:
    """The committed definition as CDK deploys it (the runner's rendering: placeholders replaced, none left), with
    `defaults` overriding parameter defaults: the twin's deliberate changes, listed in the loop's output."""
    document = runner_rendering(path, names)
    declared = {p["Name"]: p for p in document["Parameters"]}
    for name, value in (defaults or {}).items():
        if name not in declared:
            raise KeyError(f"{path.name} declares no parameter {name!r}")
        declared[name]["DefaultValue"] = value
    return json.dumps(document)


def create_stage(
    c: dict[str, Any], stage: StageTemplates, names: TwinNames, *, defaults: dict[str, Any]
) -> dict[str, str]:
    """Create on moto what the stage deploys and the loop uses; returns the placeholder map.

    The zone buckets, the step code and the SDK's staged files, the model package and feature groups are the
    local runner's (`prepare_local_twin`, without its data: the loop lands data itself, step by step).
    """
    placeholders = prepare_local_twin(c["s3"], names, sagemaker=c["sagemaker"], land_data=False)
    # The raw zone sends its object events to EventBridge (set natively on the bucket, as the data lake does).
    c["s3"].put_bucket_notification_configuration(
        Bucket=names.bucket("raw"), NotificationConfiguration={"EventBridgeConfiguration": {}}
    )
    role = c["iam"].create_role(
        RoleName=names.role_arn.rsplit("/", 1)[1],
        AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}),
    )["Role"]["Arn"]
    for table in stage.of_type("AWS::DynamoDB::Table"):
        props = table.properties
        c["dynamodb"].create_table(
            TableName=stage.physical_name(table),
            AttributeDefinitions=props["AttributeDefinitions"],
            KeySchema=props["KeySchema"],
            BillingMode="PAY_PER_REQUEST",
        )
    for pipeline in stage.of_type("AWS::SageMaker::Pipeline"):
        name = stage.physical_name(pipeline)
        kind = name.split(f"-{names.environment}-", 1)[1]  # <project>-<env>-<pipeline>
        c["sagemaker"].create_pipeline(
            PipelineName=name,
            PipelineDefinition=render_definition(
                definition_path(names.environment, kind), placeholders, defaults.get(kind)
            ),
            RoleArn=role,
        )
    return placeholders
