"""The data lake's security and lifecycle, asserted resource by resource for every environment."""

from __future__ import annotations

import pytest
from aws_cdk.assertions import Match, Template

from config import PlatformConfig
from pipeline_code import schema
from stacks.dataset_schema import curated_glue_columns
from tests.stacks.rendering import resources
from tests.synthesis import Synthesis

CURATED_DATASET_NAME = "adult"

ZONES = ("Raw", "Curated", "Features", "Artifacts")
ENVIRONMENTS = ("dev", "staging", "prod")


def _zone_bucket(template: dict, zone: str) -> dict:
    (bucket,) = [v for k, v in resources(template, "AWS::S3::Bucket").items() if k.startswith(f"DataLake{zone}Zone")]
    return bucket["Properties"]


def _logical_id(template: dict, prefix: str, kind: str) -> str:
    (logical_id,) = [k for k in resources(template, kind) if k.startswith(prefix)]
    return logical_id


@pytest.fixture(params=ENVIRONMENTS)
def lake(request: pytest.FixtureRequest, synthesis: Synthesis, platform_config: PlatformConfig):
    stack = synthesis.stack(request.param, "DataLake")
    return stack, platform_config.environment(request.param)


@pytest.fixture(scope="module")
def lake_templates(synthesis: Synthesis) -> dict[str, Template]:
    """Each stage's DataLake template for `aws_cdk.assertions`, handed to jsii once per module."""
    return {stage: Template.from_json(synthesis.stack(stage, "DataLake").template) for stage in ENVIRONMENTS}


def test_every_zone_is_encrypted_with_the_rotating_lake_key(lake) -> None:
    stack, _ = lake
    template = stack.template
    key_id = _logical_id(template, "DataLakeKey", "AWS::KMS::Key")
    assert template["Resources"][key_id]["Properties"]["EnableKeyRotation"] is True
    for zone in ZONES:
        (rule,) = _zone_bucket(template, zone)["BucketEncryption"]["ServerSideEncryptionConfiguration"]
        assert rule["ServerSideEncryptionByDefault"] == {
            "SSEAlgorithm": "aws:kms",
            "KMSMasterKeyID": {"Fn::GetAtt": [key_id, "Arn"]},
        }, zone
        assert rule["BucketKeyEnabled"] is True


def test_every_bucket_is_versioned_private_and_tls_only(lake, lake_templates: dict[str, Template]) -> None:
    stack, _ = lake
    template = lake_templates[stack.stage]
    buckets = resources(stack.template, "AWS::S3::Bucket")
    assert len(buckets) == 5  # four zones and the access-log bucket
    for logical_id, bucket in buckets.items():
        props = bucket["Properties"]
        assert props["VersioningConfiguration"] == {"Status": "Enabled"}, logical_id
        assert set(props["PublicAccessBlockConfiguration"].values()) == {True}, logical_id
        template.has_resource_properties(
            "AWS::S3::BucketPolicy",
            {
                "Bucket": {"Ref": logical_id},
                "PolicyDocument": {
                    "Statement": Match.array_with(
                        [
                            Match.object_like(
                                {
                                    "Effect": "Deny",
                                    "Action": "s3:*",
                                    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                                    "Principal": {"AWS": "*"},
                                }
                            )
                        ]
                    )
                },
            },
        )


def test_zones_log_access_to_the_log_bucket_with_a_prefix_per_zone(lake) -> None:
    stack, _ = lake
    logs_id = _logical_id(stack.template, "DataLakeAccessLogs", "AWS::S3::Bucket")
    for zone in ZONES:
        assert _zone_bucket(stack.template, zone)["LoggingConfiguration"] == {
            "DestinationBucketName": {"Ref": logs_id},
            "LogFilePrefix": f"{zone.lower()}/",
        }
    logs = stack.template["Resources"][logs_id]["Properties"]
    # S3 server access logging can only deliver into an SSE-S3 bucket.
    assert logs["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"] == {
        "SSEAlgorithm": "AES256"
    }


def test_lifecycle_days_come_from_the_environment_config(lake) -> None:
    stack, environment = lake
    settings = environment.data_lake
    expected_transitions = {
        "Raw": [
            {"StorageClass": "STANDARD_IA", "TransitionInDays": settings.transition_to_infrequent_access_days},
            {"StorageClass": "GLACIER", "TransitionInDays": settings.transition_to_glacier_days},
        ],
        # Athena cannot read Glacier objects: the queried zones stop at Infrequent Access.
        "Curated": [{"StorageClass": "STANDARD_IA", "TransitionInDays": settings.transition_to_infrequent_access_days}],
        "Features": [
            {"StorageClass": "STANDARD_IA", "TransitionInDays": settings.transition_to_infrequent_access_days}
        ],
        "Artifacts": None,
    }
    for zone in ZONES:
        rules = {rule["Id"]: rule for rule in _zone_bucket(stack.template, zone)["LifecycleConfiguration"]["Rules"]}
        assert rules["expire-noncurrent-versions"]["NoncurrentVersionExpiration"] == {
            "NoncurrentDays": settings.noncurrent_version_expiration_days
        }
        assert rules.get("tier-current-versions", {}).get("Transitions") == expected_transitions[zone], zone
    logs_id = _logical_id(stack.template, "DataLakeAccessLogs", "AWS::S3::Bucket")
    (log_rule,) = stack.template["Resources"][logs_id]["Properties"]["LifecycleConfiguration"]["Rules"]
    assert log_rule["ExpirationInDays"] == settings.access_log_retention_days


