"""The API contract checker itself: known-good requests pass, each kind of bad request is named by its path."""

from __future__ import annotations

import boto3
import botocore.session
import pytest
from botocore.stub import Stubber

from twin import moto_patches
from twin.api_contract import (
    RequestContractError,
    _pattern,
    install_validating_hook,
    validate_every_client,
    validate_request,
)

ROLE = "arn:aws:iam::123456789012:role/mlops-dev-ml-pipeline-TrainingPipelineExecutionRole-AbC123"
GOOD_PROCESSING_JOB = {
    "ProcessingJobName": "pipelines-0a1b2c3d4e5f-Preprocess-Xy12AbCdEf",
    "RoleArn": ROLE,
    "AppSpecification": {
        "ImageUri": "123456789012.dkr.ecr.eu-west-1.amazonaws.com/sagemaker-distribution-prod:3-cpu",
        "ContainerEntrypoint": ["python3", "-m", "pipeline_code.preprocess"],
    },
    "ProcessingResources": {"ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.large", "VolumeSizeInGB": 30}},
    "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
    "Environment": {"PYTHONPATH": "/opt/ml/processing/code"},
}


def _with(base: dict, path: str, value: object) -> dict:
    """A deep copy of `base` with the member at dotted `path` replaced (or removed when value is ...)."""
    import copy

    request = copy.deepcopy(base)
    *parents, last = path.split(".")
    target = request
    for name in parents:
        target = target[name]
    if value is ...:
        del target[last]
    else:
        target[last] = value
    return request


def test_known_good_requests_pass() -> None:
    assert validate_request("sagemaker", "CreateProcessingJob", GOOD_PROCESSING_JOB) == []
    assert (
        validate_request(
            "events",
            "PutEvents",
            {"Entries": [{"Source": "mlops.monitoring", "DetailType": "Drift Violations Report", "Detail": "{}"}]},
        )
        == []
    )
    assert validate_request("sts", "GetCallerIdentity", {}) == []
    assert (
        validate_request(
            "sagemaker",
            "CreateModelPackage",
            {
                "ModelPackageGroupName": "mlops-dev-models",
                "CustomerMetadataProperties": {"hyperparameters": "num_round=300 max_depth=6", "trigger": "drift"},
            },
        )
        == []
    )


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        ("RoleArn", ..., "RoleArn: required member missing"),
        ("Unexpected", 1, "Unexpected: unknown member of CreateProcessingJobRequest"),
        ("ProcessingJobName", "x" * 64, "ProcessingJobName: length 64 is above the maximum 63"),
        ("ProcessingJobName", "pipelines_run", "ProcessingJobName: 'pipelines_run' does not match"),
        ("ProcessingResources.ClusterConfig.InstanceCount", 0, "InstanceCount: value 0 is below the minimum 1"),
        ("ProcessingResources.ClusterConfig.InstanceCount", "1", "InstanceCount: expected an integer, got '1'"),
        ("ProcessingResources.ClusterConfig.InstanceType", "ml.m5.huge", "InstanceType: 'ml.m5.huge' is not one of"),
        ("StoppingCondition.MaxRuntimeInSeconds", 10**9, "MaxRuntimeInSeconds: value 1000000000 is above"),
        ("AppSpecification.ContainerEntrypoint", [], "ContainerEntrypoint: items 0 is below the minimum 1"),
        ("Environment", {"K": "v" * 300}, "Environment.K: length 300 is above the maximum 256"),
        ("Environment", "PYTHONPATH=x", "Environment: expected a map, got str"),
    ],
)
def test_each_broken_constraint_is_named_by_its_path(path: str, value: object, expected: str) -> None:
    problems = validate_request("sagemaker", "CreateProcessingJob", _with(GOOD_PROCESSING_JOB, path, value))
    assert any(expected in problem for problem in problems), problems


def test_patterns_use_java_classes_and_whole_value_matching() -> None:
    # Customer metadata allows letters, spaces, digits and _.:/=+-@ (\p{L}, \p{Z}, \p{N}): no ';'.
    bad = {"ModelPackageGroupName": "g", "CustomerMetadataProperties": {"hyperparameters": "eta=0.1;max_depth=6"}}
    assert validate_request("sagemaker", "CreateModelPackage", bad) == [
        "CustomerMetadataProperties.hyperparameters: 'eta=0.1;max_depth=6' does not match "
        "'([\\\\p{L}\\\\p{Z}\\\\p{N}_.:\\\\/=+\\\\-@]*)${1,256}'"
    ]
    accented = {"ModelPackageGroupName": "g", "CustomerMetadataProperties": {"author": "Zoë Ünal"}}
    assert validate_request("sagemaker", "CreateModelPackage", accented) == []
    # A prefix match is not enough: AWS matches the whole value.
    assert validate_request("sagemaker", "DescribeModelPackage", {"ModelPackageName": "mlops-dev-models/3 extra"})


