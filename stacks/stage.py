"""One `cdk.Stage` per environment: the unit that local deploys and the release pipeline both deploy."""

from __future__ import annotations

import aws_cdk as cdk
from constructs import Construct

from config import EnvironmentConfig
from stacks.data_lake_stack import DataLakeStack
from stacks.ml_pipeline_stack import MlPipelineStack
from stacks.operations_stack import OperationsStack


class MlopsStage(cdk.Stage):
    """All stacks of one environment, in the account and region its config names.

    `cdk deploy '<env>/*'` deploys the stage; the stack names are `<project>-<env>-<part>`.
    """

    def __init__(self, scope: Construct, *, project_name: str, environment: EnvironmentConfig) -> None:
        super().__init__(
            scope,
            environment.name,
            env=cdk.Environment(account=environment.account, region=environment.region),
        )
        prefix = f"{project_name}-{environment.name}"
        self.data_lake = DataLakeStack(
            self,
            "DataLake",
            stack_name=f"{prefix}-data-lake",
            description=f"{project_name} {environment.name}: data lake, feature group, model registry (stateful)",
            project_name=project_name,
            environment=environment,
        )
        self.ml_pipeline = MlPipelineStack(
            self,
            "MlPipeline",
            stack_name=f"{prefix}-ml-pipeline",
            description=f"{project_name} {environment.name}: SageMaker training pipeline and its execution role",
            project_name=project_name,
            environment=environment,
            data=self.data_lake,
        )
        self.operations = OperationsStack(
            self,
            "Operations",
            stack_name=f"{prefix}-operations",
            description=f"{project_name} {environment.name}: promotion, monitoring, alarms, retraining triggers",
            project_name=project_name,
            environment=environment,
            data=self.data_lake,
        )
        # The operations pipelines run the step code that the ml-pipeline stack deploys.
        self.operations.add_stack_dependency(self.ml_pipeline)
        for key, value in environment.tags.items():
            cdk.Tags.of(self).add(key, value)
