"""The sections of one environment (`defaults` merged with `environments.<name>`) and the environment itself.

Every field has a description written for the person choosing its value; `python -m config.reference` turns
them, with the types and bounds, into docs/configuration.md. A model validator checks what no single value can:
its docstring is the rule in words (the reference prints it), its error says how to fix the file.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, Field, model_validator

from config.network import INTERFACE_ENDPOINTS, FunctionSettings, NetworkSettings, required_endpoints
from config.scale_out import SHARDABLE_STEPS, scale_out_problems, shared_count_problem, training_problem
from config.section import Section
from config.values import (
    AccountId,
    DatasetName,
    Days,
    Email,
    EnvironmentName,
    Fraction,
    InstanceType,
    LogRetentionDays,
    PositiveFloat,
    PositiveInt,
    Region,
    Rule,
    Schedule,
    TagKey,
    TagValue,
    instance_family,
)


class DataLakeSettings(Section):
    """S3 lifecycle of the data lake's zone buckets and their access logs."""

    transition_to_infrequent_access_days: Annotated[int, Field(ge=30)] = Field(
        description="Days after which current objects of the raw, curated and features zones move to S3 "
        "Standard-IA (cheaper storage, a fee per read). S3 refuses fewer than 30."
    )
    transition_to_glacier_days: Days = Field(
        description="Days after which current objects of the raw zone move to S3 Glacier Flexible Retrieval "
        "(reads take hours: only for data you keep for audit or reprocessing). Must be later than the "
        "Standard-IA transition."
    )
    noncurrent_version_expiration_days: Days = Field(
        description="Days an overwritten or deleted object version is kept before S3 deletes it: the window in "
        "which a bad overwrite can still be undone."
    )
    access_log_retention_days: Days = Field(
        description="Days the S3 server access logs of the zone buckets are kept (audit trail of who read what)."
    )

    @model_validator(mode="after")
    def _glacier_after_ia(self) -> DataLakeSettings:
        """transition_to_glacier_days must be greater than transition_to_infrequent_access_days."""
        if self.transition_to_glacier_days <= self.transition_to_infrequent_access_days:
            raise ValueError(
                "transition_to_glacier_days must be greater than transition_to_infrequent_access_days "
                f"({self.transition_to_glacier_days} <= {self.transition_to_infrequent_access_days})"
            )
        return self


class ProcessingSettings(Section):
    """The processing jobs of the training pipeline: validate, preprocess, feature ingestion, evaluate, bias."""

    instance_type: InstanceType = Field(
        description="Instance type of each processing job; memory must hold the data set a step reads."
    )
    instance_count: Annotated[int, Field(ge=1, le=100)] = Field(
        description="Instances per processing job (the pipeline's ProcessingInstanceCount parameter defaults to it)."
    )
    volume_size_gb: Annotated[int, Field(ge=1, le=16384)] = Field(
        description="EBS volume per instance, in GB: must hold the job's input and output copies."
    )
    max_runtime_seconds: Annotated[int, Field(ge=60, le=432000)] = Field(
        description="A processing job still running after this many seconds is stopped and the run fails: "
        "a bound on the cost of a stuck job."
    )


class Hyperparameters(Section):
    """XGBoost's hyper-parameters for the single training job (tuning searches ranges around them)."""

    num_round: Annotated[int, Field(ge=1, le=10000)] = Field(
        description="Boosting rounds (trees). More fit the training data closer and take longer."
    )
    max_depth: Annotated[int, Field(ge=1, le=20)] = Field(
        description="Maximum depth of a tree. Deeper trees capture more interactions and overfit sooner."
    )
    eta: Annotated[float, Field(gt=0, le=1)] = Field(
        description="Learning rate: how much each tree corrects the previous ones. Lower needs more rounds."
    )
    subsample: Annotated[float, Field(gt=0, le=1)] = Field(
        description="Share of the training rows each tree sees; below 1 reduces overfitting."
    )
    min_child_weight: Annotated[float, Field(ge=0)] = Field(
        description="Minimum sum of instance weights in a leaf; higher makes trees more conservative."
    )


class TrainingSettings(Section):
    """The training job of the training pipeline (or each trial of a tuning job)."""

    instance_type: InstanceType = Field(description="Instance type of the training job.")
    instance_count: Annotated[int, Field(ge=1, le=100)] = Field(
        description="Instances of the training job (the pipeline's TrainingInstanceCount parameter defaults to it)."
    )
    volume_size_gb: Annotated[int, Field(ge=1, le=16384)] = Field(
        description="EBS volume per training instance, in GB (data, checkpoints, model)."
    )
    use_spot_instances: bool = Field(
        description="Managed spot training with checkpoints: cheaper, but a job may wait for capacity and be "
        "interrupted (it resumes from its last checkpoint)."
    )
    max_runtime_seconds: Annotated[int, Field(ge=60, le=2419200)] = Field(
        description="Training time after which the job is stopped and the run fails."
    )
    max_wait_seconds: Annotated[int, Field(ge=60, le=2419200)] = Field(
        description="Spot only: total time including waiting for spot capacity; must be at least max_runtime_seconds."
    )
    hyperparameters: Hyperparameters = Field(description="XGBoost's hyper-parameters.")

    @model_validator(mode="after")
    def _wait_covers_runtime(self) -> TrainingSettings:
        """With use_spot_instances, max_wait_seconds must be >= max_runtime_seconds."""
        if self.use_spot_instances and self.max_wait_seconds < self.max_runtime_seconds:
            raise ValueError(
                "max_wait_seconds must be >= max_runtime_seconds with spot instances "
                f"({self.max_wait_seconds} < {self.max_runtime_seconds})"
            )
        return self


