"""The secure S3 data lake: four zones, one customer-managed key, access logs and a Glue catalog."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import aws_cdk as cdk
from aws_cdk import aws_athena as athena
from aws_cdk import aws_glue as glue
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from config import DataLakeSettings
from naming import ZONES, ResourceNames
from stacks.units.compliance import acknowledge, justify_scan


def import_zones(scope: Construct, names: ResourceNames, key: kms.IKey, zones: Sequence[str]) -> dict[str, s3.IBucket]:
    """The named zones as seen from another stack: by name (`names.zone_bucket`, not a cross-stack reference),
    with the lake key, so grants include the key."""
    return {
        zone: s3.Bucket.from_bucket_attributes(
            scope, f"{zone.capitalize()}Zone", bucket_name=names.zone_bucket(zone), encryption_key=key
        )
        for zone in zones
    }


@dataclass(frozen=True)
class _ZonePolicy:
    to_infrequent_access: bool
    to_glacier: bool
    event_bridge: bool


# Why per zone: Athena can't read objects in Glacier, so only the raw zone (kept for re-processing and audit)
# goes that far; the queried zones stop at Infrequent Access; artifacts (code, models) are read by every
# pipeline run and stay in Standard. The raw zone emits EventBridge events: new data starts pipelines.
_ZONE_POLICIES = {
    "raw": _ZonePolicy(to_infrequent_access=True, to_glacier=True, event_bridge=True),
    "curated": _ZonePolicy(to_infrequent_access=True, to_glacier=False, event_bridge=False),
    "features": _ZonePolicy(to_infrequent_access=True, to_glacier=False, event_bridge=False),
    "artifacts": _ZonePolicy(to_infrequent_access=False, to_glacier=False, event_bridge=False),
}


class DataLake(Construct):
    """Raw, curated, features and artifacts zones encrypted with one rotating KMS key.

    Provides `key`, `zones[name]`, `access_logs`, `glue_database`, `curated_table` and `athena_workgroup`.
    Every zone is versioned, TLS-only, private, logged to the access-log bucket and has lifecycle rules
    from `settings`. `destroy=True` (dev) lets CloudFormation delete the lake and empty its buckets;
    otherwise everything is retained when the stack goes.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        names: ResourceNames,
        settings: DataLakeSettings,
        destroy: bool,
        curated_dataset_name: str,
        curated_columns: Sequence[tuple[str, str]],
    ) -> None:
        super().__init__(scope, construct_id)
        removal = cdk.RemovalPolicy.DESTROY if destroy else cdk.RemovalPolicy.RETAIN
        self.names = names
        resource_prefix = names.prefix

        self.key = kms.Key(
            self,
            "Key",
            alias=f"alias/{resource_prefix}-data-lake",
            description=f"Encrypts the {resource_prefix} data lake, feature store and pipeline artifacts",
            enable_key_rotation=True,
            removal_policy=removal,
        )

        self.access_logs = s3.Bucket(
            self,
            "AccessLogs",
            # S3 server access logging can only deliver to a bucket encrypted with SSE-S3, not SSE-KMS.
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            versioned=True,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="expire-access-logs",
                    expiration=cdk.Duration.days(settings.access_log_retention_days),
                    noncurrent_version_expiration=cdk.Duration.days(1),
                )
            ],
            removal_policy=removal,
            auto_delete_objects=destroy,
        )
        justify_scan(
            self.access_logs,
            "CKV_AWS_18",
            "This is the access-log bucket every zone logs to: logging its own access would log the log deliveries.",
        )
        acknowledge(
            self.access_logs,
            "NIST.800.53.R5-S3DefaultEncryptionKMS",
            "S3 server access logging delivers only to SSE-S3 buckets; SSE-KMS targets drop the logs.",
        )

        self.zones: dict[str, s3.Bucket] = {
            zone: self._zone_bucket(zone, _ZONE_POLICIES[zone], settings, removal, destroy) for zone in ZONES
        }
        for bucket in (self.access_logs, *self.zones.values()):
            acknowledge(
                bucket,
                "NIST.800.53.R5-S3BucketReplicationEnabled",
                "Single-region lake: versioning plus RETAIN protect the data; cross-region replication is a "
                "residency and cost decision the platform leaves to each team.",
            )

        self.glue_database_name = resource_prefix.replace("-", "_")
        self.glue_database = glue.CfnDatabase(
            self,
            "GlueDatabase",
            catalog_id=cdk.Aws.ACCOUNT_ID,
            database_input=glue.CfnDatabase.DatabaseInputProperty(
                name=self.glue_database_name,
                description=f"Tables over the {resource_prefix} data lake (curated and feature zones)",
            ),
        )
        self.curated_table = glue.CfnTable(
            self,
            "CuratedTable",
            catalog_id=cdk.Aws.ACCOUNT_ID,
            database_name=self.glue_database_name,
            table_input=glue.CfnTable.TableInputProperty(
                name=curated_dataset_name,
                description=f"A curated {curated_dataset_name.capitalize()} data set (Parquet) for your own ETL; no "
                "platform pipeline writes it",
                table_type="EXTERNAL_TABLE",
                parameters={"classification": "parquet", "parquet.compression": "SNAPPY"},
                storage_descriptor=glue.CfnTable.StorageDescriptorProperty(
                    location=self.zones["curated"].s3_url_for_object(f"{curated_dataset_name}/"),
                    input_format="org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
                    output_format="org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
                    serde_info=glue.CfnTable.SerdeInfoProperty(
                        serialization_library="org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
                    ),
                    columns=[glue.CfnTable.ColumnProperty(name=name, type=kind) for name, kind in curated_columns],
                ),
            ),
        )
        self.curated_table.add_resource_dependency(self.glue_database)  # the table names the database by name

        self.athena_workgroup = athena.CfnWorkGroup(
            self,
            "AthenaWorkGroup",
            name=resource_prefix,
            description=f"Queries over the {resource_prefix} data lake; results encrypted in the artifacts zone",
            recursive_delete_option=destroy,
            work_group_configuration=athena.CfnWorkGroup.WorkGroupConfigurationProperty(
                enforce_work_group_configuration=True,
                publish_cloud_watch_metrics_enabled=True,
                result_configuration=athena.CfnWorkGroup.ResultConfigurationProperty(
                    output_location=self.zones["artifacts"].s3_url_for_object("athena-results/"),
                    encryption_configuration=athena.CfnWorkGroup.EncryptionConfigurationProperty(
                        encryption_option="SSE_KMS", kms_key=self.key.key_arn
                    ),
                ),
            ),
        )

    def _zone_bucket(
        self,
        zone: str,
        policy: _ZonePolicy,
        settings: DataLakeSettings,
        removal: cdk.RemovalPolicy,
        destroy: bool,
    ) -> s3.Bucket:
        transitions = []
        if policy.to_infrequent_access:
            transitions.append(
                s3.Transition(
                    storage_class=s3.StorageClass.INFREQUENT_ACCESS,
                    transition_after=cdk.Duration.days(settings.transition_to_infrequent_access_days),
                )
            )
        if policy.to_glacier:
            transitions.append(
                s3.Transition(
                    storage_class=s3.StorageClass.GLACIER,
                    transition_after=cdk.Duration.days(settings.transition_to_glacier_days),
                )
            )
        rules = [
            s3.LifecycleRule(
                id="expire-noncurrent-versions",
                noncurrent_version_expiration=cdk.Duration.days(settings.noncurrent_version_expiration_days),
                abort_incomplete_multipart_upload_after=cdk.Duration.days(7),
            )
        ]
        if transitions:
            rules.append(s3.LifecycleRule(id="tier-current-versions", transitions=transitions))
        bucket = s3.Bucket(
            self,
            f"{zone.capitalize()}Zone",
            bucket_name=self.names.zone_bucket(zone),
            encryption=s3.BucketEncryption.KMS,
            encryption_key=self.key,
            bucket_key_enabled=True,
            enforce_ssl=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            versioned=True,
            lifecycle_rules=rules,
            server_access_logs_bucket=self.access_logs,
            server_access_logs_prefix=f"{zone}/",
            removal_policy=removal,
            auto_delete_objects=destroy,
        )
        if policy.event_bridge:
            # Set on the bucket itself: `event_bridge_enabled=True` would deploy a Lambda-backed custom
            # resource just to call PutBucketNotificationConfiguration, which CloudFormation does natively.
            cfn_bucket = bucket.node.default_child
            assert isinstance(cfn_bucket, s3.CfnBucket)
            cfn_bucket.add_property_override(
                "NotificationConfiguration.EventBridgeConfiguration.EventBridgeEnabled", True
            )
        return bucket
