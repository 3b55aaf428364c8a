"""The PostgreSQL ingestion against a real PostgreSQL server (tests/postgres_server.py) and a local moto server.

One PostgreSQL server per test run (a session fixture: if it cannot start, every test here errors, none is
skipped); each test gets its own source table, raw bucket and state table, so tests never see each other's rows.
The source rows are real Adult rows (the shipped data), so what the job writes can be put through the training
pipeline's own validation.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import tempfile
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

from pipeline_code import schema
from pipeline_code.ingest import IngestReport, run_ingestion
from pipeline_code.ingest_objects import RawZone
from pipeline_code.ingest_postgres import connect
from pipeline_code.ingest_settings import IngestSettings, parse_settings
from pipeline_code.ingest_state import StateStore
from tests.moto_server import moto_server, point_boto3_at
from tests.postgres_server import INGEST_PASSWORD, INGEST_USER, Postgres, start_postgres
from twin.api_contract import validate_every_client

REGION = "eu-west-1"
ADULT = Path(__file__).resolve().parents[2] / "data" / "adult" / "adult.data.gz"
# The source table's columns: the Adult features with SQL names, the label as `income`, an id and a timestamp.
SOURCE_COLUMNS = {raw: raw.replace("-", "_") for raw in schema.RAW_COLUMNS} | {schema.RAW_LABEL: "income"}
MAPPING = {raw: source for raw, source in SOURCE_COLUMNS.items() if raw != source}
_TYPES = {c.raw_name: "integer" if isinstance(c, schema.NumericColumn) else "text" for c in schema.FEATURES}
EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture(scope="session")
def postgres(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> Postgres:
    """The run's PostgreSQL server, shared by the xdist workers through its data folder.

    Not under pytest's own temporary root: pytest makes that folder private (0700) at every session start, and
    the server runs as another user, so a second pytest session on the machine would lock the server out of
    its files mid-run. The folder is named after the run's root, so the workers of one run share it."""
    run = tmp_path_factory.getbasetemp() if worker_id == "master" else tmp_path_factory.getbasetemp().parent
    digest = hashlib.sha256(str(run.resolve()).encode()).hexdigest()[:12]
    return start_postgres(Path(tempfile.gettempdir()) / f"mlops-postgres-{digest}", run / "postgres-setup.lock")


@pytest.fixture(scope="session")
def adult_rows() -> list[tuple[Any, ...]]:
    """The first 2,000 Adult training rows as typed tuples in raw-column order (None where the file says '?')."""
    with gzip.open(ADULT, "rt") as file:
        reader = csv.reader(file, skipinitialspace=True)
        next(reader)
        rows = []
        for record, _ in zip(reader, range(2000), strict=False):
            values = [None if v == schema.MISSING_TOKEN else v for v in record]
            rows.append(tuple(int(v) if v is not None and _TYPES.get(raw) == "integer" else v
                              for raw, v in zip(schema.RAW_COLUMNS, values, strict=True)))  # fmt: skip
    return rows


@pytest.fixture(scope="package")
def moto_endpoint() -> Iterator[str]:
    with moto_server() as url:
        yield url


@pytest.fixture(scope="package")
def aws(moto_endpoint: str) -> Iterator[dict[str, Any]]:
    """boto3 clients on moto, and the environment the job's own clients read; every request checked against
    botocore's model before it is sent."""
    with pytest.MonkeyPatch.context() as patch:
        point_boto3_at(patch, moto_endpoint, REGION)
        validate_every_client(patch)
        config = Config(retries={"max_attempts": 1})
        yield {
            name: boto3.client(name, endpoint_url=moto_endpoint, region_name=REGION, config=config)
            for name in ("s3", "dynamodb", "ssm", "secretsmanager", "sagemaker")
        }