class TuningSettings(Section):
    """Hyper-parameter tuning: a tuning job in place of the single training job."""

    enabled: bool = Field(
        description="true: a tuning job (Bayesian search) trains max_jobs candidates in place of the single "
        "training job and the best one goes on; up to max_jobs times the training cost. false: one training job "
        "with training.hyperparameters."
    )
    max_jobs: Annotated[int, Field(ge=1, le=500)] = Field(description="Training jobs the tuning job runs in total.")
    max_parallel_jobs: Annotated[int, Field(ge=1, le=100)] = Field(
        description="Training jobs running at once: higher finishes sooner, lower lets each trial learn from more "
        "finished ones. At most max_jobs."
    )

    @model_validator(mode="after")
    def _parallel_within_total(self) -> TuningSettings:
        """max_parallel_jobs must be <= max_jobs."""
        if self.max_parallel_jobs > self.max_jobs:
            raise ValueError(f"max_parallel_jobs ({self.max_parallel_jobs}) must be <= max_jobs ({self.max_jobs})")
        return self


class InferenceSettings(Section):
    """The endpoint the promotion deploys approved models to, and the batch-inference transform job."""

    mode: Literal["serverless", "instance"] = Field(
        description="serverless: pay per request, scales to zero, cold starts, no data capture (monitoring must "
        "use batch predictions). instance: always-on instances with autoscaling and data capture."
    )
    instance_type: InstanceType = Field(
        description="Instance type of an instance endpoint and of the batch-inference transform job."
    )
    initial_instance_count: Annotated[int, Field(ge=1, le=100)] = Field(
        description="Instances an instance endpoint starts with (and the batch transform job uses)."
    )
    min_capacity: Annotated[int, Field(ge=1, le=100)] = Field(
        description="Autoscaling lower bound of an instance endpoint. Equal to max_capacity: no autoscaling."
    )
    max_capacity: Annotated[int, Field(ge=1, le=100)] = Field(
        description="Autoscaling upper bound of an instance endpoint: the most you pay for under load."
    )
    target_invocations_per_instance: PositiveInt = Field(
        description="Target tracking: the invocations per instance per minute autoscaling keeps the endpoint at. "
        "Lower scales out sooner."
    )
    serverless_memory_mb: Literal[1024, 2048, 3072, 4096, 5120, 6144] = Field(
        description="Memory of a serverless endpoint (CPU grows with it); the model must fit."
    )
    serverless_max_concurrency: Annotated[int, Field(ge=1, le=200)] = Field(
        description="Concurrent requests a serverless endpoint serves before throttling; counts against the "
        "account's serverless concurrency quota."
    )
    data_capture_sampling_percent: Annotated[int, Field(ge=0, le=100)] = Field(
        description="Share of an instance endpoint's requests captured to S3 for monitoring. Lower costs less "
        "storage and gives the drift check fewer rows."
    )

    @model_validator(mode="after")
    def _capacity_bounds(self) -> InferenceSettings:
        """min_capacity <= initial_instance_count <= max_capacity."""
        if not self.min_capacity <= self.initial_instance_count <= self.max_capacity:
            raise ValueError(
                "need min_capacity <= initial_instance_count <= max_capacity "
                f"(got {self.min_capacity}, {self.initial_instance_count}, {self.max_capacity})"
            )
        return self

    @model_validator(mode="after")
    def _burstable_instances_do_not_autoscale(self) -> InferenceSettings:
        """An instance endpoint on a burstable (t) family needs min_capacity = max_capacity."""
        if (
            self.mode == "instance"
            and self.max_capacity > self.min_capacity
            and instance_family(self.instance_type).startswith("t")
        ):
            raise ValueError(
                f"instance_type {self.instance_type!r}: SageMaker does not autoscale burstable (t) instances; "
                f"set min_capacity = max_capacity (got {self.min_capacity} and {self.max_capacity}) "
                "or choose another family"
            )
        return self


class MonitoringSettings(Section):
    """Drift and quality monitoring of the live model."""

    backend: Literal["custom", "model-monitor"] = Field(
        description="custom: the project's own drift and quality checks (a monitoring pipeline; works in every "
        "account). model-monitor: SageMaker Model Monitor and Clarify schedules, for accounts that still have "
        "them (closed to new customers); needs pipeline.native_checks true and inference.mode instance."
    )
    instance_type: InstanceType = Field(description="Instance type of the monitoring jobs.")
    instance_count: Annotated[int, Field(ge=1, le=100)] = Field(description="Instances per monitoring job.")
    schedule: Schedule = Field(
        description="How often monitoring runs. The model-monitor backend runs only hourly or daily at an hour: "
        "`cron(0 * * * ? *)`, `cron(0 <hour> * * ? *)`, `rate(1 hour)` or `rate(1 day)`."
    )
    window_hours: Annotated[int, Field(ge=1, le=720)] = Field(
        description="How many hours of captured requests (or batch predictions) one custom monitoring run "
        "checks: the last N hours. Long enough to hold a meaningful sample of your traffic."
    )
    source: Literal["capture", "batch"] = Field(
        description="What custom monitoring checks: capture (the endpoint's data capture; needs inference.mode "
        "instance, serverless endpoints capture nothing) or batch (the batch-inference pipeline's predictions)."
    )
    min_rows: Annotated[int, Field(ge=1, le=1_000_000)] = Field(
        description="A custom monitoring window with fewer rows gets no verdict ('not enough data'): no drift is "
        "reported and no retrain starts."
    )
    min_facet_group_rows: Annotated[int, Field(ge=1, le=1_000_000)] = Field(
        description="Bias drift compares a facet group (e.g. sex=Female) only when it has at least this many rows "
        "in the window and in the reference data."
    )
    attribution_sample_rows: Annotated[int, Field(ge=10, le=100_000)] = Field(
        description="Rows of the window, and of the reference data, sampled for the SHAP attributions of the "
        "explainability-drift check: bounds its cost whatever the window's size."
    )


