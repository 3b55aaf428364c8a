"""The SageMaker Feature Store feature group, from the one schema shared with `pipeline_code/`."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sagemaker as sagemaker
from constructs import Construct

from pipeline_code import schema
from stacks.units.compliance import acknowledge_bucket_grant, acknowledge_grant_policy

OFFLINE_STORE_PREFIX = "offline-store"


class FeatureStore(Construct):
    """One feature group: online store (KMS) when enabled, offline store in the features zone with a Glue table.

    Its features are the data set's `feature_store_definitions()`, the same list `pipeline_code.feature_records` writes,
    so the group and the ingestion step cannot disagree. Provides `feature_group_name` and `feature_group_arn`.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        feature_group_name: str,
        dataset: schema.Dataset,
        key: kms.IKey,
        features_bucket: s3.IBucket,
        glue_database_name: str,
        online_store: bool,
    ) -> None:
        super().__init__(scope, construct_id)
        # The Feature Store service writes the offline store (Parquet files in the features zone) with this role.
        self.offline_store_role = iam.Role(
            self,
            "OfflineStoreRole",
            assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"),
            description=f"Feature Store writes the offline store of {feature_group_name}",
        )
        features_bucket.grant_read_write(self.offline_store_role, f"{OFFLINE_STORE_PREFIX}/*")
        # AWS's managed AmazonSageMakerFeatureStoreAccess policy grants PutObjectAcl too: Feature Store sets the
        # ACL of the files it writes, which grant_read_write leaves out.
        self.offline_store_role.add_to_policy(
            iam.PolicyStatement(
                sid="OfflineStoreObjectAcl",
                actions=["s3:PutObjectAcl"],
                resources=[features_bucket.arn_for_objects(f"{OFFLINE_STORE_PREFIX}/*")],
            )
        )
        acknowledge_grant_policy(self.offline_store_role)
        acknowledge_bucket_grant(
            self.offline_store_role,
            features_bucket,
            f"{OFFLINE_STORE_PREFIX}/*",
            "Feature Store writes, lists and compacts the offline store's Parquet files",
            write=True,
        )

        self.feature_group = sagemaker.CfnFeatureGroup(
            self,
            "FeatureGroup",
            feature_group_name=feature_group_name,
            description=f"{dataset.title} features and label, written by the training pipeline's IngestFeatures step",
            record_identifier_feature_name=dataset.record_identifier_name,
            event_time_feature_name=dataset.event_time_name,
            feature_definitions=[
                sagemaker.CfnFeatureGroup.FeatureDefinitionProperty(
                    feature_name=definition["FeatureName"], feature_type=definition["FeatureType"]
                )
                for definition in dataset.feature_store_definitions()
            ],
            online_store_config={
                "EnableOnlineStore": online_store,
                **({"SecurityConfig": {"KmsKeyId": key.key_arn}} if online_store else {}),
            },
            offline_store_config={
                "S3StorageConfig": {
                    "S3Uri": features_bucket.s3_url_for_object(OFFLINE_STORE_PREFIX),
                    "KmsKeyId": key.key_arn,
                },
                "DisableGlueTableCreation": False,
                "DataCatalogConfig": {
                    "Catalog": "AwsDataCatalog",
                    "Database": glue_database_name,
                    "TableName": feature_group_name.replace("-", "_"),
                },
            },
            role_arn=self.offline_store_role.role_arn,
        )
        # The role's policy must exist before the group validates its access to the offline store.
        self.feature_group.node.add_dependency(self.offline_store_role)
        self.feature_group_name = feature_group_name
        self.feature_group_arn = cdk.Stack.of(self).format_arn(
            service="sagemaker", resource="feature-group", resource_name=feature_group_name.lower()
        )
