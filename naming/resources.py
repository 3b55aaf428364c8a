"""Every name of one environment's resources, derived from the project name, the environment and where it deploys.

One frozen object per environment, built once (by `stacks.stage.MlopsStage` for CDK, by the pipeline builder, the
local twin, the release) and passed down, so that two parts can never spell the same resource two ways. Run-time
resources (the endpoint, its configs, the SSM parameter) are created by the promotion, not by CloudFormation:
every part finds them by these names instead of by reference.

Standard library only (`pipeline_definition.contract` is too): the release's CodeBuild steps install boto3 and
nothing else. Names that one unit alone creates and uses (a queue, a dashboard) stay in that unit, built from
`prefix`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import ClassVar

from pipeline_code.schema import DEFAULT_DATASET
from pipeline_definition.contract import (
    BATCH_PREDICTIONS_PREFIX,
    DATA_CAPTURE_PREFIX,
    FEEDBACK_PREFIX,
    GROUND_TRUTH_PREFIX,
    MONITORING_REPORTS_PREFIX,
    PIPELINES,
)

# The data lake's zones, one bucket each (stacks/units/data_lake.py).
ZONES = ("raw", "curated", "features", "artifacts")

# The endpoint's rollback alarms (ResourceNames.endpoint_alarm).
ENDPOINT_ALARMS = ("5xx", "latency-p99")

# What every name starts with: S3 bucket names and SageMaker ARNs are lower case, and `-` separates the parts.
_NAME_PART = re.compile(r"[a-z][a-z0-9-]*")


@dataclass(frozen=True)
class EnvironmentNames:
    """The names of one environment that do not depend on the account and region it deploys into.

    What the offline pipeline builder may know: its definitions are the same bytes in every account (buckets, the
    role and the key are placeholders there). `ResourceNames` adds the account and region, and the bucket names.
    """

    project: str
    environment: str
    dataset: str = field(default=DEFAULT_DATASET, kw_only=True)  # the environment's `dataset` (its contract)

    # S3 prefixes in the artifacts zone (the pipeline definitions use the same ones: pipeline_definition.contract)
    data_capture_prefix: ClassVar[str] = DATA_CAPTURE_PREFIX
    ground_truth_prefix: ClassVar[str] = GROUND_TRUTH_PREFIX
    # What the deployed model is checked against: promotion copies the package's baseline.json and model.tar.gz
    # here when an endpoint goes live; the monitoring pipeline reads them from here.
    current_model_prefix: ClassVar[str] = "monitoring/current"
    monitoring_reports_prefix: ClassVar[str] = MONITORING_REPORTS_PREFIX
    # A package promoted from another environment: its model, test split, evaluation and baseline, copied here
    # under <prefix>/<source env>-v<version>/ (the layout of a training run, so every reader of runs reads it).
    imported_models_prefix: ClassVar[str] = "pipeline-runs/imported"
    # The champion/challenger gate's batch transform outputs, per promotion run.
    gate_outputs_prefix: ClassVar[str] = "promotion-gate"
    batch_predictions_prefix: ClassVar[str] = BATCH_PREDICTIONS_PREFIX  # in the curated zone

    # CloudWatch metrics published by the drift check (pipeline_code.drift) and the alarms on them
    metric_namespace: ClassVar[str] = "MLOps/Monitoring"
    metric_dimension: ClassVar[str] = "Environment"  # value: prefix

    def __post_init__(self) -> None:
        for part in ("project", "environment"):
            value = getattr(self, part)
            if not isinstance(value, str) or not _NAME_PART.fullmatch(value):
                raise ValueError(
                    f"resource names: {part} {value!r} must be a lowercase letter, then lowercase letters, digits "
                    "and '-' (it starts every bucket, SageMaker and stack name)"
                )

    @property
    def prefix(self) -> str:
        """`<project>-<env>`: the start of every name of the environment (IAM policies match on it)."""
        return f"{self.project}-{self.environment}"

    # ------------------------------------------------------------------------------------------- stacks

    @property
    def data_lake_stack(self) -> str:
        return f"{self.prefix}-data-lake"

    @property
    def ml_pipeline_stack(self) -> str:
        return f"{self.prefix}-ml-pipeline"

    @property
    def operations_stack(self) -> str:
        return f"{self.prefix}-operations"

    @property
    def release_access_stack(self) -> str:
        """Deployed only by the release pipeline, beside the stage's other stacks."""
        return f"{self.prefix}-release-access"

    # -------------------------------------------------------------------------------------- SageMaker

    def pipeline(self, kind: str) -> str:
        """`<prefix>-training`, `<prefix>-monitoring`, `<prefix>-batch-inference` or `<prefix>-ingestion`."""
        if kind not in PIPELINES:
            raise ValueError(f"no pipeline {kind!r}; the platform's pipelines are {', '.join(PIPELINES)}")
        return f"{self.prefix}-{kind}"

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
    def ingestion_pipeline(self) -> str:
        return self.pipeline("ingestion")

    @property
    def ingestion_state_table(self) -> str:
        """DynamoDB: each ingestion source's watermark and lease (pipeline_code.ingest_state)."""
        return f"{self.prefix}-ingestion-state"

    @property
    def training_job_prefix(self) -> str:
        """The training step's base job name (Pipelines names the jobs themselves `pipelines-...`)."""
        return f"{self.prefix}-train"

    @property
    def endpoint(self) -> str:
        """The environment's one endpoint, created and updated by the promotion state machine at run time."""
        return f"{self.prefix}-endpoint"

    @property
    def model_package_group(self) -> str:
        """The Model Registry group the training pipeline registers in and the promotion deploys from."""
        return f"{self.prefix}-models"

    @property
    def feature_group(self) -> str:
        """The Feature Store group the training pipeline ingests the data set's features into."""
        return f"{self.prefix}-{self.dataset}"

    # ------------------------------------------------------------------------------------- raw zone

    @property
    def raw_training_prefix(self) -> str:
        """Where the data set's files land in the raw zone (`<dataset>/`): the new-data trigger watches it."""
        return f"{self.dataset}/"

    @property
    def snapshot_prefixes(self) -> tuple[str, ...]:
        """What a training run's data snapshot lists: the data set's prefix and the labelled feedback."""
        return (self.raw_training_prefix, FEEDBACK_PREFIX)

    @property
    def mlflow_server(self) -> str:
        """The MLflow tracking server (where `experiment_tracking.enabled`)."""
        return f"{self.prefix}-mlflow"

    # ------------------------------------------------------------------------------------- SSM parameters

    @property
    def current_model_parameter(self) -> str:
        """SSM parameter: the model package promotion made live; the monitoring pipeline reads it."""
        return f"/{self.project}/{self.environment}/current-model-package"

    @property
    def ingestion_settings_parameter(self) -> str:
        """SSM parameter: the ingestion job's settings (the `ingestion` config section as JSON, no credentials)."""
        return f"/{self.project}/{self.environment}/ingestion/settings"

    @property
    def code_hash_parameter(self) -> str:
        """SSM parameter: the hash of the step code the release last started training for (dev)."""
        return f"/{self.project}/{self.environment}/release/pipeline-code-hash"

    # ------------------------------------------------------------------------------------- operations

    @property
    def alerts_topic(self) -> str:
        """The SNS topic of the environment's alarms, approvals and promotion results."""
        return f"{self.prefix}-alerts"

    @property
    def alarm_prefix(self) -> str:
        """Alarms named `<prefix>-drift-*` start a retraining run when they go to ALARM."""
        return f"{self.prefix}-drift-"

    @property
    def promotion_state_machine(self) -> str:
        return f"{self.prefix}-promotion"

    def endpoint_alarm(self, kind: str) -> str:
        """`<prefix>-endpoint-<kind>`: the endpoint's rollback alarms (`5xx`, `latency-p99`), which deployment
        guardrails and the promotion's soak watch; not `alarm_prefix`: they never start a retrain."""
        if kind not in ENDPOINT_ALARMS:
            raise ValueError(f"no endpoint alarm {kind!r}; the endpoint's alarms are {', '.join(ENDPOINT_ALARMS)}")
        return f"{self.prefix}-endpoint-{kind}"

    @property
    def gate_job_prefix(self) -> str:
        """The champion/challenger gate names its transform jobs `<prefix>-gate-<8 hex>-<candidate|champion>`."""
        return f"{self.prefix}-gate-"

    @property
    def promoted_model_prefix(self) -> str:
        """A promotion names its model and endpoint config `<prefix>-v<package version>-<8 hex>`; it finds the
        earlier ones to retire by this start."""
        return f"{self.prefix}-v"

    @property
    def release_check_role(self) -> str:
        """The role the release's post-deploy steps assume: a physical name, so the tooling account can name it
        without a cross-account reference."""
        return f"{self.prefix}-release-check"