class Thresholds(Section):
    """The quality, business and bias gates a new model must pass to be registered, and the drift verdicts."""

    min_auc: Fraction = Field(description="Quality gate: lowest test-set ROC AUC a model may have to be registered.")
    min_f1: Fraction = Field(description="Quality gate: lowest test-set F1 score a model may have to be registered.")
    max_cost_per_1000: Annotated[float, Field(ge=0)] = Field(
        description="Business gate: highest expected cost per 1,000 decisions at the best threshold, in the unit "
        "of the two costs below."
    )
    false_positive_cost: Annotated[float, Field(ge=0)] = Field(
        description="Cost of one false positive (a wrong 'yes'), in your own unit; sets the decision threshold."
    )
    false_negative_cost: Annotated[float, Field(ge=0)] = Field(
        description="Cost of one false negative (a missed 'yes'), in the same unit."
    )
    min_disparate_impact: Fraction = Field(
        description="Bias gate: lowest allowed ratio of positive-prediction rates between facet groups "
        "(1 = parity; the four-fifths rule is 0.8)."
    )
    drift_false_alarm_rate: Annotated[float, Field(gt=0, lt=1)] = Field(
        description="Drift verdicts: every drift test below flags only when its effect is past its threshold "
        "and its p-value at this batch size (null distribution simulated from the baseline), Holm-adjusted over "
        "all tests of the run, is below this rate: the chance that a run of unshifted data flags anything (and "
        "may start a retrain). 0.001: about one noise alarm in 1,000 runs."
    )
    drift_wasserstein: PositiveFloat = Field(
        description="Wasserstein distance, in baseline standard deviations, at or above which a numeric feature "
        "has drifted (Evidently's default is 0.1)."
    )
    drift_tail_wasserstein: PositiveFloat = Field(
        description="The same for the values other than the dominant one of a zero-inflated feature (e.g. the "
        "non-zero capital gains), in their own standard deviations; higher than drift_wasserstein because a "
        "tail holds few rows (Adult's train and test splits already differ by 0.14 on capital losses)."
    )
    drift_zero_inflated_share: Annotated[float, Field(gt=0, lt=1)] = Field(
        description="A numeric feature whose most common value holds at least this share of the baseline is "
        "zero-inflated: its other values get their own drift test (drift_tail_wasserstein)."
    )
    drift_psi: PositiveFloat = Field(
        description="Population stability index (spike-aware quantile bins plus a missing-value bin) at or "
        "above which a numeric feature, or the prediction score, has drifted (0.2: significant by convention)."
    )
    drift_jensen_shannon: Fraction = Field(
        description="Jensen-Shannon distance (natural log), less the noise expected at the batch's size, at or "
        "above which a categorical feature has drifted."
    )
    drift_label_rate_change: Fraction = Field(
        description="Change of the positive-label rate (labelled windows) at or above which the label drifted."
    )
    drift_auc_drop: Fraction = Field(
        description="Model-quality drift: drop of ROC AUC on the labelled window against the reference data at "
        "or above which quality drifted."
    )
    drift_bias_change: Fraction = Field(
        description="Bias drift: change of a facet group's DPPL (difference in positive proportions in predicted "
        "labels) against the reference data at or above which bias drifted."
    )
    drift_attribution_ndcg: Annotated[float, Field(gt=0, lt=1)] = Field(
        description="Explainability drift: NDCG of the window's feature ranking by mean |SHAP| against the "
        "reference's, at or below which attributions drifted (SageMaker Clarify's default is 0.9)."
    )


class Schedules(Section):
    """Recurring runs, as EventBridge Scheduler expressions (UTC)."""

    batch_inference: Schedule = Field(description="When the batch-inference pipeline scores the latest data.")
    retraining: Schedule = Field(
        description="Scheduled retraining on a fresh data snapshot, whatever the drift and new data; skipped "
        "(not postponed) inside the retraining cooldown or while a run is in flight."
    )


class RetrainingSettings(Section):
    """When drift, new data and the schedule may start the training pipeline."""

    cooldown_hours: Annotated[int, Field(ge=0, le=8760)] = Field(
        description="No drift, new-data or scheduled retrain starts within this many hours of the last start "
        "(of any trigger, a manual or release start included): a bound on training cost."
    )
    min_new_rows: PositiveInt = Field(
        description="New-data trigger: rows landed in the raw zone since the last run before a retrain starts."
    )
    min_new_bytes: PositiveInt = Field(description="New-data trigger: ... or bytes, whichever is reached first.")


