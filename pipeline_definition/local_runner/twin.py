"""Stand up a local twin of one environment on a moto server: what CDK would have deployed, plus the raw data.

`prepare_local_twin` creates the zone buckets, the model package group and the feature group, uploads the step
code to `pipeline-code/<code hash>/pipeline_code/` and the SDK's staged files to `pipeline-staging/` (the prefixes
CDK's BucketDeployments use, see stacks/units/training_pipeline.py), marks the ingestion driver's folder and lands
the Adult data in the raw zone.
"""

from __future__ import annotations

import gzip
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from naming import ResourceNames
from pipeline_code import schema
from pipeline_definition.contract import (
    CODE_DIR,
    CODE_PREFIX,
    DATA_SNAPSHOT_PREFIX,
    DEPENDENCIES_PREFIX,
    INGESTION_REQUIREMENTS,
    PLACEHOLDERS,
    ROOT,
    STAGING_DIR,
    STAGING_PREFIX,
    code_files,
    dependencies_hash,
)
from pipeline_definition.fingerprint import code_hash

DATA_DIR = ROOT / "data"  # data/<dataset>/: each data set's shipped files (CSV, gzipped or not)


@dataclass(frozen=True)
class TwinNames:
    """The real names of one environment's deployed resources, on the twin: `resources` (the names CDK deploys,
    `naming.ResourceNames`, in the twin's account and region) and the pipelines' role, which only the twin names."""

    project: str
    environment: str
    region: str
    account: str = "123456789012"
    dataset: str = schema.DEFAULT_DATASET  # the environment's `dataset`
    resources: ResourceNames = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(
            self,
            "resources",
            ResourceNames(self.project, self.environment, self.account, self.region, dataset=self.dataset),
        )

    def bucket(self, zone: str) -> str:
        return self.resources.zone_bucket(zone)

    @property
    def role_arn(self) -> str:
        return f"arn:aws:iam::{self.account}:role/{self.resources.prefix}-pipeline"

    def placeholders(self) -> dict[str, str]:
        """Placeholder value -> real name, for LocalRunner(placeholders=...)."""
        values = {
            "role_arn": self.role_arn,
            "kms_key_arn": f"arn:aws:kms:{self.region}:{self.account}:key/local-twin-lake-key",
            "raw_bucket": self.bucket("raw"),
            "artifacts_bucket": self.bucket("artifacts"),
            "curated_bucket": self.bucket("curated"),
            "feature_group": self.resources.feature_group,
            "model_package_group": self.resources.model_package_group,
            # The twin has no MLflow server: an empty URI is what CDK deploys where tracking is off. A server ARN
            # here made every tracked job (staging/prod) retry the unreachable server for ~4.5 minutes.
            "mlflow_tracking_server_arn": "",
            # The twin has no VPC: jobs run as local processes whatever their NetworkConfig says.
            "subnet_ids": "subnet-0local0twin",
            "security_group_ids": "sg-0local0twin",
        }
        return {placeholder: values[name] for name, placeholder in PLACEHOLDERS.items()}


def prepare_local_twin(
    s3: Any,
    names: TwinNames,
    *,
    sagemaker: Any | None = None,
    land_data: bool = True,
    sample_rows: int | None = None,
    code_dir: Path = CODE_DIR,
    staging_dir: Path = STAGING_DIR,
) -> dict[str, str]:
    """Create what the pipelines expect to exist; returns the placeholders map for LocalRunner."""
    for zone in ("raw", "curated", "features", "artifacts"):
        s3.create_bucket(Bucket=names.bucket(zone), CreateBucketConfiguration={"LocationConstraint": names.region})
    artifacts = names.bucket("artifacts")
    prefix = f"{CODE_PREFIX}/{code_hash(code_dir)}/pipeline_code"
    for path in code_files(code_dir):
        s3.put_object(Bucket=artifacts, Key=f"{prefix}/{path.relative_to(code_dir).as_posix()}", Body=path.read_bytes())
    # The ingestion job's driver folder: CDK deploys the wheels for the image's Python there; on the twin the job
    # runs with this interpreter, which has them, so the folder only names what it would hold.
    s3.put_object(
        Bucket=artifacts,
        Key=f"{DEPENDENCIES_PREFIX}/{dependencies_hash()}/requirements.txt",
        Body="\n".join(INGESTION_REQUIREMENTS).encode() + b"\n",
    )
    staged = staging_dir / STAGING_PREFIX
    for path in sorted(p for p in staged.rglob("*") if p.is_file()):
        s3.put_object(
            Bucket=artifacts, Key=f"{STAGING_PREFIX}/{path.relative_to(staged).as_posix()}", Body=path.read_bytes()
        )
    if land_data:
        land_dataset_files(s3, names, sample_rows=sample_rows)
    if sagemaker is not None:
        dataset = schema.load(names.dataset)
        sagemaker.create_model_package_group(ModelPackageGroupName=names.resources.model_package_group)
        sagemaker.create_feature_group(
            FeatureGroupName=names.resources.feature_group,
            RecordIdentifierFeatureName=dataset.record_identifier_name,
            EventTimeFeatureName=dataset.event_time_name,
            FeatureDefinitions=dataset.feature_store_definitions(),
            OfflineStoreConfig={"S3StorageConfig": {"S3Uri": f"s3://{names.bucket('features')}/offline-store"}},
            RoleArn=names.role_arn,
        )
    return names.placeholders()


