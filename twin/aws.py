"""The twin's AWS: a local moto server, the process environment that points boto3 at it, and the stage's
resources created on it from the synthesized templates and the committed pipeline definitions."""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3
import requests
from botocore.config import Config

from pipeline_code import schema
from pipeline_definition.contract import (
    CODE_PREFIX,
    PLACEHOLDERS,
    STAGING_DIR,
    STAGING_PREFIX,
    code_files,
    definition_path,
)
from pipeline_definition.fingerprint import code_hash
from twin.assembly import StageTemplates

SERVICES = (
    "s3", "sagemaker", "sagemaker-runtime", "ssm", "dynamodb", "events", "sqs", "cloudwatch", "stepfunctions",
    "lambda", "iam", "sns", "kms", "sts",
)  # fmt: skip
# moto answers what it lacks with HTTP 500, which botocore would retry: one attempt, so a gap shows at once.
CLIENT_CONFIG = Config(retries={"max_attempts": 1, "mode": "standard"})


@contextmanager
def moto_server() -> Iterator[str]:
    """A moto server on 127.0.0.1 (a free port), from an empty state; yields its URL."""
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one log line per request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    requests.post(f"{url}/moto-api/reset", timeout=10)
    try:
        yield url
    finally:
        threading.Thread(target=server.stop, daemon=True).start()  # werkzeug waits out a 0.5 s poll


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


def placeholders(stage: StageTemplates, role_arn: str) -> dict[str, str]:
    """Each placeholder of the committed definitions -> the twin's name (what CDK's tokens become)."""
    names = {
        "role_arn": role_arn,
        "kms_key_arn": f"arn:aws:kms:{stage.region}:{stage.account}:key/twin-lake-key",
        "raw_bucket": stage.bucket("raw"),
        "artifacts_bucket": stage.bucket("artifacts"),
        "curated_bucket": stage.bucket("curated"),
        "feature_group": stage.names("AWS::SageMaker::FeatureGroup")[0]
        if stage.names("AWS::SageMaker::FeatureGroup")
        else "twin-feature-group",
        "model_package_group": stage.names("AWS::SageMaker::ModelPackageGroup")[0],
        "mlflow_tracking_server_arn": f"arn:aws:sagemaker:{stage.region}:{stage.account}:mlflow-tracking-server/none",
    }
    return {value: names[field] for field, value in PLACEHOLDERS.items()}


def render_definition(path: Path, names: dict[str, str], defaults: dict[str, Any] | None = None) -> str:
    """The committed definition with placeholders replaced by plain string replacement, as CDK does.

    `defaults` overrides parameter defaults: the twin's one deliberate change (NumRound small, so a training
    run takes seconds); every override is listed in the loop's output.
    """
    text = path.read_text()
    for placeholder, name in names.items():
        text = text.replace(placeholder, name)
    if not defaults:
        return text
    document = json.loads(text)
    declared = {p["Name"]: p for p in document["Parameters"]}
    for name, value in defaults.items():
        if name not in declared:
            raise KeyError(f"{path.name} declares no parameter {name!r}")
        declared[name]["DefaultValue"] = value
    return json.dumps(document)


def create_stage(
    c: dict[str, Any], stage: StageTemplates, environment: str, *, defaults: dict[str, Any]
) -> dict[str, str]:
    """Create on moto what the stage deploys and the loop uses; returns the placeholder map."""
    region = stage.region
    for zone in ("raw", "curated", "features", "artifacts"):
        c["s3"].create_bucket(Bucket=stage.bucket(zone), CreateBucketConfiguration={"LocationConstraint": region})
    # The raw zone sends its object events to EventBridge (set natively on the bucket, as the data lake does).
    c["s3"].put_bucket_notification_configuration(
        Bucket=stage.bucket("raw"), NotificationConfiguration={"EventBridgeConfiguration": {}}
    )
    role = c["iam"].create_role(
        RoleName=f"twin-{environment}-pipeline-role",
        AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}),
    )["Role"]["Arn"]
    names = placeholders(stage, role)
    for table in stage.of_type("AWS::DynamoDB::Table"):
        props = table.properties
        c["dynamodb"].create_table(
            TableName=stage.physical_name(table),
            AttributeDefinitions=props["AttributeDefinitions"],
            KeySchema=props["KeySchema"],
            BillingMode="PAY_PER_REQUEST",
        )
    for group in stage.names("AWS::SageMaker::ModelPackageGroup"):
        c["sagemaker"].create_model_package_group(ModelPackageGroupName=group)
    for feature_group in stage.names("AWS::SageMaker::FeatureGroup"):
        c["sagemaker"].create_feature_group(  # features, identifier and event time as the unit defines them
            FeatureGroupName=feature_group,
            RecordIdentifierFeatureName=schema.RECORD_IDENTIFIER_NAME,
            EventTimeFeatureName=schema.EVENT_TIME_NAME,
            FeatureDefinitions=schema.feature_store_definitions(),
            OfflineStoreConfig={"S3StorageConfig": {"S3Uri": f"s3://{stage.bucket('features')}/offline-store"}},
            RoleArn=role,
        )
    for pipeline in stage.of_type("AWS::SageMaker::Pipeline"):
        name = stage.physical_name(pipeline)
        kind = name.split(f"-{environment}-", 1)[1]  # <project>-<env>-<pipeline>
        c["sagemaker"].create_pipeline(
            PipelineName=name,
            PipelineDefinition=render_definition(definition_path(environment, kind), names, defaults.get(kind)),
            RoleArn=role,
        )
    deploy_step_code(c["s3"], stage.bucket("artifacts"))
    return names


def deploy_step_code(s3: Any, artifacts_bucket: str) -> str:
    """pipeline_code/ and the SDK's staged drivers, under the prefixes the CDK deployment uses."""
    digest = code_hash()
    root = Path(__file__).resolve().parent.parent
    for path in code_files():
        key = f"{CODE_PREFIX}/{digest}/{path.relative_to(root).as_posix()}"
        s3.put_object(Bucket=artifacts_bucket, Key=key, Body=path.read_bytes())
    staged = STAGING_DIR / STAGING_PREFIX
    for path in sorted(p for p in staged.rglob("*") if p.is_file()):
        s3.put_object(
            Bucket=artifacts_bucket,
            Key=f"{STAGING_PREFIX}/{path.relative_to(staged).as_posix()}",
            Body=path.read_bytes(),
        )
    return digest