class FeatureStoreSettings(Section):
    """The feature group the pipeline ingests into."""

    online_store: bool = Field(
        description="Also keep the latest record per id in the online store (KMS-encrypted) for low-latency "
        "reads, at extra cost; the offline store (S3 + Glue) is always on. With it, the training pipeline's "
        "IngestFeatures looks record ids up there (BatchGetRecord) and writes only the rows not yet ingested."
    )


class ModelRegistrySettings(Section):
    """The model package group that the training pipeline registers into."""

    cross_account_readers: list[AccountId] = Field(
        description="Accounts allowed to read (describe, list) this environment's model packages and their "
        "artifacts: the accounts that promote models trained here."
    )


class PipelineSettings(Section):
    """Optional steps of the training pipeline."""

    native_checks: bool = Field(
        description="Also run SageMaker's QualityCheckStep and ClarifyCheckStep, which make Model Monitor's "
        "baselines: only for accounts that still have Model Monitor and Clarify; required by the model-monitor "
        "backend. The project's own checks always run."
    )


class ExperimentTrackingSettings(Section):
    """A SageMaker managed MLflow tracking server that the steps log parameters and metrics to."""

    enabled: bool = Field(description="Deploy the tracking server. It costs money for every hour it runs, used or not.")
    server_size: Literal["Small", "Medium", "Large"] = Field(
        description="Size of the tracking server: the number of users and runs it serves, and its hourly price."
    )


class ChampionChallengerSettings(Section):
    """The gate before a deploy: the candidate and the live model (the champion) scored on the same held-out data."""

    max_auc_drop: Fraction = Field(
        description="The candidate is refused if its ROC AUC is lower than the champion's by more than this "
        "(0.01: one point of AUC). The first model of an environment has no champion and passes."
    )
    max_cost_increase_per_1000: Annotated[float, Field(ge=0)] = Field(
        description="The candidate is refused if its expected cost per 1,000 decisions (at its own best "
        "threshold, with thresholds.false_positive_cost and false_negative_cost) exceeds the champion's by more "
        "than this, in the unit of those costs."
    )
    timeout_minutes: Annotated[int, Field(ge=10, le=360)] = Field(
        description="Bound on the two batch transform jobs that score the candidate and the champion; a gate "
        "still running then rejects the candidate."
    )


class RollbackAlarmSettings(Section):
    """The endpoint alarms that roll a deployment back (guardrails), end a soak, and page the team."""

    max_5xx_percent: Annotated[float, Field(gt=0, le=100)] = Field(
        description="Alarm when more than this share of invocations fail with a 5xx error (model or container "
        "errors), over two consecutive minutes."
    )
    max_latency_p99_ms: Annotated[int, Field(ge=1, le=60000)] = Field(
        description="Alarm when the model latency's 99th percentile exceeds this many milliseconds, over two "
        "consecutive minutes."
    )


def _canary_size(value: int) -> int:
    if value > 50:
        raise ValueError("SageMaker shifts at most 50 % of the fleet's capacity to a canary; use 1..50")
    return value


def _linear_step(value: int) -> int:
    if not 10 <= value <= 50:
        raise ValueError("SageMaker shifts linear steps of 10 % to 50 % of the fleet's capacity; use 10..50")
    return value


def _wait_interval(value: int) -> int:
    if not 0 <= value <= 3600:
        raise ValueError("SageMaker waits between 0 and 3600 seconds between traffic shifts")
    return value


