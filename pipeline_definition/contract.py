"""What the pipeline definition and the CDK app agree on: placeholders, S3 prefixes, file locations.

Resource names (pipelines, the endpoint, the groups, SSM parameters) are in `naming` (`ResourceNames`).

Standard library only (the config model is imported for type checking only): the CDK app imports this on every
synth, the builder (with the SDK) only when generating, and the release's CodeBuild steps, which install boto3
and nothing else, for the code hash and the data-snapshot prefixes.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from config import EnvironmentConfig

PACKAGE_DIR = Path(__file__).resolve().parent
ROOT = PACKAGE_DIR.parent
CODE_DIR = ROOT / "pipeline_code"
# The committed definitions; MLOPS_DEFINITIONS_DIR points the app, the twin and the runner at definitions built
# elsewhere (`generate --out`): the tests' second data set, whose config no committed definition matches.
GENERATED_DIR = Path(os.environ.get("MLOPS_DEFINITIONS_DIR") or PACKAGE_DIR / "generated")
STAGING_DIR = GENERATED_DIR / "staging"  # what the SDK "uploaded" (its training drivers), shipped by CDK

STAGING_PREFIX = "pipeline-staging"  # the artifacts-zone prefix of STAGING_DIR's contents
CODE_PREFIX = "pipeline-code"  # the artifacts-zone prefix of pipeline_code/, one folder per code hash
OUTPUT_PREFIX = "pipeline-runs"  # step outputs, models and checkpoints, per execution
# Operations: what the promotion, monitoring and batch pipelines and the alarms agree on (naming.ResourceNames).
DATA_CAPTURE_PREFIX = "data-capture"  # endpoint data capture: <prefix>/<endpoint>/<variant>/yyyy/mm/dd/hh/
GROUND_TRUTH_PREFIX = "ground-truth"  # labels uploaded later, Model Monitor's ground-truth layout
MONITORING_REPORTS_PREFIX = "monitoring/reports"
#: the newest monitoring run's report.html, copied here by the drift check (alarm e-mails and the dashboard link it)
LATEST_REPORT_KEY = f"{MONITORING_REPORTS_PREFIX}/latest/report.html"
BATCH_PREDICTIONS_PREFIX = "batch-predictions"  # in the curated zone

# Training data: every run reads an immutable manifest of the raw zone's objects under the data set's prefix
# (`<dataset>/`, `naming.EnvironmentNames.raw_training_prefix`) and the labelled feedback the monitoring pipeline
# writes (`snapshot_prefixes`), written to the artifacts zone under DATA_SNAPSHOT_PREFIX by whoever starts the run
# (lambdas/shared/snapshot.py).
FEEDBACK_PREFIX = "feedback/"  # s3://<raw>/feedback/yyyy/mm/dd/<window end>.csv, the data set's raw layout
DATA_SNAPSHOT_PREFIX = "data-snapshots"  # s3://<artifacts>/data-snapshots/<sha256 16 hex>.manifest

# Third-party packages a job needs beyond the SageMaker Distribution image: the ingestion's PostgreSQL driver.
# CDK installs them for the image's Python (3.12, manylinux x86_64) and deploys them under
# DEPENDENCIES_PREFIX/<dependencies_hash()>/; the job finds them on its PYTHONPATH (stacks/units/ingestion.py).
DEPENDENCIES_PREFIX = "pipeline-deps"
INGESTION_REQUIREMENTS = ("psycopg==3.3.9", "psycopg-binary==3.3.9")
DEPENDENCIES_PLATFORM = ("manylinux2014_x86_64", "3.12")  # pip --platform, --python-version


def dependencies_hash(requirements: tuple[str, ...] = INGESTION_REQUIREMENTS) -> str:
    """The folder of a set of pinned requirements (16 hex): a new pin is a new folder, runs in flight keep theirs."""
    spec = "\n".join([*requirements, *DEPENDENCIES_PLATFORM])
    return hashlib.sha256(spec.encode()).hexdigest()[:16]


# What of pipeline_code/ is not shipped to the jobs (and so does not make a new code version): caches and docs.
CODE_EXCLUDE = ("__pycache__", "*.pyc", "*.pyo", "*.md", ".pytest_cache", ".mypy_cache", ".ruff_cache")


def code_files(code_dir: Path = CODE_DIR) -> list[Path]:
    """The files of `code_dir` that are deployed as the step code, in a stable order."""
    return sorted(
        path
        for path in code_dir.rglob("*")
        if path.is_file()
        and not any(path.match(pattern) or pattern in path.relative_to(code_dir).parts for pattern in CODE_EXCLUDE)
    )


def code_hash(code_dir: Path = CODE_DIR) -> str:
    """The one content hash of the step code (16 hex): the S3 prefix CDK deploys it under, the definition's
    fingerprint and lineage, and what the release's code-change trigger compares. Files that are not deployed
    (README, caches) are left out, so editing them makes no new code version and starts no retrain."""
    if not code_dir.is_dir():
        raise ValueError(f"{code_dir} is not a directory: cannot hash the step code")
    files = code_files(code_dir)
    if not files:
        raise ValueError(f"{code_dir} holds no code file: refusing to hash an empty tree")
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.relative_to(code_dir).as_posix().encode())
        digest.update(b"\0")
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


@dataclass(frozen=True)
class Placeholders:
    """Deploy-time values in the definition, replaced by CDK tokens at synth.

    Shaped like the real values (an ARN, a bucket name) so the SDK's own validation accepts them, and unique
    enough that a plain string replacement cannot hit anything else.
    """

    role_arn: str = "arn:aws:iam::000000000000:role/placeholder-pipeline-execution-role"
    kms_key_arn: str = "arn:aws:kms:us-east-1:000000000000:key/placeholder-lake-key"
    raw_bucket: str = "placeholder-raw-bucket"
    artifacts_bucket: str = "placeholder-artifacts-bucket"
    curated_bucket: str = "placeholder-curated-bucket"
    feature_group: str = "placeholder-feature-group"
    model_package_group: str = "placeholder-model-package-group"
    mlflow_tracking_server_arn: str = "arn:aws:sagemaker:us-east-1:000000000000:mlflow-tracking-server/placeholder"
    # Lists: the JSON string holding one of these becomes the list's strings (`"a","b"`), see `LIST_PLACEHOLDERS`.
    subnet_ids: str = "subnet-00000000placeholder"
    security_group_ids: str = "sg-00000000placeholder"

    def items(self) -> list[tuple[str, str]]:
        return [(field.name, getattr(self, field.name)) for field in fields(self)]


PLACEHOLDERS = Placeholders()
# The placeholders that stand for a list of values: each JSON string `"<placeholder>"` is replaced by the strings of
# the list, `"<first>","<second>"`, in a list (VpcConfig) and in a step's arguments (one argument per value).
LIST_PLACEHOLDERS = (PLACEHOLDERS.subnet_ids, PLACEHOLDERS.security_group_ids)

# Where the environment has a network (`network.mode` create or import), every job runs in its subnets with its
# security group and inter-container traffic encryption; a job that calls nothing from inside its container (its
# inputs and outputs are moved by SageMaker) also runs network-isolated. What each step calls, as the interface
# endpoints of `config.INTERFACE_ENDPOINTS` (S3 through the gateway endpoint):
STEP_CALLS: dict[str, tuple[str, ...]] = {
    "IngestFeatures": ("sagemaker-featurestore-runtime",),  # BatchGetRecord, PutRecord per new row
    "ResolveModel": ("sagemaker-api",),  # ListModelPackages, DescribeModel, CreateModel
    "GatherMonitoringInputs": ("s3", "ssm", "sagemaker-api"),  # the window, the live model, its package
    "CheckDrift": ("s3", "monitoring", "events"),  # the report, PutMetricData, PutEvents
}
# ... and where experiment tracking is on, the steps that log to MLflow (pipeline_code.tracking.log_step) call it.
TRACKED_STEPS = ("TrainModel", "TuneModel", "EvaluateModel", "CheckBiasAndExplain")
TRACKING_CALLS = ("sagemaker-experiments", "s3")  # the server, and its artifact store in the artifacts zone


def step_calls(step: str, *, experiment_tracking: bool) -> tuple[str, ...]:
    """What `step`'s job calls from inside its container; empty: it can run network-isolated."""
    tracked = TRACKING_CALLS if experiment_tracking and step in TRACKED_STEPS else ()
    return tuple(dict.fromkeys((*STEP_CALLS.get(step, ()), *tracked)))


# The SageMaker pipelines built for every environment; "monitoring" is deployed only for the custom backend,
# "ingestion" only where the environment configures a source (`ingestion`).
PIPELINES = ("training", "monitoring", "batch-inference", "ingestion")


def pipelines_of(environment: EnvironmentConfig) -> tuple[str, ...]:
    """The pipelines CDK deploys for `environment`."""
    deployed = {
        "monitoring": environment.monitoring.backend == "custom",
        "ingestion": environment.ingestion is not None,
    }
    return tuple(p for p in PIPELINES if deployed.get(p, True))


def definition_path(environment: str, pipeline: str = "training") -> Path:
    return GENERATED_DIR / f"{environment}-{pipeline}.json"


def fingerprint_path(environment: str) -> Path:
    return GENERATED_DIR / f"{environment}.fingerprint"
