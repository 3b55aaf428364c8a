"""The stack that computes on the stateful one: the SageMaker training pipeline of one environment."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_s3 as s3
from constructs import Construct

from config.settings import ConfigError, EnvironmentConfig
from pipeline_definition import contract, fingerprint
from stacks.data_lake_stack import DataLakeStack
from stacks.units.data_lake import zone_bucket_name
from stacks.units.settings import log_retention
from stacks.units.training_pipeline import PipelineDefinition, TrainingPipeline


class MlPipelineStack(cdk.Stack):
    """The training pipeline, wired to the lake, the feature group, the registry and (optionally) MLflow."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        project_name: str,
        environment: EnvironmentConfig,
        data: DataLakeStack,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        if not fingerprint.is_fresh(project_name, environment):
            raise ConfigError(
                f"the committed pipeline definition of {environment.name} is out of date with its config, "
                "pipeline_code/ or pipeline_definition/: run `make pipeline-definitions` (or `make synth`)"
            )
        definition = PipelineDefinition.load(
            contract.definition_path(environment.name),
            code_dir=contract.CODE_DIR,
            code_hash=fingerprint.code_hash(),
            staging_dir=contract.STAGING_DIR,
        )
        tracking = data.experiment_tracking
        prefix = f"{project_name}-{environment.name}"
        # The zones by name, not by cross-stack reference: plain ARNs in this stack's IAM statements.
        raw, artifacts = (
            s3.Bucket.from_bucket_attributes(
                self,
                f"{zone.capitalize()}Zone",
                bucket_name=zone_bucket_name(prefix, zone),
                encryption_key=data.lake.key,
            )
            for zone in ("raw", "artifacts")
        )
        self.training = TrainingPipeline(
            self,
            "TrainingPipeline",
            pipeline_name=contract.pipeline_name(project_name, environment.name),
            definition=definition,
            raw_bucket=raw,
            artifacts_bucket=artifacts,
            key=data.lake.key,
            feature_group_name=data.feature_store.feature_group_name,
            feature_group_arn=data.feature_store.feature_group_arn,
            model_package_group_name=data.model_registry.model_package_group_name,
            model_package_group_arn=data.model_registry.model_package_group_arn,
            mlflow_tracking_server_arn=tracking.tracking_server_arn if tracking else None,
            log_retention=log_retention(environment),
        )
        self.pipeline_name_output = cdk.CfnOutput(
            self, "PipelineName", value=self.training.pipeline_name, description="The training pipeline"
        )
