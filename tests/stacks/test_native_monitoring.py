"""The model-monitor backend refuses what it cannot build as a config error, which synth prints as one message."""

from __future__ import annotations

import aws_cdk as cdk
import pytest
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3

from config import ConfigError, PlatformConfig
from stacks.units.native_monitoring import NativeMonitoring
from stacks.units.settings import stage_names


def _build(platform_config: PlatformConfig, *, region: str, schedule: str | None = None) -> None:
    monitoring = platform_config.environment("prod").monitoring
    monitoring = monitoring.model_copy(update={"backend": "model-monitor", "schedule": schedule or monitoring.schedule})
    stack = cdk.Stack(cdk.App(), "Operations", env=cdk.Environment(account="333333333333", region=region))
    NativeMonitoring(
        stack,
        "NativeMonitoring",
        names=stage_names("mlops", "prod", "adult"),
        monitoring=monitoring,
        region=region,
        artifacts_bucket=s3.Bucket(stack, "Artifacts"),
        key=kms.Key(stack, "Key"),
    )


@pytest.mark.parametrize(
    ("region", "schedule", "expected"),
    [
        # A region the config accepts (SageMaker Pipelines is there) but where AWS publishes no Model Monitor image.
        (
            "ap-southeast-4",
            None,
            ["environment 'prod'", "region 'ap-southeast-4'", "sagemaker-model-monitor-analyzer", "'custom'"],
        ),
        # Clarify's image is missing from more regions than Model Monitor's.
        ("il-central-1", None, ["environment 'prod'", "region 'il-central-1'", "sagemaker-clarify-processing"]),
        # A schedule EventBridge accepts but Model Monitor cannot run.
        ("eu-west-1", "rate(7 days)", ["environment 'prod'", "monitoring.schedule 'rate(7 days)'", "hourly or daily"]),
    ],
)
def test_what_model_monitor_cannot_run_is_a_config_error_naming_environment_key_and_fix(
    platform_config: PlatformConfig, region: str, schedule: str | None, expected: list[str]
) -> None:
    with pytest.raises(ConfigError) as caught:  # app.main prints a ConfigError's message and exits 1
        _build(platform_config, region=region, schedule=schedule)
    for fragment in expected:
        assert fragment in str(caught.value), f"{fragment!r} not in {caught.value}"


def test_a_supported_region_and_schedule_build(platform_config: PlatformConfig) -> None:
    _build(platform_config, region="eu-west-1")
