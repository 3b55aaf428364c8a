"""Names the operations units agree on: promotion writes what monitoring reads, alarms feed the triggers.

Run-time resources (the endpoint, its configs) are created by the promotion state machine, not by CloudFormation,
so every unit finds them by these names instead of by reference.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class OperationsNames:
    prefix: str  # <project>-<env>

    @property
    def endpoint(self) -> str:
        return f"{self.prefix}-endpoint"

    @property
    def training_pipeline(self) -> str:
        return f"{self.prefix}-training"

    @property
    def monitoring_pipeline(self) -> str:
        return f"{self.prefix}-monitoring"

    @property
    def batch_pipeline(self) -> str:
        return f"{self.prefix}-batch-inference"

    @property
    def model_package_group(self) -> str:
        return f"{self.prefix}-models"

    # S3 prefixes in the artifacts zone
    data_capture_prefix: str = "data-capture"  # endpoint data capture: <prefix>/<endpoint>/<variant>/yyyy/mm/dd/hh/
    ground_truth_prefix: str = "ground-truth"  # labels uploaded later, Model Monitor's ground-truth layout
    # What the deployed model is checked against: promotion copies the package's baseline.json and model.tar.gz
    # here when an endpoint goes live; the monitoring pipeline reads them from here.
    current_model_prefix: str = "monitoring/current"
    monitoring_reports_prefix: str = "monitoring/reports"
    batch_predictions_prefix: str = "batch-predictions"  # in the curated zone

    # CloudWatch metrics published by the drift check (pipeline_code.drift) and the alarms on them
    metric_namespace: str = "MLOps/Monitoring"
    metric_dimension: str = "Environment"  # value: prefix

    @property
    def alarm_prefix(self) -> str:
        """Alarms named `<prefix>-drift-*` start a retraining run when they go to ALARM."""
        return f"{self.prefix}-drift-"