class GuardrailSettings(Section):
    """SageMaker deployment guardrails for instance endpoints: a blue/green update whose traffic moves to the
    new fleet in steps, rolled back automatically when a rollback alarm fires."""

    traffic_routing: Literal["canary", "linear", "all_at_once"] = Field(
        description="canary: canary_size_percent of the capacity first, the rest after one wait interval. "
        "linear: linear_step_percent at a time, a wait interval after each. all_at_once: every instance at "
        "once, then one wait interval (the bake time) before the old fleet goes."
    )
    canary_size_percent: Annotated[int, Field(ge=1), AfterValidator(_canary_size), Rule("1..50")] | None = Field(
        default=None,
        description="canary (required there, refused otherwise): the share of the fleet's capacity the new model "
        "gets first (at least one instance).",
    )
    linear_step_percent: Annotated[int, Field(ge=1), AfterValidator(_linear_step), Rule("10..50")] | None = Field(
        default=None,
        description="linear (required there, refused otherwise): the share of the capacity moved at each step.",
    )
    wait_interval_seconds: Annotated[int, AfterValidator(_wait_interval), Rule("0..3600")] = Field(
        description="How long each step bakes, watched by the rollback alarms, before more traffic moves."
    )
    termination_wait_seconds: Annotated[int, Field(ge=0, le=3600)] = Field(
        description="How long the old fleet is kept after all traffic moved: a last window for a rollback."
    )
    max_execution_timeout_seconds: Annotated[int, Field(ge=600, le=28800)] = Field(
        description="SageMaker rolls the update back if it has not finished within this many seconds; must "
        "cover every wait interval and the termination wait."
    )

    def steps(self) -> int:
        """Traffic shifts the update makes (each followed by a wait interval)."""
        if self.traffic_routing == "canary":
            return 2
        if self.traffic_routing == "linear" and self.linear_step_percent:
            return -(-100 // self.linear_step_percent)
        return 1

    @model_validator(mode="after")
    def _size_of_the_routing(self) -> GuardrailSettings:
        """canary needs canary_size_percent, linear needs linear_step_percent; neither takes the other's key."""
        for routing, key in (("canary", "canary_size_percent"), ("linear", "linear_step_percent")):
            given = getattr(self, key) is not None
            if given != (self.traffic_routing == routing):
                verb = "needs" if not given else "takes no"
                raise ValueError(f"traffic_routing '{self.traffic_routing}' {verb} {key}")
        return self

    @model_validator(mode="after")
    def _timeout_covers_the_waits(self) -> GuardrailSettings:
        """max_execution_timeout_seconds must be at least the wait intervals of every shift plus the termination
        wait."""
        needed = self.steps() * self.wait_interval_seconds + self.termination_wait_seconds
        if self.max_execution_timeout_seconds < needed:
            raise ValueError(
                f"max_execution_timeout_seconds ({self.max_execution_timeout_seconds}) must be at least the "
                f"{self.steps()} wait interval(s) of {self.wait_interval_seconds} s plus termination_wait_seconds "
                f"({needed} s): SageMaker would roll every update back"
            )
        return self


class PromotionSettings(Section):
    """The promotion state machine: an Approved model package becomes the live endpoint."""

    source: Literal["own", "dev", "staging", "prod"] = Field(
        description="Where this environment's models come from. own: its own training pipeline's Approved "
        "packages. An environment name: the packages that environment approved (dev) or validated (staging), "
        "read across accounts and deployed as the same bytes (build once, promote everywhere). The sources may "
        "not form a cycle; the source's model_registry.cross_account_readers must name this account."
    )
    manual_approval: bool = Field(
        description="true: the promotion waits for a person to approve (a Step Functions task token) before it "
        "deploys; the alerts topic says it is waiting, with the champion/challenger figures."
    )
    approval_timeout_hours: Annotated[int, Field(ge=1, le=8760)] = Field(
        description="With manual_approval: no decision within this many hours rejects the model package."
    )
    in_service_timeout_minutes: Annotated[int, Field(ge=5, le=180)] = Field(
        description="How long to wait for the updated endpoint to be InService before the promotion gives up "
        "and rolls back. With guardrails, at least the update's max_execution_timeout_seconds."
    )
    smoke_test_rows: Annotated[int, Field(ge=1, le=100)] = Field(
        description="Real rows of the model's test split sent to the new endpoint; unless every one comes back "
        "as a probability, the promotion rolls back and rejects the package."
    )
    soak_minutes: Annotated[int, Field(ge=0, le=1440)] = Field(
        description="After the smoke test, the new model serves this long before it counts as validated; a "
        "rollback alarm in ALARM at the end rolls it back. 0: no soak."
    )
    keep_endpoint_configs: Annotated[int, Field(ge=2, le=50)] = Field(
        description="Endpoint configs (each with its model) kept after a promotion, the live one included; older "
        "ones are deleted. The others are the rollback targets."
    )
    champion_challenger: ChampionChallengerSettings = Field(description="The gate against the live model.")
    rollback_alarms: RollbackAlarmSettings = Field(description="The endpoint's rollback alarms.")
    guardrails: GuardrailSettings | None = Field(
        description="Deployment guardrails of an instance endpoint's updates. null: the update replaces the "
        "fleet at once (serverless endpoints: always null, SageMaker offers them no guardrails)."
    )

    @model_validator(mode="after")
    def _in_service_wait_covers_the_update(self) -> PromotionSettings:
        """With guardrails, in_service_timeout_minutes * 60 must be at least max_execution_timeout_seconds."""
        if self.guardrails and self.in_service_timeout_minutes * 60 < self.guardrails.max_execution_timeout_seconds:
            raise ValueError(
                f"in_service_timeout_minutes ({self.in_service_timeout_minutes}) is shorter than "
                f"guardrails.max_execution_timeout_seconds ({self.guardrails.max_execution_timeout_seconds} s): "
                "the promotion would give up on an update SageMaker is still shifting"
            )
        return self


class AlertSettings(Section):
    """Where alarms and waiting approvals are announced."""

    email: Email | None = Field(
        description="An address subscribed to the alerts topic (SNS asks it to confirm). null: the topic only, "
        "subscribe to it yourself."
    )
    max_4xx_percent: Annotated[float, Field(gt=0, le=100)] = Field(
        description="Alarm when more than this share of the endpoint's invocations are refused as client errors "
        "(4xx: malformed requests, a caller sending the wrong features), over three five-minute periods."
    )
    min_invocations_per_hour: Annotated[int, Field(ge=1)] | None = Field(
        description="Where traffic is expected: alarm when the endpoint serves fewer invocations than this in an "
        "hour, no data included (an endpoint nobody reaches pages someone). null: no traffic expected."
    )


RawColumn = Annotated[str, Rule("a raw column of the environment's data set (its contract's `columns`)")]
SqlName = Annotated[
    str,
    Field(pattern=r"^[A-Za-z_][A-Za-z0-9_$ -]{0,62}$"),
    Rule("a PostgreSQL column name: a letter or `_`, then letters, digits, `_`, `$`, `-` or spaces (63 at most)"),
]
SecretArn = Annotated[
    str,
    Field(pattern=r"^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[A-Za-z0-9/_+=.@-]+$"),
    Rule("a Secrets Manager secret ARN, `arn:aws:secretsmanager:<region>:<account>:secret:<name>-<6 chars>`"),
]
KmsKeyArn = Annotated[
    str,
    Field(pattern=r"^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key/[a-f0-9-]{36}$"),
    Rule("a KMS key ARN, `arn:aws:kms:<region>:<account>:key/<key id>`"),
]


class PostgresConnection(Section):
    """Where the source database is and how the job signs in; credentials are never written in the config."""

    host: Annotated[str, Field(pattern=r"^[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$")] = Field(
        description="DNS name (or IP address) of the PostgreSQL server: an RDS or Aurora endpoint, or a "
        "self-managed server the job's network reaches."
    )
    port: Annotated[int, Field(ge=1, le=65535)] = Field(default=5432, description="TCP port of the server.")
    database: Annotated[str, Field(min_length=1, max_length=63)] = Field(description="Database to read from.")
    ssl_mode: Literal["require", "verify-ca", "verify-full"] = Field(
        default="require",
        description="libpq sslmode: require encrypts the connection; verify-ca and verify-full also check the "
        "server certificate against the system trust store (RDS needs its CA bundle there for those).",
    )
    secret_arn: SecretArn | None = Field(
        default=None,
        description="A Secrets Manager secret with `username` and `password` (the JSON RDS writes for a managed "
        "master or rotated user). Exactly one of secret_arn and iam_username.",
    )
    secret_kms_key_arn: KmsKeyArn | None = Field(
        default=None,
        description="The customer managed KMS key the secret is encrypted with, if any (the job is granted "
        "kms:Decrypt on it through Secrets Manager only). null: the AWS managed key aws/secretsmanager.",
    )
    iam_username: SqlName | None = Field(
        default=None,
        description="RDS IAM authentication: the database user (granted rds_iam) the job signs in as with a "
        "15-minute token. Needs iam_db_resource_id. Exactly one of secret_arn and iam_username.",
    )
    iam_db_resource_id: Annotated[str, Field(pattern=r"^(db|cluster)-[A-Z0-9]{1,255}$")] | None = Field(
        default=None,
        description="With iam_username: the instance's or cluster's resource id (`db-...` or `cluster-...`, not "
        "its name), which IAM's rds-db:connect permission names.",
    )

    @model_validator(mode="after")
    def _one_way_to_sign_in(self) -> PostgresConnection:
        """Exactly one of secret_arn and iam_username; iam_username needs iam_db_resource_id."""
        if (self.secret_arn is None) == (self.iam_username is None):
            raise ValueError(
                "give exactly one of secret_arn (a Secrets Manager secret with username and password) and "
                "iam_username (RDS IAM authentication): credentials are never written in the config"
            )
        if self.iam_username is not None and self.iam_db_resource_id is None:
            raise ValueError("iam_username needs iam_db_resource_id (the db-... or cluster-... resource id)")
        if self.secret_arn is None and self.secret_kms_key_arn is not None:
            raise ValueError("secret_kms_key_arn is the key of secret_arn: set it only with secret_arn")
        return self


class IngestionNetwork(Section):
    """The VPC placement of the ingestion job (a database in a VPC is reached only from inside it)."""

    subnet_ids: Annotated[list[Annotated[str, Field(pattern=r"^subnet-[0-9a-f]{8,17}$")]], Field(min_length=1)] = Field(
        description="Private subnets the processing job runs in; they must route to the database."
    )
    security_group_ids: Annotated[
        list[Annotated[str, Field(pattern=r"^sg-[0-9a-f]{8,17}$")]], Field(min_length=1, max_length=5)
    ] = Field(description="Security groups of the job; the database's must accept them on its port.")


class IngestionSettings(Section):
    """Incremental ingestion from PostgreSQL into the raw zone (docs/ingestion.md): a scheduled SageMaker
    pipeline copies the rows past a watermark, as raw CSV in the data set's layout, under
    `<dataset>/postgres/<source_name>/`, where the new-data trigger counts them."""

    source_name: Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]{0,39}$")] = Field(
        description="Names the source: its folder in the raw zone, its manifests and its watermark. A new name "
        "loads the source again from its first row."
    )
    connection: PostgresConnection = Field(description="The database and how to sign in.")
    table: Annotated[str, Field(pattern=r"^([A-Za-z_][A-Za-z0-9_$]{0,62}\.)?[A-Za-z_][A-Za-z0-9_$]{0,62}$")] | None = (
        Field(default=None, description="`table` or `schema.table` to read. Exactly one of table and query.")
    )
    query: Annotated[str, Field(min_length=1, max_length=2000)] | None = Field(
        default=None,
        description="A SELECT whose result has the mapped columns and the watermark column (joins, casts, "
        "aliases); it runs read-only. Exactly one of table and query.",
    )
    watermark_column: SqlName = Field(
        description="A column that only grows: a timestamp, timestamptz or date (e.g. updated_at), or an integer "
        "(an identity id). Each run reads the rows past the last watermark; an index on it keeps that cheap."
    )
    columns: dict[RawColumn, SqlName] = Field(
        default_factory=dict,
        description="Raw-layout column -> source column, for the columns named differently in the source (e.g. "
        "`Y: income`, `hours-per-week: hours_per_week`); an unlisted raw column is read from the column of the "
        "same name.",
    )
    batch_rows: Annotated[int, Field(ge=1000, le=100_000_000)] = Field(
        default=1_000_000,
        description="Rows per raw-zone file (at most; rows of one watermark value stay together): each file is "
        "written whole, with its manifest, before the watermark moves past it.",
    )
    settle_seconds: Annotated[int, Field(ge=0, le=86_400)] = Field(
        default=300,
        description="Timestamp and date watermarks: rows newer than this on the database clock wait for the next "
        "run, so a row whose transaction commits within this time of its watermark value is never skipped.",
    )
    schedule: Schedule = Field(
        default="rate(1 hour)", description="When the ingestion pipeline runs (EventBridge Scheduler, UTC)."
    )
    network: IngestionNetwork | None = Field(
        default=None,
        description="Subnets and security groups of the job; null: SageMaker's own network (a database with a "
        "public endpoint only). The job also needs S3, DynamoDB, SSM and Secrets Manager from there (VPC "
        "endpoints or NAT).",
    )

    @model_validator(mode="after")
    def _table_or_query(self) -> IngestionSettings:
        """Exactly one of table and query."""
        if (self.table is None) == (self.query is None):
            raise ValueError("give exactly one of table (schema.table) and query (a SELECT)")
        return self

    def job_settings(self) -> dict[str, object]:
        """What the job reads (pipeline_code.ingest_settings): flat, no schedule or network."""
        connection = self.connection
        settings: dict[str, object] = {
            "source_name": self.source_name,
            "host": connection.host,
            "port": connection.port,
            "database": connection.database,
            "ssl_mode": connection.ssl_mode,
            "table": self.table,
            "query": self.query,
            "watermark_column": self.watermark_column,
            "columns": dict(self.columns),
            "batch_rows": self.batch_rows,
            "settle_seconds": self.settle_seconds,
        }
        if connection.secret_arn:
            settings["secret_arn"] = connection.secret_arn
        else:
            settings["iam_username"] = connection.iam_username
        return settings