def dataset_files(dataset: str) -> list[Path]:
    """The data files shipped for `dataset`, `data/<dataset>/*.gz` and `*.csv`, in name order."""
    folder = DATA_DIR / dataset
    files = sorted(p for p in folder.glob("*") if p.suffix in (".gz", ".csv"))
    if not files:
        raise FileNotFoundError(f"no data file (*.gz, *.csv) in {folder} for data set '{dataset}'")
    return files


def land_dataset_files(s3: Any, names: TwinNames, *, sample_rows: int | None = None) -> list[str]:
    """The data set's files (as shipped) under its raw-zone prefix (`<dataset>/`, where the training pipeline's
    snapshots look); `sample_rows` keeps the first N lines of each (fast tests)."""
    keys = []
    prefix = names.resources.raw_training_prefix
    for path in dataset_files(names.dataset):
        body = path.read_bytes()
        if sample_rows is not None:
            packed = path.suffix == ".gz"
            lines = (gzip.decompress(body) if packed else body).splitlines(keepends=True)
            body = b"".join(lines[:sample_rows])
            body = gzip.compress(body, mtime=0) if packed else body
        s3.put_object(Bucket=names.bucket("raw"), Key=f"{prefix}{path.name}", Body=body)
        keys.append(f"{prefix}{path.name}")
    return keys


def write_data_snapshot(s3: Any, names: TwinNames, prefix: str | None = None) -> str:
    """The data snapshot of every raw object under `prefix`, written by the same code the triggers use
    (`lambdas.shared.adapters.DataSnapshots`: a content-addressed SageMaker manifest under
    `s3://<artifacts>/data-snapshots/`, the training pipeline's InputManifestUri); returns its URI."""
    from lambdas.shared.adapters import DataSnapshots

    snapshots_uri = f"s3://{names.bucket('artifacts')}/{DATA_SNAPSHOT_PREFIX}/"
    return (
        DataSnapshots(
            raw_bucket=names.bucket("raw"),
            prefixes=[prefix or names.resources.raw_training_prefix],
            snapshots_uri=snapshots_uri,
            client=s3,
        )
        .take()
        .uri
    )


_moto_lightened = False


def _lighten_moto() -> None:
    """Two costs moto 5.2.5 pays on work nobody asked for, removed without changing an answer (once per process):

    - its server lists and stats every folder of the moto package on each request, to see whether the Host
      header names a service (`list_of_moto_modules`; ~200 `stat` calls per request): the list is read once;
    - each KMS `CreateKey` generates an RSA-2048 private key, also for a symmetric key, where only Sign, Verify
      and GetPublicKey (refused for such a key) would read it (~0.1 s of CPU per key): generated when first read.
    """
    global _moto_lightened
    if _moto_lightened:
        return
    import moto.backends
    import moto.kms.models

    modules = tuple(moto.backends.list_of_moto_modules())
    moto.backends.list_of_moto_modules = lambda: modules  # the server calls it through the module
    from moto.kms.utils import generate_private_key

    class LazyPrivateKey:
        def __init__(self, key_spec: str) -> None:
            self._key_spec = key_spec
            self._key: Any = None

        def __getattr__(self, name: str) -> Any:  # only for what the instance lacks: the key's own attributes
            if name.startswith("_"):  # (copy and pickle probe before __init__ ran)
                raise AttributeError(name)
            if self._key is None:
                self._key = generate_private_key(self._key_spec)
            return getattr(self._key, name)

    setattr(moto.kms.models, "generate_private_key", LazyPrivateKey)  # noqa: B010  `Key.__init__` reads the module's name
    _moto_lightened = True


@contextmanager
def moto_endpoint() -> Iterator[str]:
    """A moto server on 127.0.0.1 (a free port), its state reset; yields its URL and stops it afterwards."""
    import requests
    from moto.server import ThreadedMotoServer

    _lighten_moto()

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one log line per request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    requests.post(f"{url}/moto-api/reset", timeout=10)
    try:
        yield url
    finally:
        threading.Thread(target=server.stop, daemon=True).start()  # werkzeug waits out a 0.5 s poll


def clients(endpoint_url: str, region: str) -> tuple[Any, Any]:
    """(s3, sagemaker) boto3 clients on the twin, with the fake credentials moto accepts."""
    import boto3
    from botocore.config import Config

    options = {
        "endpoint_url": endpoint_url,
        "region_name": region,
        "aws_access_key_id": "testing",
        "aws_secret_access_key": "testing",
        "config": Config(retries={"max_attempts": 1}),  # moto answers 500 for what it lacks: don't retry that
    }
    return boto3.client("s3", **options), boto3.client("sagemaker", **options)
