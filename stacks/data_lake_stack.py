"""The stateful stack: everything that holds data lives here, apart from the stacks that compute on it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_kms as kms
from constructs import Construct

from config import EnvironmentConfig
from naming import ResourceNames
from stacks.dataset_schema import CURATED_DATASET_NAME, curated_glue_columns
from stacks.units.data_lake import DataLake
from stacks.units.experiment_tracking import ExperimentTracking
from stacks.units.feature_store import FeatureStore
from stacks.units.model_registry import ModelRegistry
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


class DataLakeStack(cdk.Stack):
    """The stateful stack of one environment: the data lake, the feature group and the model registry.

    Termination protection and retention come from config. Everything here outlives deploys of the stacks that
    compute on it; `tests/stacks/test_logical_ids.py` pins the logical IDs so nothing is replaced by accident.
    Provides `refs` (`StatefulRefs`) for the other stacks of the stage.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        environment: EnvironmentConfig,
        names: ResourceNames,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, termination_protection=environment.termination_protection, **kwargs)
        self.lake = DataLake(
            self,
            "DataLake",
            names=names,
            settings=environment.data_lake,
            destroy=environment.is_destroyable,
            curated_dataset_name=CURATED_DATASET_NAME,
            curated_columns=curated_glue_columns(),
        )
        self.feature_store = FeatureStore(
            self,
            "FeatureStore",
            feature_group_name=names.feature_group,
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
        )