def test_dev_and_prod_lifecycles_differ_as_configured(synthesis: Synthesis) -> None:
    def noncurrent_days(stage: str) -> int:
        rules = _zone_bucket(synthesis.stack(stage, "DataLake").template, "Raw")["LifecycleConfiguration"]["Rules"]
        return next(
            r["NoncurrentVersionExpiration"]["NoncurrentDays"] for r in rules if "NoncurrentVersionExpiration" in r
        )

    assert (noncurrent_days("dev"), noncurrent_days("prod")) == (7, 365)


def test_only_the_raw_zone_emits_eventbridge_events(lake) -> None:
    stack, _ = lake
    for zone in ZONES:
        notifications = _zone_bucket(stack.template, zone).get("NotificationConfiguration")
        expected = {"EventBridgeConfiguration": {"EventBridgeEnabled": True}} if zone == "Raw" else None
        assert notifications == expected, zone
    # EventBridge is switched on natively, without the Lambda-backed BucketNotifications custom resource.
    assert not resources(stack.template, "Custom::S3BucketNotifications")


def test_removal_policy_follows_config(lake) -> None:
    stack, environment = lake
    stateful = {
        **resources(stack.template, "AWS::S3::Bucket"),
        **resources(stack.template, "AWS::KMS::Key"),
    }
    auto_delete = resources(stack.template, "Custom::S3AutoDeleteObjects")
    if environment.removal_policy == "destroy":
        assert {r["DeletionPolicy"] for r in stateful.values()} == {"Delete"}
        assert len(auto_delete) == 5  # every bucket is emptied before CloudFormation deletes it
    else:
        assert {r["DeletionPolicy"] for r in stateful.values()} == {"Retain"}
        assert {r["UpdateReplacePolicy"] for r in stateful.values()} == {"Retain"}
        assert not auto_delete


@pytest.mark.parametrize(("stage", "protected"), [("dev", False), ("staging", False), ("prod", True)])
def test_termination_protection_only_in_prod(synthesis: Synthesis, stage: str, protected: bool) -> None:
    manifest = synthesis.stack(stage, "DataLake").manifest
    assert manifest["properties"].get("terminationProtection", False) is protected


def test_each_stage_targets_the_account_and_region_from_config(lake, platform_config: PlatformConfig) -> None:
    stack, environment = lake
    account = environment.account or "unknown-account"  # dev: the deploying credentials' account
    assert stack.manifest["environment"] == f"aws://{account}/{environment.region}"
    assert stack.stack_name == f"{platform_config.project_name}-{stack.stage}-data-lake"


def test_tags_from_config_reach_the_resources(lake) -> None:
    stack, environment = lake
    tags = {t["Key"]: t["Value"] for t in _zone_bucket(stack.template, "Raw")["Tags"]}
    assert tags.items() >= environment.tags.items()


def test_curated_table_is_parquet_over_the_curated_zone_with_the_shared_schema(lake) -> None:
    stack, _ = lake
    (table,) = resources(stack.template, "AWS::Glue::Table").values()
    table_input = table["Properties"]["TableInput"]
    descriptor = table_input["StorageDescriptor"]
    assert table_input["Name"] == CURATED_DATASET_NAME
    assert descriptor["SerdeInfo"]["SerializationLibrary"].endswith("ParquetHiveSerDe")
    assert [(c["Name"], c["Type"]) for c in descriptor["Columns"]] == curated_glue_columns(
        schema.load(CURATED_DATASET_NAME)
    )
    curated_id = _logical_id(stack.template, "DataLakeCuratedZone", "AWS::S3::Bucket")
    assert descriptor["Location"] == {"Fn::Join": ["", ["s3://", {"Ref": curated_id}, f"/{CURATED_DATASET_NAME}/"]]}
    (database,) = resources(stack.template, "AWS::Glue::Database").values()
    assert table["Properties"]["DatabaseName"] == database["Properties"]["DatabaseInput"]["Name"]


def test_athena_results_are_encrypted_with_the_lake_key_and_enforced(lake, lake_templates: dict[str, Template]) -> None:
    stack, _ = lake
    template = lake_templates[stack.stage]
    key_id = _logical_id(stack.template, "DataLakeKey", "AWS::KMS::Key")
    template.resource_count_is("AWS::Athena::WorkGroup", 1)
    template.has_resource_properties(
        "AWS::Athena::WorkGroup",
        {
            "WorkGroupConfiguration": {
                "EnforceWorkGroupConfiguration": True,
                "ResultConfiguration": {
                    "EncryptionConfiguration": Match.exact(
                        {"EncryptionOption": "SSE_KMS", "KmsKey": {"Fn::GetAtt": [key_id, "Arn"]}}
                    )
                },
            }
        },
    )