def test_java_surrogate_pairs_become_code_points() -> None:
    pattern = _pattern("[\\u0020-\\uD7FF\\uE000-\\uFFFD\\uD800\\uDC00-\\uDBFF\\uDFFF\\t]*")
    assert pattern.fullmatch("table \U0001f600")
    assert not pattern.fullmatch("bell \x07")


def test_every_pattern_of_the_services_the_platform_calls_compiles() -> None:
    session = botocore.session.get_session()
    for service in ("sagemaker", "s3", "events", "sns", "ssm", "cloudwatch", "dynamodb", "sqs", "stepfunctions"):
        model = session.get_service_model(service)
        for name in model.shape_names:
            if pattern := model.shape_for(name).metadata.get("pattern"):
                _pattern(pattern)  # raises regex.error when a Java construct is not translated


def test_the_hook_stops_a_bad_call_before_it_is_sent_and_lets_good_ones_through() -> None:
    client = boto3.client("sagemaker", region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="x")
    install_validating_hook(client)
    with Stubber(client) as stubber:
        stubber.add_response("list_model_packages", {"ModelPackageSummaryList": []}, {"ModelPackageGroupName": "g-1"})
        assert client.list_model_packages(ModelPackageGroupName="g-1")["ModelPackageSummaryList"] == []
        with pytest.raises(RequestContractError, match=r"ModelPackageGroupName: 'mlops dev' does not match"):
            client.list_model_packages(ModelPackageGroupName="mlops dev")


def test_the_hook_on_a_session_covers_the_clients_it_creates() -> None:
    session = boto3.Session(region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="x")
    install_validating_hook(session)
    events = session.client("events")
    with pytest.raises(RequestContractError, match=r"Entries: items 11 is above the maximum 10"):
        events.put_events(Entries=[{"Source": "s", "DetailType": "d", "Detail": "{}"}] * 11)


def test_the_hook_refuses_what_is_not_a_client_or_session() -> None:
    with pytest.raises(TypeError, match="not a boto3/botocore client or session: dict"):
        install_validating_hook({})


def test_a_missing_idempotency_token_is_left_to_botocore_which_fills_it() -> None:
    request = {"PipelineName": "p", "PipelineDefinition": "{}", "RoleArn": "arn:aws:iam::123456789012:role/r"}
    assert validate_request("sagemaker", "CreatePipeline", request) == []
    assert validate_request("sagemaker", "CreatePipeline", {**request, "ClientRequestToken": "short"}) == [
        "ClientRequestToken: length 5 is below the minimum 32"
    ]


def test_validate_every_client_covers_clients_of_sessions_made_later(monkeypatch: pytest.MonkeyPatch) -> None:
    validate_every_client(monkeypatch)
    client = boto3.Session(region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="x").client("s3")
    with pytest.raises(RequestContractError, match=r"Bucket: required member missing"):
        client.list_objects_v2(Prefix="adult/")


def test_the_promotion_twin_refuses_what_aws_would_by_default() -> None:
    # What `twin.moto_patches` runs before each request of the Step Functions interpreter's aws-sdk tasks (called
    # directly: another test's validate_every_client may also hook every client of this process).
    model = botocore.session.get_session().get_service_model("ssm").operation_model("PutParameter")
    moto_patches.validate_requests()
    moto_patches._check_request({"Name": "/mlops/dev/x", "Value": "v", "Tier": "Standard"}, model)
    with pytest.raises(ValueError, match=r"ssm.PutParameter would be refused by AWS: Tier: 'Huge'"):
        moto_patches._check_request({"Name": "/mlops/dev/x", "Value": "v", "Tier": "Huge"}, model)
    assert moto_patches.request_problems == [
        "ssm.PutParameter: Tier: 'Huge' is not one of Standard, Advanced, Intelligent-Tiering"
    ]
    moto_patches.validate_requests()
    assert moto_patches.request_problems == []
