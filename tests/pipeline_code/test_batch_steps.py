"""Batch inference's ResolveModel step: the SageMaker model of the newest approved package (moto's Model Registry).
The transform itself scores raw files through the model's handlers (tests/pipeline_code/test_serve.py, and the
batch-inference pipeline on the twin in tests/pipeline_definition/test_local_runner.py)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

from pipeline_code import resolve_model
from pipeline_code.errors import PipelineError
from tests.moto_server import moto_server

REGION = "us-east-1"
ROLE = "arn:aws:iam::123456789012:role/mlops-dev-batch"


# ---------------------------------------------------------------- resolve_model on moto's Model Registry


@pytest.fixture(scope="module")
def sagemaker() -> Iterator[tuple[Any, str]]:
    with pytest.MonkeyPatch.context() as env, moto_server() as url:
        for name, value in {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_MAX_ATTEMPTS": "1",
        }.items():
            env.setenv(name, value)
        yield (
            boto3.client("sagemaker", endpoint_url=url, region_name=REGION, config=Config(retries={"max_attempts": 1})),
            url,
        )


def _register(client: Any, group: str, statuses: list[str]) -> list[str]:
    client.create_model_package_group(ModelPackageGroupName=group)
    spec = {
        "Containers": [{"Image": "123.dkr.ecr.us-east-1.amazonaws.com/xgb:1", "ModelDataUrl": "s3://b/m.tar.gz"}],
        "SupportedContentTypes": ["text/csv"],
        "SupportedResponseMIMETypes": ["text/csv"],
    }
    return [
        client.create_model_package(
            ModelPackageGroupName=group, ModelApprovalStatus=status, InferenceSpecification=spec
        )["ModelPackageArn"]
        for status in statuses
    ]


def _resolve(url: str, group: str, out: Path) -> int:
    return resolve_model.main(
        [
            "--model-package-group",
            group,
            "--execution-role-arn",
            ROLE,
            "--region",
            REGION,
            "--endpoint-url",
            url,
            "--output",
            str(out),
        ]
    )


def test_resolve_model_creates_the_newest_approved_packages_model_once(
    sagemaker: tuple[Any, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    client, url = sagemaker
    arns = _register(client, "mlops-dev-models", ["Approved", "Approved", "PendingManualApproval", "Rejected"])

    assert _resolve(url, "mlops-dev-models", tmp_path / "first") == 0

    result = json.loads((tmp_path / "first" / "model.json").read_text())
    assert result == {"model_name": "mlops-dev-models-v2", "model_package_arn": arns[1], "model_package_version": 2}
    model = client.describe_model(ModelName="mlops-dev-models-v2")
    assert model["PrimaryContainer"]["ModelPackageName"] == arns[1]
    assert model["ExecutionRoleArn"] == ROLE
    assert "created" in capsys.readouterr().out

    assert _resolve(url, "mlops-dev-models", tmp_path / "again") == 0  # idempotent
    assert json.loads((tmp_path / "again" / "model.json").read_text()) == result
    assert "mlops-dev-models-v2 exists" in capsys.readouterr().out
    assert [m["ModelName"] for m in client.list_models()["Models"]] == ["mlops-dev-models-v2"]


def test_resolve_model_without_an_approved_package_is_a_clear_error(
    sagemaker: tuple[Any, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    client, url = sagemaker
    _register(client, "mlops-staging-models", ["PendingManualApproval"])

    assert _resolve(url, "mlops-staging-models", tmp_path) == 1

    assert "model package group 'mlops-staging-models' has no Approved model package" in capsys.readouterr().err
    assert not (tmp_path / "model.json").exists()


def test_resolve_model_refuses_a_model_name_that_serves_another_package(sagemaker: tuple[Any, str]) -> None:
    client, _ = sagemaker
    package = "arn:aws:sagemaker:eu-west-1:123456789012:model-package/mlops-dev-models/{}"
    client.create_model(
        ModelName="other-v1", PrimaryContainer={"ModelPackageName": package.format(1)}, ExecutionRoleArn=ROLE
    )
    with pytest.raises(PipelineError, match=f"model 'other-v1' exists but serves {package.format(1)}"):
        resolve_model.ensure_model(client, "other-v1", package.format(2), ROLE)


NETWORK = ["--subnets", "subnet-0a1b2c3d", "subnet-0e1f2a3b", "--security-group-ids", "sg-0a1b2c3d"]


def test_resolve_model_in_a_vpc_environment_creates_the_model_in_its_subnets_isolated(
    sagemaker: tuple[Any, str], tmp_path: Path
) -> None:
    """The transform job runs the model where the model is: in the subnets, with no network of its own."""
    client, url = sagemaker
    _register(client, "mlops-prod-models", ["Approved"])
    arguments = ["--model-package-group", "mlops-prod-models", "--execution-role-arn", ROLE, "--region", REGION]
    common = [*arguments, "--endpoint-url", url, "--output"]
    assert resolve_model.main([*common, str(tmp_path / "a"), *NETWORK, "--network-isolation"]) == 0
    model = client.describe_model(ModelName="mlops-prod-models-v1")
    assert model["VpcConfig"] == {
        "Subnets": ["subnet-0a1b2c3d", "subnet-0e1f2a3b"],
        "SecurityGroupIds": ["sg-0a1b2c3d"],
    }
    # (moto keeps no EnableNetworkIsolation: what is sent is network_fields', checked below and in tests/contracts)
    # the same network again: the model is reused; none (a run of a definition without a VPC): refused
    assert resolve_model.main([*common, str(tmp_path / "b"), *NETWORK, "--network-isolation"]) == 0
    assert resolve_model.main([*common, str(tmp_path / "c")]) == 1


def test_a_model_made_outside_the_vpc_is_not_reused_inside_it(sagemaker: tuple[Any, str]) -> None:
    client, _ = sagemaker
    package = "arn:aws:sagemaker:eu-west-1:123456789012:model-package/mlops-prod-models/{}"
    client.create_model(
        ModelName="before-v1", PrimaryContainer={"ModelPackageName": package.format(1)}, ExecutionRoleArn=ROLE
    )
    network = resolve_model.network_fields(["subnet-0a1b2c3d"], ["sg-0a1b2c3d"], isolated=True)
    with pytest.raises(PipelineError, match=r"model 'before-v1' exists with another network .* delete it"):
        resolve_model.ensure_model(client, "before-v1", package.format(1), ROLE, network)


def test_subnets_without_security_groups_are_refused() -> None:
    with pytest.raises(PipelineError, match="--subnets and --security-group-ids go together"):
        resolve_model.network_fields(["subnet-0a1b2c3d"], None, isolated=False)
    assert resolve_model.network_fields(None, None, isolated=False) == {}
    assert resolve_model.network_fields(["subnet-0a1b2c3d"], ["sg-0a1b2c3d"], isolated=True) == {
        "EnableNetworkIsolation": True,
        "VpcConfig": {"Subnets": ["subnet-0a1b2c3d"], "SecurityGroupIds": ["sg-0a1b2c3d"]},
    }
