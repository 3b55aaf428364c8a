"""The stateful stack: everything that holds data lives here, apart from the stacks that compute on it."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from constructs import Construct

from config.settings import EnvironmentConfig
from stacks.dataset_schema import CURATED_DATASET_NAME, curated_glue_columns
from stacks.units.data_lake import DataLake


class DataLakeStack(cdk.Stack):
    """The data lake of one environment; termination protection and retention come from config."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        environment: EnvironmentConfig,
        resource_prefix: str,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, termination_protection=environment.termination_protection, **kwargs)
        self.lake = DataLake(
            self,
            "DataLake",
            resource_prefix=resource_prefix,
            settings=environment.data_lake,
            destroy=environment.is_destroyable,
            curated_dataset_name=CURATED_DATASET_NAME,
            curated_columns=curated_glue_columns(),
        )
