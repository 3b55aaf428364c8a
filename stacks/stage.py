"""One `cdk.Stage` per environment: the unit that local deploys and the release pipeline both deploy."""

from __future__ import annotations

from collections.abc import Sequence

import aws_cdk as cdk
from constructs import Construct

from config import EnvironmentConfig
from stacks.data_lake_stack import DataLakeStack
from stacks.ml_pipeline_stack import MlPipelineStack
from stacks.operations_stack import OperationsStack
from stacks.units.settings import stage_names


class MlopsStage(cdk.Stage):
    """All stacks of one environment, in the account and region its config names.

    `cdk deploy '<env>/*'` deploys the stage; the stack names are `<project>-<env>-<part>`. `names` (built here,
    once, and handed to every stack) names every resource of the environment.
    """

    def __init__(
        self,
        scope: Construct,
        *,
        project_name: str,
        environment: EnvironmentConfig,
        source: EnvironmentConfig | None = None,
        consumers: Sequence[EnvironmentConfig] = (),
    ) -> None:
        """`source`: the environment whose packages this one promotes (`promotion.source`); `consumers`: those that
        promote this one's (`PlatformConfig.source_of`, `consumers_of`)."""
        super().__init__(
            scope,
            environment.name,
            env=cdk.Environment(account=environment.account, region=environment.region),
        )
        self.names = names = stage_names(project_name, environment.name, environment.dataset)
        self.data_lake = DataLakeStack(
            self,
            "DataLake",
            stack_name=names.data_lake_stack,
            description=f"{project_name} {environment.name}: data lake, feature group, model registry (stateful)",
            names=names,
            environment=environment,
            resource_accounts=[source.account] if source and source.account else [],
            consumer_prefixes=[
                (consumer.account, stage_names(project_name, consumer.name, consumer.dataset).prefix)
                for consumer in consumers
                if consumer.account
            ],
        )
        self.ml_pipeline = MlPipelineStack(
            self,
            "MlPipeline",
            stack_name=names.ml_pipeline_stack,
            description=f"{project_name} {environment.name}: SageMaker training pipeline and its execution role",
            names=names,
            environment=environment,
            lake=self.data_lake.refs,
        )
        self.operations = OperationsStack(
            self,
            "Operations",
            stack_name=names.operations_stack,
            description=f"{project_name} {environment.name}: promotion, monitoring, alarms, retraining triggers",
            names=names,
            environment=environment,
            key=self.data_lake.refs.key,
            network=self.data_lake.refs.network,
            source=source,
            consumers=consumers,
        )
        # The operations pipelines run the step code that the ml-pipeline stack deploys.
        self.operations.add_stack_dependency(self.ml_pipeline)
        for key, value in environment.tags.items():
            cdk.Tags.of(self).add(key, value)