class EnvironmentConfig(Section):
    """Everything one environment (dev, staging or prod) is built from."""

    name: EnvironmentName = Field(
        description="The environment's key under `environments`; set by the loader, not written in the file."
    )
    dataset: DatasetName = Field(
        description="The data set the environment trains on: its contract `datasets/<dataset>.yaml` (columns, "
        "types, label, facets; docs/datasets.md). Every step, the feature group, the Glue table, the dashboards "
        "and the raw-zone prefix `<dataset>/` read it."
    )
    account: AccountId | None = Field(
        description="AWS account the environment deploys into. null (dev only): the account of your credentials."
    )
    region: Region = Field(description="AWS region the environment deploys into.")
    removal_policy: Literal["retain", "destroy"] = Field(
        description="What deleting a stack does to its data: retain keeps buckets, tables and keys; destroy "
        "deletes them (and empties the buckets). destroy is for throw-away environments: refused for prod and "
        "with termination_protection."
    )
    termination_protection: bool = Field(
        description="CloudFormation termination protection on the stateful (data lake) stack: deleting it needs "
        "the protection switched off first."
    )
    log_retention_days: LogRetentionDays = Field(
        description="Days the platform's CloudWatch log groups keep their logs."
    )
    tags: dict[TagKey, TagValue] = Field(description="Tags put on every resource of the environment.")
    data_lake: DataLakeSettings = Field(description="The lake's S3 lifecycle.")
    processing: ProcessingSettings = Field(description="The training pipeline's processing jobs.")
    training: TrainingSettings = Field(description="The training job.")
    tuning: TuningSettings = Field(description="Hyper-parameter tuning.")
    inference: InferenceSettings = Field(description="The endpoint and the batch transform.")
    monitoring: MonitoringSettings = Field(description="Drift and quality monitoring.")
    thresholds: Thresholds = Field(description="Gates and drift verdicts.")
    schedules: Schedules = Field(description="Batch inference and scheduled retraining.")
    retraining: RetrainingSettings = Field(description="Retraining triggers.")
    feature_store: FeatureStoreSettings = Field(description="The feature group.")
    model_registry: ModelRegistrySettings = Field(description="The model package group.")
    pipeline: PipelineSettings = Field(description="Optional training pipeline steps.")
    experiment_tracking: ExperimentTrackingSettings = Field(description="The MLflow tracking server.")
    promotion: PromotionSettings = Field(description="The promotion state machine.")
    alerts: AlertSettings = Field(description="Alert delivery.")
    network: NetworkSettings = Field(description="Private networking (VPC, subnets, VPC endpoints).")
    functions: FunctionSettings = Field(description="The Lambda functions.")
    ingestion: IngestionSettings | None = Field(
        default=None, description="Incremental ingestion from PostgreSQL; null: data arrives as files only."
    )
    scale_out: dict[str, int] = Field(
        default={},
        description="Instances per pipeline step, for the steps whose work splits by rows ("
        + ", ".join(SHARDABLE_STEPS)
        + "): their data input is sharded by S3 key, each instance writes partial results under its host name "
        "and a merge step combines them exactly. A step not named runs on one instance; a count above 1 for a "
        "step that cannot shard is refused with the reason.",
    )

    @model_validator(mode="after")
    def _steps_that_cannot_shard_run_on_one_instance(self) -> EnvironmentConfig:
        """scale_out names only steps that can shard; processing.instance_count and (custom backend)
        monitoring.instance_count stay 1, since steps that cannot shard run on them; training.instance_count above 1
        needs scale_out.Preprocess at least as large (one train object per training instance)."""
        problems = scale_out_problems(self.scale_out)
        shared = [
            shared_count_problem(
                "processing.instance_count",
                self.processing.instance_count,
                ["EvaluateModel", "CheckBiasAndExplain", "IngestFeatures", "NativeBaselineInputs"],
            ),
            shared_count_problem(
                "monitoring.instance_count",
                self.monitoring.instance_count if self.monitoring.backend == "custom" else 1,
                ["GatherMonitoringInputs", "CheckDrift"],
            ),
        ]
        shared.append(training_problem(self.training.instance_count, self.scale_out))
        problems += [problem for problem in shared if problem]
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @model_validator(mode="after")
    def _serverless_endpoints_capture_nothing(self) -> EnvironmentConfig:
        """monitoring.source capture needs inference.mode instance: serverless endpoints capture nothing."""
        if self.inference.mode == "serverless" and self.monitoring.source == "capture":
            raise ValueError(
                "monitoring.source 'capture' needs inference.mode 'instance': serverless endpoints support no data "
                "capture (use monitoring.source 'batch', or an instance endpoint)"
            )
        return self

    @model_validator(mode="after")
    def _model_monitor_has_what_it_reads(self) -> EnvironmentConfig:
        """monitoring.backend model-monitor needs pipeline.native_checks true and inference.mode instance."""
        if self.monitoring.backend != "model-monitor":
            return self
        problems = []
        if not self.pipeline.native_checks:
            problems.append(
                "pipeline.native_checks true (the training pipeline's native checks make the Model Monitor "
                "baselines the promotion hands to the monitoring schedules)"
            )
        if self.inference.mode != "instance":
            problems.append("inference.mode 'instance' (Model Monitor reads data capture; serverless has none)")
        if problems:
            raise ValueError("monitoring.backend 'model-monitor' needs " + " and ".join(problems))
        return self

    @model_validator(mode="after")
    def _guardrails_need_instances(self) -> EnvironmentConfig:
        """promotion.guardrails must be null with inference.mode serverless."""
        if self.inference.mode == "serverless" and self.promotion.guardrails is not None:
            raise ValueError(
                "promotion.guardrails needs inference.mode 'instance': SageMaker offers serverless endpoints no "
                "deployment guardrails (blue/green traffic shifting); set promotion.guardrails to null"
            )
        return self

    @model_validator(mode="after")
    def _private_endpoints_run_on_instances(self) -> EnvironmentConfig:
        """network.mode create or import needs inference.mode instance: serverless endpoints cannot run in a VPC."""
        if self.network.enabled and self.inference.mode == "serverless":
            raise ValueError(
                f"network.mode '{self.network.mode}' needs inference.mode 'instance': SageMaker runs serverless "
                "endpoints on its own network only (no VpcConfig); use an instance endpoint or network.mode 'none'"
            )
        return self

    @model_validator(mode="after")
    def _ingestion_placed_in_the_network(self) -> EnvironmentConfig:
        """With a network, an ingestion section names its own subnets and groups (ingestion.network)."""
        if self.network.enabled and self.ingestion is not None and self.ingestion.network is None:
            raise ValueError(
                f"ingestion.network is required with network.mode '{self.network.mode}': the platform's job security "
                "group admits HTTPS only, so name the subnets that route to the database and a security group its "
                "database accepts on its port (ingestion.network.subnet_ids, ingestion.network.security_group_ids)"
            )
        return self

    @model_validator(mode="after")
    def _required_endpoints_listed(self) -> EnvironmentConfig:
        """With a network, network.interface_endpoints must list every endpoint something inside the VPC calls."""
        if not self.network.enabled:
            return self
        tracking = self.experiment_tracking.enabled
        required = required_endpoints(experiment_tracking=tracking)
        missing = [name for name in required if name not in self.network.interface_endpoints]
        if missing:
            callers = "; ".join(f"{name}: {INTERFACE_ENDPOINTS[name].callers}" for name in missing)
            raise ValueError(
                f"network.interface_endpoints lacks {', '.join(missing)}, which code inside the VPC calls ({callers}): "
                "without them those calls time out"
            )
        return self

    @model_validator(mode="after")
    def _not_its_own_source(self) -> EnvironmentConfig:
        """promotion.source may not name the environment itself (use own)."""
        if self.promotion.source == self.name:
            raise ValueError(
                f"promotion.source '{self.name}' names the environment itself: use 'own' for models it trains "
                "and registers itself"
            )
        return self

    @model_validator(mode="after")
    def _account_required_beyond_dev(self) -> EnvironmentConfig:
        """account may be null in dev only."""
        if self.account is None and self.name != "dev":
            raise ValueError("account is required outside dev (a 12-digit AWS account id, quoted)")
        return self

    @model_validator(mode="after")
    def _protected_data_is_never_destroyed(self) -> EnvironmentConfig:
        """removal_policy destroy is refused in prod and with termination_protection true."""
        if self.removal_policy != "destroy":
            return self
        reasons = []
        if self.name == "prod":
            reasons.append("the environment is prod")
        if self.termination_protection:
            reasons.append("termination_protection is true")
        if reasons:
            raise ValueError(
                f"removal_policy 'destroy' is refused because {' and '.join(reasons)}: destroy deletes the "
                "buckets, tables and keys with their data when a stack is deleted; use removal_policy 'retain'"
            )
        return self

    @property
    def is_destroyable(self) -> bool:
        return self.removal_policy == "destroy"
