"""The names `naming.ResourceNames` gives fit what AWS accepts, for the committed config and for the longest names
the config allows, and the module imports where only boto3 is installed (the release's CodeBuild steps)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from config import load_config
from config.values import ENVIRONMENT_NAMES, REGIONS
from naming import ZONES, EnvironmentNames, ResourceNames
from pipeline_definition.contract import PIPELINES
from twin.api_contract import validate_request

ROOT = Path(__file__).resolve().parents[2]
CONFIG = load_config(ROOT / "config" / "environments.yaml")
STAND_IN_ACCOUNT = "123456789012"  # dev may leave its account to the credentials: every account id has 12 digits
PROJECT_NAME_MAX = 16  # config/platform.py: project_name

# The documented rules of names the service models give no pattern for.
S3_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")  # 3-63 characters, lower case
CLOUDFORMATION_STACK = re.compile(r"[a-zA-Z][-a-zA-Z0-9]{0,127}")
SNS_TOPIC = re.compile(r"[A-Za-z0-9_-]{1,256}")
STATE_MACHINE = re.compile(r"[A-Za-z0-9_-]{1,80}")
SSM_PARAMETER = re.compile(r"(/[a-zA-Z0-9_.-]+){1,15}")  # hierarchical: at most 15 levels


def _committed() -> list[ResourceNames]:
    return [
        ResourceNames(CONFIG.project_name, name, environment.account or STAND_IN_ACCOUNT, environment.region)
        for name, environment in CONFIG.environments.items()
    ]


def _longest() -> ResourceNames:
    """The longest names the config lets through: its longest project name, environment and region."""
    environment, region = max(ENVIRONMENT_NAMES, key=len), max(REGIONS, key=len)
    return ResourceNames("p" * PROJECT_NAME_MAX, environment, STAND_IN_ACCOUNT, region)


CASES = [pytest.param(names, id=f"{names.environment}-{names.region}") for names in _committed()]
CASES.append(pytest.param(_longest(), id="longest-config-allows"))


def test_the_longest_project_name_checked_here_is_the_longest_the_config_accepts() -> None:
    def project_name_errors(name: str) -> list[object]:
        try:
            CONFIG.model_validate({**CONFIG.model_dump(), "project_name": name})
        except ValidationError as error:
            return [e["loc"] for e in error.errors()]
        return []

    assert project_name_errors("p" * PROJECT_NAME_MAX) == []
    assert project_name_errors("p" * (PROJECT_NAME_MAX + 1)) == [("project_name",)]


@pytest.mark.parametrize("names", CASES)
def test_zone_buckets_are_valid_s3_bucket_names(names: ResourceNames) -> None:
    for zone in ZONES:
        bucket = names.zone_bucket(zone)
        assert len(bucket) <= 63, bucket
        assert S3_BUCKET.fullmatch(bucket), bucket
        assert ".." not in bucket


@pytest.mark.parametrize("names", CASES)
def test_sagemaker_names_fit_the_api(names: ResourceNames) -> None:
    requests = [("DescribePipeline", {"PipelineName": names.pipeline(kind)}) for kind in PIPELINES]
    requests += [
        ("DescribeEndpoint", {"EndpointName": names.endpoint}),
        ("DescribeModelPackageGroup", {"ModelPackageGroupName": names.model_package_group}),
        ("DescribeFeatureGroup", {"FeatureGroupName": names.feature_group}),
        ("DescribeMlflowTrackingServer", {"TrackingServerName": names.mlflow_server}),
    ]
    # What a promotion names its model and endpoint config (a million versions in, and an 8-hex suffix).
    promoted = f"{names.promoted_model_prefix}999999-0123abcd"
    requests += [
        ("DescribeModel", {"ModelName": promoted}),
        ("DescribeEndpointConfig", {"EndpointConfigName": promoted}),
    ]
    problems = [problem for op, params in requests for problem in validate_request("sagemaker", op, params)]
    assert problems == []


@pytest.mark.parametrize("names", CASES)
def test_the_other_services_names_fit_their_api(names: ResourceNames) -> None:
    problems = [
        *validate_request("ssm", "GetParameter", {"Name": names.current_model_parameter}),
        *validate_request("ssm", "GetParameter", {"Name": names.code_hash_parameter}),
        *validate_request("iam", "GetRole", {"RoleName": names.release_check_role}),
        *validate_request("cloudwatch", "DescribeAlarms", {"AlarmNamePrefix": names.alarm_prefix}),
        *validate_request(
            "cloudwatch",
            "ListMetrics",
            {
                "Namespace": names.metric_namespace,
                "Dimensions": [{"Name": names.metric_dimension, "Value": names.prefix}],
            },
        ),
    ]
    assert problems == []
    for parameter in (names.current_model_parameter, names.code_hash_parameter):
        assert SSM_PARAMETER.fullmatch(parameter), parameter
    assert SNS_TOPIC.fullmatch(names.alerts_topic)
    assert STATE_MACHINE.fullmatch(names.promotion_state_machine)
    for stack in (names.data_lake_stack, names.ml_pipeline_stack, names.operations_stack, names.release_access_stack):
        assert CLOUDFORMATION_STACK.fullmatch(stack), stack


def test_every_name_of_an_environment_starts_with_its_prefix() -> None:
    # IAM policies (the release check role, the pipelines' roles) match the environment's resources on it.
    names = ResourceNames("mlops", "dev", STAND_IN_ACCOUNT, "eu-west-1")
    prefixed = [
        *(names.pipeline(kind) for kind in PIPELINES),
        names.endpoint,
        names.model_package_group,
        names.feature_group,
        names.mlflow_server,
        names.alerts_topic,
        names.alarm_prefix,
        names.promotion_state_machine,
        names.promoted_model_prefix,
        names.release_check_role,
        *(names.zone_bucket(zone) for zone in ZONES),
    ]
    assert all(name.startswith("mlops-dev-") for name in prefixed), prefixed
    assert names.current_model_parameter.startswith("/mlops/dev/")
    assert names.code_hash_parameter.startswith("/mlops/dev/")


def test_the_account_free_names_are_the_same_names() -> None:
    # The pipeline builder (no account) and CDK (account and region) must name the pipelines and groups alike.
    free = EnvironmentNames("mlops", "prod")
    full = ResourceNames("mlops", "prod", STAND_IN_ACCOUNT, "eu-west-1")
    for attribute in ("prefix", "training_pipeline", "endpoint", "model_package_group", "current_model_parameter"):
        assert getattr(free, attribute) == getattr(full, attribute)


@pytest.mark.parametrize(
    ("arguments", "fragment"),
    [
        (("MLOps", "dev", STAND_IN_ACCOUNT, "eu-west-1"), "project 'MLOps'"),
        (("mlops", "", STAND_IN_ACCOUNT, "eu-west-1"), "environment ''"),
        (("mlops", "dev_1", STAND_IN_ACCOUNT, "eu-west-1"), "environment 'dev_1'"),
        (("mlops", "dev", "", "eu-west-1"), "account"),
        (("mlops", "dev", STAND_IN_ACCOUNT, ""), "region"),
    ],
)
def test_a_name_part_that_would_make_invalid_names_is_refused_by_name(
    arguments: tuple[str, str, str, str], fragment: str
) -> None:
    with pytest.raises(ValueError, match=re.escape(fragment)):
        ResourceNames(*arguments)


def test_an_unknown_pipeline_or_zone_is_refused_with_the_known_ones() -> None:
    names = ResourceNames("mlops", "dev", STAND_IN_ACCOUNT, "eu-west-1")
    with pytest.raises(ValueError, match=r"'inference'.*training, monitoring, batch-inference"):
        names.pipeline("inference")
    with pytest.raises(ValueError, match=r"'logs'.*raw, curated, features, artifacts"):
        names.zone_bucket("logs")


# Imports naming with every package a boto3-only CodeBuild image lacks made unimportable.
_BOTO3_ONLY = """
import sys

class Missing:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("pydantic", "pydantic_core", "aws_cdk", "constructs", "sagemaker", "config"):
            raise ImportError(f"{name} is not installed here")
        return None

sys.meta_path.insert(0, Missing())
from naming import ResourceNames
print(ResourceNames("mlops", "dev", "123456789012", "eu-west-1").zone_bucket("raw"))
"""


def test_naming_imports_without_pydantic_cdk_or_the_config() -> None:
    result = subprocess.run(
        [sys.executable, "-c", _BOTO3_ONLY], cwd=ROOT, capture_output=True, text=True, check=False, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "mlops-dev-raw-123456789012-eu-west-1"
