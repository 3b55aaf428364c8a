"""Typed, validated environment settings.

`config/environments.yaml` is the only file a person edits. `load_config` merges its `defaults` into each
environment, validates the result with pydantic and returns frozen models; anything wrong becomes one
`ConfigError` whose message names the file, the environment, the key, the bad value and what is allowed.
Nothing here touches AWS: the CDK app reads these models and makes every decision at synth time.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)

DEFAULT_CONFIG_PATH = Path(__file__).with_name("environments.yaml")
ENVIRONMENT_NAMES = ("dev", "staging", "prod")

# SageMaker ML instance families this platform knows how to size. An unknown family is almost always a typo
# (ml.m5x.large) or a family SageMaker doesn't offer for jobs, and it would otherwise surface only at deploy.
INSTANCE_FAMILIES = frozenset(
    {
        "t3", "m5", "m5d", "m6i", "m6id", "m7i", "c5", "c5d", "c6i", "c6id", "c7i", "r5", "r5d", "r6i", "r6id",
        "r7i", "g4dn", "g5", "g6", "g6e", "p3", "p4d", "p5", "inf1", "inf2", "trn1",
    }
)  # fmt: skip
_INSTANCE_TYPE = re.compile(r"^ml\.(?P<family>[a-z0-9]+)\.(?P<size>medium|large|metal|\d*xlarge)$")

# Regions where SageMaker Pipelines, Feature Store and the Model Registry are all available.
REGIONS = frozenset(
    {
        "us-east-1", "us-east-2", "us-west-1", "us-west-2", "ca-central-1", "sa-east-1",
        "eu-west-1", "eu-west-2", "eu-west-3", "eu-central-1", "eu-central-2", "eu-north-1", "eu-south-1",
        "eu-south-2", "ap-south-1", "ap-south-2", "ap-southeast-1", "ap-southeast-2", "ap-southeast-3",
        "ap-southeast-4", "ap-northeast-1", "ap-northeast-2", "ap-northeast-3", "ap-east-1", "me-south-1",
        "me-central-1", "il-central-1", "af-south-1",
    }
)  # fmt: skip

# The values CloudWatch Logs accepts for a log group's retention.
LOG_RETENTION_DAYS = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
)  # fmt: skip


class ConfigError(ValueError):
    """A configuration file is wrong; the message says where and how to fix it."""


# --------------------------------------------------------------------------------------------- value types


def _instance_type(value: str) -> str:
    match = _INSTANCE_TYPE.match(value)
    if not match:
        raise ValueError("must look like 'ml.<family>.<size>', e.g. 'ml.m5.xlarge'")
    if match["family"] not in INSTANCE_FAMILIES:
        raise ValueError(
            f"unknown instance family {match['family']!r}; allowed families: {', '.join(sorted(INSTANCE_FAMILIES))}"
        )
    return value


def _account_id(value: object) -> object:
    if isinstance(value, int) and not isinstance(value, bool):
        # YAML reads an unquoted 012345678901 as the number 12345678901: the leading zero is lost silently.
        raise ValueError("must be a quoted string of 12 digits (YAML drops leading zeros from bare numbers)")
    return value


def _region(value: str) -> str:
    if value not in REGIONS:
        raise ValueError(f"unknown region; allowed regions: {', '.join(sorted(REGIONS))}")
    return value


def _log_retention(value: int) -> int:
    if value not in LOG_RETENTION_DAYS:
        raise ValueError(f"CloudWatch Logs accepts only {', '.join(map(str, LOG_RETENTION_DAYS))}")
    return value


_CRON_FIELDS = (
    # name, number range, extra literal tokens, extra special characters
    ("minutes", (0, 59), (), ""),
    ("hours", (0, 23), (), ""),
    ("day-of-month", (1, 31), ("L", "LW"), "?W"),
    ("month", (1, 12), ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"), ""),
    ("day-of-week", (1, 7), ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT", "L"), "?#L"),
    ("year", (1970, 2199), (), ""),
)
_RATE = re.compile(r"^rate\((?P<n>[1-9]\d*) (?P<unit>minute|minutes|hour|hours|day|days)\)$")


def _cron_atom_ok(atom: str, bounds: tuple[int, int], words: tuple[str, ...], specials: str) -> bool:
    if atom == "*" or atom in words:
        return True
    if "#" in atom and "#" in specials:  # 6#3: the third Friday
        day, _, nth = atom.partition("#")
        return _cron_atom_ok(day, bounds, words, "") and nth.isdigit() and 1 <= int(nth) <= 5
    if atom.endswith("W") and "W" in specials:
        atom = atom[:-1]
    if atom.endswith("L") and "L" in specials and len(atom) > 1:
        atom = atom[:-1]
    base, slash, step = atom.partition("/")
    if slash and not (step.isdigit() and int(step) > 0):
        return False
    lo, dash, hi = base.partition("-")
    parts = [lo, hi] if dash else [lo]
    if slash and base == "*":
        return True
    return all(p in words or (p.isdigit() and bounds[0] <= int(p) <= bounds[1]) for p in parts)


def _schedule(value: str) -> str:
    """Validate an EventBridge (Scheduler) `cron(...)` or `rate(...)` expression."""
    if _RATE.match(value):
        n, unit = _RATE.match(value).group("n", "unit")  # type: ignore[union-attr]
        if (n == "1") != (not unit.endswith("s")):
            raise ValueError("use a singular unit for 1 and a plural one otherwise, e.g. 'rate(1 day)', 'rate(7 days)'")
        return value
    if not (value.startswith("cron(") and value.endswith(")")):
        raise ValueError("must be 'cron(min hour day-of-month month day-of-week year)' or 'rate(N unit)'")
    fields = value[5:-1].split()
    if len(fields) != 6:
        raise ValueError(f"cron needs 6 fields (min hour day-of-month month day-of-week year), got {len(fields)}")
    for text, (name, bounds, words, specials) in zip(fields, _CRON_FIELDS, strict=True):
        if text == "?" and "?" in specials:
            continue
        if not all(_cron_atom_ok(atom, bounds, words, specials) for atom in text.split(",")):
            raise ValueError(f"cron field {name} {text!r} is not valid (allowed {bounds[0]}-{bounds[1]}, * , - /)")
    if (fields[2] == "?") == (fields[4] == "?"):
        raise ValueError("cron needs '?' in exactly one of day-of-month and day-of-week")
    return value


InstanceType = Annotated[str, AfterValidator(_instance_type)]
AccountId = Annotated[str, BeforeValidator(_account_id), Field(pattern=r"^\d{12}$")]
Region = Annotated[str, AfterValidator(_region)]
Schedule = Annotated[str, AfterValidator(_schedule)]
Fraction = Annotated[float, Field(ge=0.0, le=1.0)]
PositiveInt = Annotated[int, Field(gt=0)]
PositiveFloat = Annotated[float, Field(gt=0)]
Days = Annotated[int, Field(ge=1, le=36500)]
TagValue = Annotated[str, Field(min_length=1, max_length=256, pattern=r"^[\w\s.:/=+\-@]*$")]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


# -------------------------------------------------------------------------------------------------- sections


class DataLakeSettings(_Section):
    transition_to_infrequent_access_days: Annotated[int, Field(ge=30)]  # S3 rejects IA transitions before 30 days
    transition_to_glacier_days: Days
    noncurrent_version_expiration_days: Days
    access_log_retention_days: Days

    @model_validator(mode="after")
    def _glacier_after_ia(self) -> DataLakeSettings:
        if self.transition_to_glacier_days <= self.transition_to_infrequent_access_days:
            raise ValueError(
                "transition_to_glacier_days must be greater than transition_to_infrequent_access_days "
                f"({self.transition_to_glacier_days} <= {self.transition_to_infrequent_access_days})"
            )
        return self


class ProcessingSettings(_Section):
    instance_type: InstanceType
    instance_count: Annotated[int, Field(ge=1, le=100)]
    volume_size_gb: Annotated[int, Field(ge=1, le=16384)]
    max_runtime_seconds: Annotated[int, Field(ge=60, le=432000)]


class Hyperparameters(_Section):
    num_round: Annotated[int, Field(ge=1, le=10000)]
    max_depth: Annotated[int, Field(ge=1, le=20)]
    eta: Annotated[float, Field(gt=0, le=1)]
    subsample: Annotated[float, Field(gt=0, le=1)]
    min_child_weight: Annotated[float, Field(ge=0)]


class TrainingSettings(_Section):
    instance_type: InstanceType
    instance_count: Annotated[int, Field(ge=1, le=100)]
    volume_size_gb: Annotated[int, Field(ge=1, le=16384)]
    use_spot_instances: bool
    max_runtime_seconds: Annotated[int, Field(ge=60, le=2419200)]
    max_wait_seconds: Annotated[int, Field(ge=60, le=2419200)]
    hyperparameters: Hyperparameters

    @model_validator(mode="after")
    def _wait_covers_runtime(self) -> TrainingSettings:
        if self.use_spot_instances and self.max_wait_seconds < self.max_runtime_seconds:
            raise ValueError(
                "max_wait_seconds must be >= max_runtime_seconds with spot instances "
                f"({self.max_wait_seconds} < {self.max_runtime_seconds})"
            )
        return self


class TuningSettings(_Section):
    enabled: bool
    max_jobs: Annotated[int, Field(ge=1, le=500)]
    max_parallel_jobs: Annotated[int, Field(ge=1, le=100)]

    @model_validator(mode="after")
    def _parallel_within_total(self) -> TuningSettings:
        if self.max_parallel_jobs > self.max_jobs:
            raise ValueError(f"max_parallel_jobs ({self.max_parallel_jobs}) must be <= max_jobs ({self.max_jobs})")
        return self


class InferenceSettings(_Section):
    mode: Literal["serverless", "instance"]
    instance_type: InstanceType
    initial_instance_count: Annotated[int, Field(ge=1, le=100)]
    min_capacity: Annotated[int, Field(ge=1, le=100)]
    max_capacity: Annotated[int, Field(ge=1, le=100)]
    target_invocations_per_instance: PositiveInt
    serverless_memory_mb: Literal[1024, 2048, 3072, 4096, 5120, 6144]
    serverless_max_concurrency: Annotated[int, Field(ge=1, le=200)]
    data_capture_sampling_percent: Annotated[int, Field(ge=0, le=100)]

    @model_validator(mode="after")
    def _capacity_bounds(self) -> InferenceSettings:
        if not self.min_capacity <= self.initial_instance_count <= self.max_capacity:
            raise ValueError(
                "need min_capacity <= initial_instance_count <= max_capacity "
                f"(got {self.min_capacity}, {self.initial_instance_count}, {self.max_capacity})"
            )
        return self


class MonitoringSettings(_Section):
    backend: Literal["custom", "model-monitor"]
    instance_type: InstanceType
    instance_count: Annotated[int, Field(ge=1, le=100)]
    schedule: Schedule
    window_hours: Annotated[int, Field(ge=1, le=720)]  # how much captured data one monitoring run looks at
    # What the custom monitoring checks: the endpoint's data capture, or the batch pipeline's predictions.
    source: Literal["capture", "batch"]


class Thresholds(_Section):
    min_auc: Fraction
    min_f1: Fraction
    max_cost_per_1000: Annotated[float, Field(ge=0)]
    false_positive_cost: Annotated[float, Field(ge=0)]
    false_negative_cost: Annotated[float, Field(ge=0)]
    min_disparate_impact: Fraction
    drift_psi: PositiveFloat
    drift_jensen_shannon: Fraction


class Schedules(_Section):
    batch_inference: Schedule
    retraining: Schedule


class RetrainingSettings(_Section):
    cooldown_hours: Annotated[int, Field(ge=0, le=8760)]
    min_new_rows: PositiveInt
    min_new_bytes: PositiveInt


class FeatureStoreSettings(_Section):
    online_store: bool  # low-latency reads of the latest record; the offline store (S3 + Glue) is always on


class ModelRegistrySettings(_Section):
    # Accounts allowed to read (describe, list) this environment's model packages: cross-account promotion.
    cross_account_readers: list[AccountId]


class PipelineSettings(_Section):
    # Add SageMaker's own QualityCheckStep and ClarifyCheckStep, for accounts that still have Model Monitor and
    # Clarify (both closed to new AWS customers); the project's own checks always run.
    native_checks: bool


class ExperimentTrackingSettings(_Section):
    enabled: bool  # a SageMaker managed MLflow tracking server that the steps log to
    server_size: Literal["Small", "Medium", "Large"]


class PromotionSettings(_Section):
    # true: the promotion state machine waits for a person (a Step Functions task token) before deploying.
    manual_approval: bool
    approval_timeout_hours: Annotated[int, Field(ge=1, le=8760)]
    in_service_timeout_minutes: Annotated[int, Field(ge=5, le=180)]  # bound on waiting for InService
    smoke_test_rows: Annotated[int, Field(ge=1, le=100)]  # real rows sent to a new endpoint before it counts
    # endpoint configs (each with its model) kept after a promotion, the live one included; older ones are deleted
    keep_endpoint_configs: Annotated[int, Field(ge=2, le=50)]


class AlertSettings(_Section):
    email: Annotated[str, Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")] | None  # alarms and approvals waiting


class EnvironmentConfig(_Section):
    """Everything one environment (dev, staging or prod) is built from."""

    name: Literal["dev", "staging", "prod"]
    account: AccountId | None
    region: Region
    removal_policy: Literal["retain", "destroy"]
    termination_protection: bool
    log_retention_days: Annotated[int, AfterValidator(_log_retention)]
    tags: dict[Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[\w.:/=+\-@]+$")], TagValue]
    data_lake: DataLakeSettings
    processing: ProcessingSettings
    training: TrainingSettings
    tuning: TuningSettings
    inference: InferenceSettings
    monitoring: MonitoringSettings
    thresholds: Thresholds
    schedules: Schedules
    retraining: RetrainingSettings
    feature_store: FeatureStoreSettings
    model_registry: ModelRegistrySettings
    pipeline: PipelineSettings
    experiment_tracking: ExperimentTrackingSettings
    promotion: PromotionSettings
    alerts: AlertSettings

    @model_validator(mode="after")
    def _serverless_endpoints_capture_nothing(self) -> EnvironmentConfig:
        if self.inference.mode == "serverless" and self.monitoring.source == "capture":
            raise ValueError(
                "monitoring.source 'capture' needs inference.mode 'instance': serverless endpoints support no data "
                "capture (use monitoring.source 'batch', or an instance endpoint)"
            )
        return self

    @model_validator(mode="after")
    def _model_monitor_has_what_it_reads(self) -> EnvironmentConfig:
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
    def _account_required_beyond_dev(self) -> EnvironmentConfig:
        if self.account is None and self.name != "dev":
            raise ValueError("account is required outside dev (a 12-digit AWS account id, quoted)")
        return self

    @property
    def is_destroyable(self) -> bool:
        return self.removal_policy == "destroy"


_CONNECTION_ARN = r"^arn:aws[a-z-]*:(codeconnections|codestar-connections):[a-z0-9-]+:\d{12}:connection/[0-9a-f-]+$"
_REPOSITORY_BY_PROVIDER = {
    # Why a shape per provider: a CodeConnections source names `owner/name`, CodeCommit only a name; a wrong
    # shape is accepted by CloudFormation and fails only when the first release tries to fetch the source.
    "codeconnections": (re.compile(r"^[\w.-]+/[\w.-]+$"), "'owner/name', e.g. 'example-org/mlops-platform'"),
    "codecommit": (re.compile(r"^[\w.-]+$"), "a CodeCommit repository name, e.g. 'mlops-platform'"),
}


class ReleaseSourceSettings(_Section):
    """Where the release pipeline gets the code. Keys of the other providers are ignored, not errors."""

    provider: Literal["codeconnections", "codecommit", "s3"]
    connection_arn: Annotated[str, Field(pattern=_CONNECTION_ARN)] | None = None
    repository: str | None = None
    branch: Annotated[str, Field(min_length=1)] | None = None
    bucket: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")] | None = None
    object_key: Annotated[str, Field(min_length=1)] | None = None

    @model_validator(mode="after")
    def _shape_fits_provider(self) -> ReleaseSourceSettings:
        if self.provider == "s3":
            if not (self.bucket and self.object_key):
                raise ValueError("provider 's3' needs bucket and object_key (the zipped source)")
            return self
        pattern, allowed = _REPOSITORY_BY_PROVIDER[self.provider]
        if self.repository is None or not pattern.match(self.repository):
            raise ValueError(f"provider {self.provider!r} needs repository as {allowed}, got {self.repository!r}")
        if self.branch is None:
            raise ValueError(f"provider {self.provider!r} needs a branch")
        return self


class ReleaseSettings(_Section):
    """The GitOps release pipeline (issue #6). Optional: only `-c release=true` needs it complete.

    Account, connection and e-mail may stay null in a shared config file, so that local synths and deploys
    work before a tooling account exists; `PlatformConfig.require_release` names what is still missing.
    """

    account: AccountId | None = None
    region: Region
    source: ReleaseSourceSettings
    notification_email: Annotated[str, Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")] | None = None


class PlatformConfig(_Section):
    # At most 16 characters: zone bucket names are `<project>-<env>-<zone>-<account>-<region>`, 63 at most.
    project_name: Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]{1,15}$")]
    environments: dict[str, EnvironmentConfig]
    release: ReleaseSettings | None = None
    # The file this config was read from: errors found only when the release stack is asked for name it too.
    config_file: str = "config/environments.yaml"

    def environment(self, name: str) -> EnvironmentConfig:
        try:
            return self.environments[name]
        except KeyError:
            raise ConfigError(f"unknown environment {name!r}; allowed: {', '.join(self.environments)}") from None

    def require_release(self) -> ReleaseSettings:
        """The release settings, complete; else a `ConfigError` naming every missing value.

        Called only when the release stack is asked for (`-c release=true`), so that a config without a tooling
        account or connection still synthesizes and deploys the environments locally.
        """
        where = self.config_file
        release = self.release
        if release is None:
            raise ConfigError(
                f"invalid configuration:\n  {where}: key 'release' is missing: the release pipeline (-c release=true) "
                "needs a 'release' section with account, region, source and notification_email "
                "(README, 'Release pipeline (GitOps)')"
            )
        missing: list[tuple[str, str]] = []
        if release.account is None:
            missing.append(("release.account", "the tooling account that hosts the pipeline (quoted 12 digits)"))
        if release.source.provider == "codeconnections" and release.source.connection_arn is None:
            missing.append(
                (
                    "release.source.connection_arn",
                    "the ARN of an available CodeConnections connection, "
                    "arn:aws:codeconnections:<region>:<account>:connection/<id>",
                )
            )
        if release.notification_email is None:
            missing.append(("release.notification_email", "an address for failed releases and waiting approvals"))
        problems = [f"{where}: key '{key}' has value None: the release pipeline needs {what}" for key, what in missing]
        problems += [
            f"{where}: environment '{name}': key 'account' has value None: the release pipeline deploys every "
            "environment into a named account (a quoted 12-digit AWS account id)"
            for name, environment in self.environments.items()
            if environment.account is None
        ]
        if problems:
            raise ConfigError("invalid configuration:\n  " + "\n  ".join(problems))
        return release


# ---------------------------------------------------------------------------------------------------- loading


def _deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    merged = copy.deepcopy(dict(base))
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def _allowed_keys(model: type[BaseModel], loc: tuple[str | int, ...]) -> list[str]:
    """The field names of the section that `loc` (ending in the offending key) points into."""
    for part in loc[:-1]:
        annotation = model.model_fields[str(part)].annotation if str(part) in model.model_fields else None
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return []
        model = annotation
    return [name for name in model.model_fields if name != "name"]


def _describe(
    error: Mapping[str, Any], where: str, *, model: type[BaseModel] = EnvironmentConfig, key_prefix: str = ""
) -> str:
    loc = tuple(error["loc"])
    key = ".".join([*([key_prefix] if key_prefix else []), *(str(p) for p in loc)]) or "(top level)"
    kind = error["type"]
    if kind == "missing":
        return f"{where}: key '{key}' is missing (required)"
    if kind == "extra_forbidden":
        allowed = _allowed_keys(model, loc)
        return f"{where}: key '{key}' is not allowed; allowed keys here: {', '.join(allowed)}"
    message = str(error["msg"]).removeprefix("Value error, ")
    value = error.get("input")
    if isinstance(value, Mapping):  # a cross-field check: the model itself is the input
        return f"{where}: section '{key}' is not valid: {message}"
    return f"{where}: key '{key}' has value {value!r}: {message}"


def load_config(path: Path | str = DEFAULT_CONFIG_PATH) -> PlatformConfig:
    """Read, merge and validate the environment file; raise `ConfigError` listing every problem."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the config file: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: must be a mapping with keys project_name, defaults, environments")

    problems: list[str] = []
    unknown_top = sorted(set(raw) - {"project_name", "defaults", "environments", "release"})
    problems += [
        f"{path}: key '{k}' is not allowed; allowed keys: project_name, defaults, environments, release"
        for k in unknown_top
    ]
    defaults = raw.get("defaults") or {}
    environments = raw.get("environments")
    if not isinstance(defaults, dict):
        problems.append(f"{path}: key 'defaults' must be a mapping, got {defaults!r}")
        defaults = {}
    if not isinstance(environments, dict):
        raise ConfigError(
            "\n".join([*problems, f"{path}: key 'environments' must map dev, staging and prod to settings"])
        )

    for name in environments:
        if name not in ENVIRONMENT_NAMES:
            problems.append(
                f"{path}: unknown environment {name!r}; allowed environments: {', '.join(ENVIRONMENT_NAMES)}"
            )
    for name in ENVIRONMENT_NAMES:
        if name not in environments:
            problems.append(f"{path}: environment {name!r} is missing (required: {', '.join(ENVIRONMENT_NAMES)})")

    validated: dict[str, EnvironmentConfig] = {}
    for name in ENVIRONMENT_NAMES:
        if name not in environments:
            continue
        overrides = environments[name] or {}
        if not isinstance(overrides, dict):
            problems.append(f"{path}: environment '{name}' must be a mapping, got {overrides!r}")
            continue
        merged = _deep_merge(defaults, overrides)
        merged["name"] = name
        try:
            validated[name] = EnvironmentConfig.model_validate(merged)
        except ValidationError as exc:
            problems += [_describe(err, f"{path}: environment '{name}'") for err in exc.errors()]

    release: ReleaseSettings | None = None
    if raw.get("release") is not None:
        try:
            release = ReleaseSettings.model_validate(raw["release"])
        except ValidationError as exc:
            problems += [_describe(err, str(path), model=ReleaseSettings, key_prefix="release") for err in exc.errors()]

    try:
        config = PlatformConfig.model_validate(
            {
                "project_name": raw.get("project_name"),
                "environments": validated,
                "release": release,
                "config_file": str(path),
            }
        )
    except ValidationError as exc:
        problems += [_describe(err, str(path)) for err in exc.errors() if err["loc"][0] == "project_name"]
    if problems:
        raise ConfigError("invalid configuration:\n  " + "\n  ".join(problems))
    return config