@dataclass
class SourceTable:
    """One test's source table: Adult rows with an id and an `updated_at` watermark."""

    postgres: Postgres
    name: str
    watermark_type: str = "timestamptz"

    def create(self) -> SourceTable:
        columns = ", ".join(f'"{SOURCE_COLUMNS[raw]}" {_TYPES.get(raw, "text")}' for raw in schema.RAW_COLUMNS)
        with self.postgres.admin() as admin:
            admin.execute(
                f'CREATE TABLE "{self.name}" (id bigint GENERATED ALWAYS AS IDENTITY, {columns}, '
                f"updated_at {self.watermark_type} NOT NULL)"
            )
            admin.execute(f'CREATE INDEX ON "{self.name}" (updated_at)')
        return self

    def insert(self, rows: Sequence[tuple[Any, ...]], at: Sequence[Any]) -> None:
        """COPY `rows` in, with watermark values `at` (one per row)."""
        names = ", ".join(f'"{SOURCE_COLUMNS[raw]}"' for raw in schema.RAW_COLUMNS)
        statement = f'COPY "{self.name}" ({names}, updated_at) FROM STDIN'
        with self.postgres.admin() as admin, admin.cursor() as cursor, cursor.copy(statement) as copy:
            for row, moment in zip(rows, at, strict=True):
                copy.write_row((*row, moment))

    def execute(self, statement: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self.postgres.admin() as admin, admin.cursor() as cursor:
            cursor.execute(statement.replace("{table}", f'"{self.name}"'), params)
            return cursor.fetchall() if cursor.description else []


def hours(*offsets: float, start: datetime = EPOCH) -> list[datetime]:
    return [start + timedelta(hours=h) for h in offsets]


@dataclass
class Lake:
    """One test's raw zone and state table on moto, and how the job is run against them."""

    aws: dict[str, Any]
    postgres: Postgres
    settings: IngestSettings
    bucket: str
    table: str
    part_bytes: int = 16 << 20
    reports: list[IngestReport] = field(default_factory=list)

    @property
    def zone(self) -> RawZone:
        return RawZone(self.aws["s3"], self.bucket, "adult/", self.settings.source_name, part_bytes=self.part_bytes)

    @property
    def store(self) -> StateStore:
        return StateStore(self.aws["dynamodb"], self.table, self.settings.source_name)

    def run(
        self, *, password: str = INGEST_PASSWORD, owner: str = "test-run", zone: RawZone | None = None,
        store: StateStore | None = None, **overrides: Any,
    ) -> IngestReport:  # fmt: skip
        """One run of the job (`overrides`: settings fields, e.g. batch_rows)."""
        settings = replace(self.settings, **overrides)
        report = run_ingestion(
            settings,
            open_connection=lambda: connect(settings, INGEST_USER, password),
            store=store or self.store,
            zone=zone or self.zone,
            owner=owner,
            lease_seconds=600,
            log=lambda _: None,
        )
        self.reports.append(report)
        return report

    def keys(self, prefix: str = "") -> list[str]:
        listed = self.aws["s3"].list_objects_v2(Bucket=self.bucket, Prefix=prefix)
        return sorted(item["Key"] for item in listed.get("Contents", []))

    def data_keys(self) -> list[str]:
        return self.keys("adult/")

    def read(self, key: str) -> bytes:
        body: bytes = self.aws["s3"].get_object(Bucket=self.bucket, Key=key)["Body"].read()
        return body

    def rows(self) -> list[dict[str, str]]:
        """Every data row in the raw zone (all batch files), as the CSV says it."""
        rows: list[dict[str, str]] = []
        for key in self.data_keys():
            rows += list(csv.DictReader(io.StringIO(self.read(key).decode())))
        return rows

    def manifest(self, number: int) -> dict[str, Any]:
        document: dict[str, Any] = json.loads(self.read(self.zone.manifest_key(number)))
        return document

    def state(self) -> dict[str, Any]:
        item: dict[str, Any] = (
            self.aws["dynamodb"]
            .get_item(TableName=self.table, Key={"source": {"S": self.settings.source_name}}, ConsistentRead=True)
            .get("Item", {})
        )
        return item


@pytest.fixture
def source(postgres: Postgres) -> SourceTable:
    return SourceTable(postgres, f"adult_{uuid.uuid4().hex[:10]}").create()


def settings_for(postgres: Postgres, table: str, **extra: Any) -> IngestSettings:
    document: dict[str, Any] = {
        "source_name": "adult-db",
        "host": postgres.socket_dir,
        "port": postgres.port,
        "database": postgres.database,
        "secret_arn": f"arn:aws:secretsmanager:{REGION}:123456789012:secret:adult-db-abcdef",
        "table": f"public.{table}",
        "watermark_column": "updated_at",
        "columns": MAPPING,
        "settle_seconds": 0,
        "ssl_mode": "prefer",  # a Unix socket has no TLS; the deployed default is require
    }
    document.update(extra)
    return parse_settings(document)


@pytest.fixture
def lake(aws: dict[str, Any], postgres: Postgres, source: SourceTable) -> Lake:
    suffix = uuid.uuid4().hex[:10]
    bucket, table = f"raw-{suffix}", f"ingestion-{suffix}"
    aws["s3"].create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    aws["dynamodb"].create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "source", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "source", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return Lake(aws, postgres, settings_for(postgres, source.name), bucket, table)
