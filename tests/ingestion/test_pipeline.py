"""The committed ingestion definition on the local runner (moto + the real PostgreSQL server), and what the
platform does with the files it writes: the new-data trigger counts them, a data snapshot lists them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lambdas.retrain_on_new_data.events import parse_object_created
from lambdas.retrain_on_new_data.logic import check_object, ignored
from lambdas.shared.snapshot import ListedObject, build_snapshot
from pipeline_definition.contract import definition_path
from pipeline_definition.local_runner import LocalRunner, RunResult, StepCache
from pipeline_definition.local_runner.twin import TwinNames, prepare_local_twin
from tests.ingestion.conftest import MAPPING, REGION, SourceTable, hours
from tests.postgres_server import INGEST_PASSWORD, INGEST_USER, Postgres

NAMES = TwinNames("mlops", "dev", REGION)
EVENT = Path(__file__).resolve().parents[1] / "lambdas" / "events" / "object_created.json"


class Twin:
    def __init__(self, aws: dict[str, Any], postgres: Postgres, table: str, workdir: Path) -> None:
        self.aws, self.workdir = aws, workdir
        self.placeholders = prepare_local_twin(aws["s3"], NAMES, land_data=False)
        aws["dynamodb"].create_table(
            TableName=NAMES.resources.ingestion_state_table,
            KeySchema=[{"AttributeName": "source", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "source", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        self.secret = aws["secretsmanager"].create_secret(
            Name="adult-db", SecretString=json.dumps({"username": INGEST_USER, "password": INGEST_PASSWORD})
        )["ARN"]
        settings = {
            "source_name": "adult-db", "host": postgres.socket_dir, "port": postgres.port,
            "database": postgres.database, "secret_arn": self.secret, "table": f"public.{table}",
            "watermark_column": "updated_at", "columns": MAPPING, "settle_seconds": 0, "ssl_mode": "prefer",
        }  # fmt: skip
        aws["ssm"].put_parameter(
            Name=NAMES.resources.ingestion_settings_parameter, Value=json.dumps(settings), Type="String"
        )

    def run(self) -> RunResult:
        runner = LocalRunner(
            s3=self.aws["s3"], sagemaker=self.aws["sagemaker"], workdir=self.workdir,
            cache=StepCache(self.workdir / "cache"), region=REGION, placeholders=self.placeholders,
        )  # fmt: skip
        try:
            return runner.run(definition_path("dev", "ingestion"), pipeline_name=NAMES.resources.ingestion_pipeline)
        finally:
            runner.close()

    def raw_keys(self) -> list[str]:
        listed = self.aws["s3"].list_objects_v2(Bucket=NAMES.bucket("raw"))
        return sorted(o["Key"] for o in listed.get("Contents", []))


@pytest.fixture(scope="module")
def twin(
    aws: dict[str, Any], postgres: Postgres, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Twin, SourceTable]]:
    source = SourceTable(postgres, "adult_pipeline").create()
    with pytest.MonkeyPatch.context() as patch:
        # A cold start: the ingestion job imports boto3 and psycopg only, far less than the warm interpreter's
        # preloaded numpy, pandas, pyarrow, scipy and xgboost (pipeline_definition/local_runner/warm.py).
        patch.setenv("LOCAL_RUNNER_COLD_START", "1")
        yield Twin(aws, postgres, source.name, tmp_path_factory.mktemp("ingestion-runs")), source


def test_the_ingestion_pipeline_runs_on_the_local_runner(
    twin: tuple[Twin, SourceTable], adult_rows: list[tuple[Any, ...]]
) -> None:
    runner, source = twin
    source.insert(adult_rows[:400], hours(*range(400)))
    result = runner.run()
    assert result.status == "Succeeded", result.failure_reason
    assert runner.raw_keys() == [
        "adult/postgres/adult-db/batch-00000000.csv",
        "ingest-manifests/adult-db/batch-00000000.json",
    ]
    report = result.step("IngestPostgres").outputs["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["S3Uri"]
    bucket, _, prefix = report.removeprefix("s3://").partition("/")
    summary = json.loads(runner.aws["s3"].get_object(Bucket=bucket, Key=f"{prefix}/summary.json")["Body"].read())
    assert (summary["status"], summary["rows"]) == ("ingested", 400)


def test_the_new_data_trigger_counts_a_batch_and_a_snapshot_lists_it_but_not_its_manifest() -> None:
    event = json.loads(EVENT.read_text())
    event["detail"]["bucket"]["name"] = NAMES.bucket("raw")
    event["detail"]["object"]["key"] = "adult/postgres/adult-db/batch-00000000.csv"
    parsed = parse_object_created(event)
    check_object(parsed, raw_bucket=NAMES.bucket("raw"), input_prefix="adult/")  # no error: the training input
    assert ignored(parsed) is None  # counted
    objects = [
        ListedObject("adult/postgres/adult-db/batch-00000000.csv", '"a"', 100),
        ListedObject("ingest-manifests/adult-db/batch-00000000.json", '"b"', 100),
    ]
    snapshot = build_snapshot(
        raw_bucket=NAMES.bucket("raw"), prefixes=NAMES.resources.snapshot_prefixes, objects=objects,
        snapshots_uri=f"s3://{NAMES.bucket('artifacts')}/data-snapshots/",
    )  # fmt: skip
    assert snapshot.keys == ("adult/postgres/adult-db/batch-00000000.csv",)
