"""The post-deploy check against moto: what exists and is ready passes, anything else stops the release."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from release.aws import Clients, ResourceReader, session_for
from release.post_deploy_check import (
    BUCKET,
    ENDPOINT,
    FEATURE_GROUP,
    PIPELINE,
    Expected,
    Kind,
    check,
    expectations,
    main,
)

_DESCRIBED_ENDPOINT = {
    "EndpointName": "live",
    "EndpointArn": "arn:aws:sagemaker:eu-west-1:123456789012:endpoint/live",
    "EndpointConfigName": "live",
    "CreationTime": datetime(2026, 1, 1, tzinfo=UTC),
    "LastModifiedTime": datetime(2026, 1, 1, tzinfo=UTC),
}
ROLE_TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}],
}


def _pipeline(clients: Clients, name: str) -> None:
    clients.sagemaker.create_pipeline(
        PipelineName=name,
        PipelineDefinition=json.dumps({"Version": "2020-12-01", "Parameters": [], "Steps": []}),
        RoleArn="arn:aws:iam::123456789012:role/sagemaker",
    )


def _feature_group(clients: Clients, name: str) -> None:
    clients.sagemaker.create_feature_group(
        FeatureGroupName=name,
        RecordIdentifierFeatureName="id",
        EventTimeFeatureName="event_time",
        FeatureDefinitions=[
            {"FeatureName": "id", "FeatureType": "String"},
            {"FeatureName": "event_time", "FeatureType": "String"},
        ],
        OfflineStoreConfig={"S3StorageConfig": {"S3Uri": "s3://features/offline"}},  # moto needs an offline store
        RoleArn="arn:aws:iam::123456789012:role/sagemaker",
    )


def _endpoint(clients: Clients, name: str) -> None:
    clients.sagemaker.create_model(
        ModelName=name,
        ExecutionRoleArn="arn:aws:iam::123456789012:role/sagemaker",
        PrimaryContainer={"Image": "123456789012.dkr.ecr.eu-west-1.amazonaws.com/xgboost:1"},
    )
    clients.sagemaker.create_endpoint_config(
        EndpointConfigName=name,
        ProductionVariants=[
            {"VariantName": "main", "ModelName": name, "InitialInstanceCount": 1, "InstanceType": "ml.m5.large"}
        ],
    )
    clients.sagemaker.create_endpoint(EndpointName=name, EndpointConfigName=name)
    # Creating first, as on AWS (the twin's moto patches, if this worker loaded them, script it): wait it out
    for _ in range(10):
        if clients.sagemaker.describe_endpoint(EndpointName=name)["EndpointStatus"] == "InService":
            break


def test_options_and_prefixed_variables_name_what_to_check_and_empty_names_are_skipped() -> None:
    environ = {
        "CHECK_BUCKET_RAW": "raw-bucket",
        "CHECK_SAGEMAKER_PIPELINE_TRAINING": "mlops-dev-training",
        "CHECK_ENDPOINT_LIVE": "",  # a stage without an endpoint outputs an empty name
        "UNRELATED": "x",
    }
    found = expectations(environ, ["--bucket", "extra-bucket", "--feature-group", "features", "--bucket", "raw-bucket"])
    assert found == [
        Expected(BUCKET, "extra-bucket"),
        Expected(BUCKET, "raw-bucket"),
        Expected(PIPELINE, "mlops-dev-training"),
        Expected(FEATURE_GROUP, "features"),
    ]


def test_existing_and_ready_resources_pass(clients: Clients, unique: str) -> None:
    clients.s3.create_bucket(Bucket=f"raw-{unique}", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    _pipeline(clients, f"training-{unique}")
    _feature_group(clients, f"features-{unique}")
    _endpoint(clients, f"live-{unique}")
    reader = ResourceReader(clients)
    findings = [
        check(Expected(kind, name), reader)
        for kind, name in [
            (BUCKET, f"raw-{unique}"),
            (PIPELINE, f"training-{unique}"),
            (FEATURE_GROUP, f"features-{unique}"),
            (ENDPOINT, f"live-{unique}"),
        ]
    ]
    assert [(f.ok, f.detail) for f in findings] == [
        (True, "exists"),
        (True, "status Active"),
        (True, "status Created"),
        (True, "status InService"),
    ]


@pytest.mark.parametrize("kind", [BUCKET, PIPELINE, ENDPOINT], ids=lambda k: k.label)
def test_a_missing_resource_fails(clients: Clients, unique: str, kind: Kind) -> None:
    finding = check(Expected(kind, f"missing-{unique}"), ResourceReader(clients))
    assert (finding.ok, finding.detail) == (False, "does not exist")
    assert str(finding).startswith(f"FAIL {kind.label} missing-{unique}")


def test_a_missing_feature_group_fails(clients: Clients) -> None:
    # moto answers DescribeFeatureGroup for an unknown group with HTTP 500; AWS answers ResourceNotFound.
    with Stubber(clients.sagemaker) as stub:
        stub.add_client_error("describe_feature_group", "ResourceNotFound", "Resource Not Found: FeatureGroup")
        finding = check(Expected(FEATURE_GROUP, "missing"), ResourceReader(clients))
    assert (finding.ok, finding.detail) == (False, "does not exist")


def test_an_access_error_is_raised_not_mistaken_for_a_missing_resource(clients: Clients) -> None:
    with Stubber(clients.sagemaker) as stub:
        stub.add_client_error("describe_endpoint", "AccessDeniedException", "not authorized", http_status_code=403)
        with pytest.raises(ClientError, match="AccessDenied"):
            check(Expected(ENDPOINT, "live"), ResourceReader(clients))


def test_a_resource_in_a_status_that_is_not_ready_fails(clients: Clients) -> None:
    # moto creates endpoints InService at once; AWS reports Creating (or Failed) while an endpoint deploys.
    with Stubber(clients.sagemaker) as stub:
        stub.add_response("describe_endpoint", {**_DESCRIBED_ENDPOINT, "EndpointStatus": "Creating"})
        finding = check(Expected(ENDPOINT, "live"), ResourceReader(clients))
    assert (finding.ok, finding.detail) == (False, "status Creating, expected InService")


def test_main_exits_1_and_reports_every_finding_when_one_is_missing(
    clients: Clients, unique: str, capsys: pytest.CaptureFixture[str]
) -> None:
    clients.s3.create_bucket(Bucket=f"raw-{unique}", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    environ = {"CHECK_BUCKET_RAW": f"raw-{unique}", "CHECK_BUCKET_CURATED": f"curated-{unique}"}
    assert main([], environ=environ, reader=ResourceReader(clients)) == 1
    out = capsys.readouterr().out
    assert f"ok   bucket raw-{unique}: exists" in out
    assert f"FAIL bucket curated-{unique}: does not exist" in out
    assert "1 of 2 ready" in out


def test_main_exits_0_when_everything_is_ready(clients: Clients, unique: str) -> None:
    clients.s3.create_bucket(Bucket=f"raw-{unique}", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    assert main([], environ={"CHECK_BUCKET_RAW": f"raw-{unique}"}, reader=ResourceReader(clients)) == 0


def test_main_refuses_to_pass_when_it_was_given_nothing_to_check(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([], environ={"CHECK_ENDPOINT_LIVE": ""}) == 2
    assert "nothing to check" in capsys.readouterr().err


def test_main_without_a_target_region_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--bucket", "b"], environ={}) == 2
    assert "TARGET_REGION" in capsys.readouterr().err


def test_the_environment_role_is_assumed_before_reading(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}.items():
        monkeypatch.setenv(name, value)
    iam = boto3.client("iam", region_name="eu-west-1", endpoint_url=moto_endpoint)
    role_arn = iam.create_role(RoleName="mlops-dev-release-check", AssumeRolePolicyDocument=json.dumps(ROLE_TRUST))[
        "Role"
    ]["Arn"]
    session = session_for(region="eu-west-1", role_arn=role_arn, endpoint_url=moto_endpoint)
    identity = session.client("sts", endpoint_url=moto_endpoint).get_caller_identity()
    assert identity["Arn"].startswith(role_arn.replace(":role/", ":assumed-role/").replace(":iam:", ":sts:"))
    assert session.get_credentials().token  # temporary credentials of the assumed role, not the base ones