@dataclass(frozen=True)
class ResourceNames(EnvironmentNames):
    """The names of one environment deployed into `account` and `region`: `EnvironmentNames` and the buckets.

    For CDK, account and region are the stack's deploy-time pseudo parameters (`cdk.Aws.ACCOUNT_ID`,
    `cdk.Aws.REGION`, as strings: `stacks.units.settings.stage_names`), so a template names its buckets the same
    in every account; outside CDK (the release's steps, the twin) they are the real values.
    """

    account: str
    region: str

    def __post_init__(self) -> None:
        super().__post_init__()
        for part in ("account", "region"):
            if not isinstance(getattr(self, part), str) or not getattr(self, part):
                raise ValueError(f"resource names of {self.prefix}: {part} must be a non-empty string")

    def zone_bucket(self, zone: str) -> str:
        """`<project>-<env>-<zone>-<account>-<region>`: globally unique, and known to every stack of the stage.

        Other stacks import the zones by this name instead of a cross-stack reference, so their IAM statements
        carry plain ARNs (reviewable, and stable for cdk-nag acknowledgments). A named bucket also can't be
        replaced silently: CloudFormation refuses a replacement that would need a second bucket of the same name.
        """
        if zone not in ZONES:
            raise ValueError(f"no zone {zone!r} in the data lake; its zones are {', '.join(ZONES)}")
        return f"{self.prefix}-{zone}-{self.account}-{self.region}"
