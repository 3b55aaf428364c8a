"""The stack that computes on the stateful one: the SageMaker training pipeline of one environment."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from constructs import Construct

from config import EnvironmentConfig
from naming import ResourceNames
from stacks.data_lake_stack import StatefulRefs
from stacks.definitions import committed_definition
from stacks.units.data_lake import import_zones
from stacks.units.settings import log_retention
from stacks.units.training_pipeline import TrainingPipeline


class MlPipelineStack(cdk.Stack):
    """The training pipeline, wired to the lake, the feature group, the registry and (optionally) MLflow.

    Finds them by `names` (buckets, groups) and the stateful stack's `lake` references (key, ARNs, MLflow).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        names: ResourceNames,
        environment: EnvironmentConfig,
        lake: StatefulRefs,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        definition = committed_definition(names.project, environment, "training")
        zones = import_zones(self, names, lake.key, ("raw", "artifacts"))
        self.training = TrainingPipeline(
            self,
            "TrainingPipeline",
            pipeline_name=names.training_pipeline,
            definition=definition,
            raw_bucket=zones["raw"],
            artifacts_bucket=zones["artifacts"],
            key=lake.key,
            feature_group_name=names.feature_group,
            feature_group_arn=lake.feature_group_arn,
            model_package_group_name=names.model_package_group,
            model_package_group_arn=lake.model_package_group_arn,
            mlflow_tracking_server_arn=lake.mlflow_tracking_server_arn,
            log_retention=log_retention(environment),
            network=lake.network,
        )
        self.pipeline_name_output = cdk.CfnOutput(
            self, "PipelineName", value=self.training.pipeline_name, description="The training pipeline"
        )
