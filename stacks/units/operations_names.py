"""Names the operations units agree on: promotion writes what monitoring reads, alarms feed the triggers.

Run-time resources (the endpoint, its configs) are created by the promotion state machine, not by CloudFormation,
so every unit finds them by these names instead of by reference.
"""

from __future__ import annotations

from dataclasses import dataclass

from pipeline_definition.contract import (
    BATCH_PREDICTIONS_PREFIX,
    DATA_CAPTURE_PREFIX,
    GROUND_TRUTH_PREFIX,
    METRIC_NAMESPACE,
    MONITORING_REPORTS_PREFIX,
    current_model_parameter,
    endpoint_name,
    model_package_group_name,
    pipeline_name,
)


@dataclass(frozen=True)
class OperationsNames:
    project_name: str
    environment: str

    @property
    def prefix(self) -> str:
        return f"{self.project_name}-{self.environment}"

    @property
    def endpoint(self) -> str:
        return endpoint_name(self.project_name, self.environment)

    def pipeline(self, kind: str) -> str:
        """`<prefix>-training`, `<prefix>-monitoring` or `<prefix>-batch-inference`."""
        return pipeline_name(self.project_name, self.environment, kind)

    @property
    def training_pipeline(self) -> str:
        return self.pipeline("training")

    @property
    def monitoring_pipeline(self) -> str:
        return self.pipeline("monitoring")

    @property
    def batch_pipeline(self) -> str:
        return self.pipeline("batch-inference")

    @property
    def current_model_parameter(self) -> str:
        """SSM parameter: the model package promotion made live; the monitoring pipeline reads it."""
        return current_model_parameter(self.project_name, self.environment)

    @property
    def model_package_group(self) -> str:
        return model_package_group_name(self.project_name, self.environment)

    # S3 prefixes in the artifacts zone (the pipeline definitions use the same ones: pipeline_definition.contract)
    data_capture_prefix: str = DATA_CAPTURE_PREFIX
    ground_truth_prefix: str = GROUND_TRUTH_PREFIX
    # What the deployed model is checked against: promotion copies the package's baseline.json and model.tar.gz
    # here when an endpoint goes live; the monitoring pipeline reads them from here.
    current_model_prefix: str = "monitoring/current"
    monitoring_reports_prefix: str = MONITORING_REPORTS_PREFIX
    batch_predictions_prefix: str = BATCH_PREDICTIONS_PREFIX  # in the curated zone

    # CloudWatch metrics published by the drift check (pipeline_code.drift) and the alarms on them
    metric_namespace: str = METRIC_NAMESPACE
    metric_dimension: str = "Environment"  # value: prefix

    @property
    def alarm_prefix(self) -> str:
        """Alarms named `<prefix>-drift-*` start a retraining run when they go to ALARM."""
        return f"{self.prefix}-drift-"
