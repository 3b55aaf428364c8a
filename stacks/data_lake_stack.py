"""The stateful stack: everything that holds data lives here, apart from the stacks that compute on it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

from config import EnvironmentConfig
from naming import ResourceNames
from pipeline_code import schema
from stacks.dataset_schema import curated_glue_columns
from stacks.units.compliance import justify_deploy_time_providers
from stacks.units.data_lake import DataLake
from stacks.units.experiment_tracking import ExperimentTracking
from stacks.units.feature_store import FeatureStore
from stacks.units.model_registry import ModelRegistry
from stacks.units.network import NetworkRefs, PrivateNetwork
from stacks.units.settings import log_retention, removal_policy


@dataclass(frozen=True)
class StatefulRefs:
    """What the stacks that compute on the lake use of it by reference; the rest they find by `ResourceNames`.

    Handed these rather than the stack, they cannot reach into its constructs. The key and the MLflow server are
    resources of this stack: a stack that uses them gets a cross-stack reference (an export of this one).
    """

    key: kms.IKey  # the lake key: zones, feature store, registry artifacts, operations
    feature_group_arn: str
    model_package_group_arn: str
    mlflow_tracking_server_arn: str | None  # None where experiment_tracking is off
    network: NetworkRefs | None = None  # None where network.mode is none


class DataLakeStack(cdk.Stack):
    """The stateful stack of one environment: the data lake, the feature group, the model registry and, where
    `network.mode` is create or import, the private network (`PrivateNetwork`) every compute resource runs in.

    Termination protection and retention come from config. Everything here outlives deploys of the stacks that
    compute on it; `tests/stacks/test_logical_ids.py` pins the logical IDs so nothing is replaced by accident.
    The network lives here because its flow logs use the lake key and the buckets' policies may name its S3
    endpoint. Provides `refs` (`StatefulRefs`) for the other stacks of the stage.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        environment: EnvironmentConfig,
        names: ResourceNames,
        resource_accounts: Sequence[str] = (),
        consumer_prefixes: Sequence[tuple[str, str]] = (),
        **kwargs: Any,
    ) -> None:
        """`resource_accounts`: other accounts whose buckets code in the VPC reads (a promotion's source).
        `consumer_prefixes`: (account, resource prefix) of the environments promoting this one's packages, whose
        platform roles read its artifacts (exempt from `network.require_vpc_endpoint_for_s3`)."""
        self._zones_count = environment.network.availability_zones
        super().__init__(scope, construct_id, termination_protection=environment.termination_protection, **kwargs)
        self.lake = DataLake(
            self,
            "DataLake",
            names=names,
            settings=environment.data_lake,
            destroy=environment.is_destroyable,
            curated_dataset_name=names.dataset,
            curated_columns=curated_glue_columns(schema.load(names.dataset)),
        )
        self.feature_store = FeatureStore(
            self,
            "FeatureStore",
            feature_group_name=names.feature_group,
            dataset=schema.load(names.dataset),
            key=self.lake.key,
            features_bucket=self.lake.zones["features"],
            glue_database_name=self.lake.glue_database_name,
            online_store=environment.feature_store.online_store,
        )
        self.feature_group_output = cdk.CfnOutput(
            self, "FeatureGroupName", value=self.feature_store.feature_group_name, description="The feature group"
        )
        self.model_registry = ModelRegistry(
            self,
            "ModelRegistry",
            model_package_group_name=names.model_package_group,
            cross_account_readers=environment.model_registry.cross_account_readers,
            artifacts_bucket=self.lake.zones["artifacts"],
            key=self.lake.key,
            log_retention=log_retention(environment),
            removal_policy=removal_policy(environment),
        )
        self.experiment_tracking = (
            ExperimentTracking(
                self,
                "ExperimentTracking",
                server_name=names.mlflow_server,
                size=environment.experiment_tracking.server_size,
                artifacts_bucket=self.lake.zones["artifacts"],
            )
            if environment.experiment_tracking.enabled
            else None
        )
        self.network = (
            PrivateNetwork(
                self,
                "Network",
                settings=environment.network,
                names=names,
                key=self.lake.key,
                log_retention=log_retention(environment),
                removal_policy=removal_policy(environment),
                resource_accounts=resource_accounts,
            )
            if environment.network.enabled
            else None
        )
        if self.network and self.network.s3_endpoint and environment.network.require_vpc_endpoint_for_s3:
            self._require_vpc_endpoint(names, self.network.s3_endpoint.vpc_endpoint_id, consumer_prefixes)
        justify_deploy_time_providers(self)
        # Names of the zone buckets, for the release pipeline's post-deploy check (CDK Pipelines reads outputs).
        self.zone_bucket_outputs = {
            zone: cdk.CfnOutput(
                self, f"{zone.capitalize()}BucketName", value=bucket.bucket_name, description=f"The {zone} zone"
            )
            for zone, bucket in self.lake.zones.items()
        }
        self.refs = StatefulRefs(
            key=self.lake.key,
            feature_group_arn=self.feature_store.feature_group_arn,
            model_package_group_arn=self.model_registry.model_package_group_arn,
            mlflow_tracking_server_arn=(
                self.experiment_tracking.tracking_server_arn if self.experiment_tracking else None
            ),
            network=self.network.refs if self.network else None,
        )

    @property
    def availability_zones(self) -> list[str]:
        """The region's first zones as deploy-time values (Fn::GetAZs): the VPC spans `network.availability_zones`
        of them, and synth never looks the region's zones up."""
        return [cdk.Fn.select(index, cdk.Fn.get_azs()) for index in range(self._zones_count)]

    def _require_vpc_endpoint(
        self, names: ResourceNames, endpoint_id: str, consumer_prefixes: Sequence[tuple[str, str]]
    ) -> None:
        """Deny object reads and writes of the zones unless they come through the environment's S3 endpoint, from
        the platform's own roles (named after its stacks), the CDK deploy roles, the consumers' platform roles or
        an AWS service. Bucket settings are left alone, so an administrator is never locked out of the policy."""
        exempt = [
            f"arn:{self.partition}:iam::{self.account}:role/{names.prefix}-*",
            f"arn:{self.partition}:iam::{self.account}:role/cdk-*",
            *(f"arn:{self.partition}:iam::{account}:role/{prefix}-*" for account, prefix in consumer_prefixes),
        ]
        for bucket in self.lake.zones.values():
            bucket.add_to_resource_policy(
                iam.PolicyStatement(
                    sid="OnlyThroughTheVpcEndpoint",
                    effect=iam.Effect.DENY,
                    principals=[iam.AnyPrincipal()],
                    actions=[
                        "s3:GetObject*",
                        "s3:PutObject*",
                        "s3:DeleteObject*",
                        "s3:ListBucket*",
                        "s3:ListMultipartUploadParts",
                        "s3:AbortMultipartUpload",
                        "s3:RestoreObject",
                    ],
                    resources=[bucket.bucket_arn, bucket.arn_for_objects("*")],
                    conditions={
                        "StringNotEquals": {"aws:SourceVpce": endpoint_id},
                        "ArnNotLike": {"aws:PrincipalArn": exempt},
                        "BoolIfExists": {"aws:ViaAWSService": "false", "aws:PrincipalIsAWSService": "false"},
                    },
                )
            )
