"""The stack that computes on the stateful one: the SageMaker training pipeline of one environment."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from constructs import Construct

from config import EnvironmentConfig
from pipeline_definition import contract
from stacks.data_lake_stack import DataLakeStack
from stacks.definitions import committed_definition
from stacks.units.data_lake import import_zones
from stacks.units.settings import log_retention
from stacks.units.training_pipeline import TrainingPipeline


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
        definition = committed_definition(project_name, environment, "training")
        tracking = data.experiment_tracking
        prefix = f"{project_name}-{environment.name}"
        zones = import_zones(self, prefix, data.lake.key, ("raw", "artifacts"))
        self.training = TrainingPipeline(
            self,
            "TrainingPipeline",
            pipeline_name=contract.pipeline_name(project_name, environment.name),
            definition=definition,
            raw_bucket=zones["raw"],
            artifacts_bucket=zones["artifacts"],
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
