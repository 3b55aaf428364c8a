"""The retraining triggers against a local moto server: real handlers, real-shaped events, fake credentials.

The handlers parse their settings and build their adapters at import (a cold start), so the environment is set
once for this package and each handler module imported once; every test then starts from an empty ledger and
no execution in flight, and uses event identities of its own.
"""

from __future__ import annotations

import copy
import importlib
import json
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest
from botocore.config import Config

from tests.moto_server import moto_server, point_boto3_at
from twin.api_contract import validate_every_client

REGION = "eu-west-1"
ACCOUNT = "123456789012"  # moto's default account
ENVIRONMENT = "mlops-dev"
PIPELINE = f"{ENVIRONMENT}-training"
TABLE = f"{ENVIRONMENT}-retraining-state"
RAW_BUCKET = f"{ENVIRONMENT}-raw-{ACCOUNT}-{REGION}"
ARTIFACTS_BUCKET = f"{ENVIRONMENT}-artifacts-{ACCOUNT}-{REGION}"
SNAPSHOTS_URI = f"s3://{ARTIFACTS_BUCKET}/data-snapshots/"
TRAINING_KEY = "adult/adult.data"  # every test starts with this one data object in the raw zone
EVENTS = Path(__file__).with_name("events")
# What the committed definitions declare (tests/lambdas/test_contract.py checks that against them).
PIPELINE_PARAMETERS = ("Trigger", "TriggerDetail", "InputManifestUri", "CodeVersion")

SETTINGS = {
    "PLATFORM_ENVIRONMENT": ENVIRONMENT,
    "TRAINING_PIPELINE_NAME": PIPELINE,
    "STATE_TABLE_NAME": TABLE,
    "COOLDOWN_HOURS": "24",
    "IDEMPOTENCY_HOURS": "48",
    "DRIFT_ALARM_PREFIX": f"{ENVIRONMENT}-drift-",
    "MONITORING_REPORTS_URI": f"s3://{ENVIRONMENT}-artifacts-{ACCOUNT}-{REGION}/monitoring/reports/",
    "RAW_BUCKET_NAME": RAW_BUCKET,
    "SNAPSHOT_PREFIXES": "adult/,feedback/",
    "SNAPSHOTS_URI": SNAPSHOTS_URI,
    "INPUT_PREFIX": "adult/",
    "MIN_NEW_ROWS": "10000",
    "MIN_NEW_BYTES": "10000000",
    "AVERAGE_ROW_BYTES": "122",
    "RETRAINING_SCHEDULE_NAME": f"{ENVIRONMENT}-retraining",
    "POWERTOOLS_METRICS_NAMESPACE": "MLOps/Retraining",
    "POWERTOOLS_TRACE_DISABLED": "true",  # no X-Ray daemon here
}


@pytest.fixture(scope="package")
def moto_endpoint() -> Iterator[str]:
    with moto_server() as url:
        yield url


@pytest.fixture(scope="package")
def aws_environment(moto_endpoint: str) -> Iterator[None]:
    """Fake credentials and the moto endpoint for every boto3 client the handlers make; one attempt per call
    (moto answers what it lacks with HTTP 500, which botocore would otherwise retry); every request validated
    against botocore's service model before it is sent."""
    with pytest.MonkeyPatch.context() as patch:
        point_boto3_at(patch, moto_endpoint, REGION)
        for name, value in SETTINGS.items():
            patch.setenv(name, value)
        # Every call the handlers (and these tests) make must fit botocore's model: moto accepts much it rejects.
        validate_every_client(patch)
        yield


@pytest.fixture(scope="package")
def clients(aws_environment: None) -> dict[str, Any]:
    config = Config(retries={"max_attempts": 1, "mode": "standard"})
    made = {name: boto3.client(name, config=config) for name in ("dynamodb", "sagemaker", "s3")}
    for bucket in (RAW_BUCKET, ARTIFACTS_BUCKET):
        made["s3"].create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    # The table as the unit creates it: partition key `id`, TTL on `expiration` (Powertools' idempotency records).
    made["dynamodb"].create_table(
        TableName=TABLE,
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    made["dynamodb"].update_time_to_live(
        TableName=TABLE, TimeToLiveSpecification={"Enabled": True, "AttributeName": "expiration"}
    )
    definition = {
        "Version": "2020-12-01",
        "Parameters": [{"Name": p, "Type": "String", "DefaultValue": "manual"} for p in PIPELINE_PARAMETERS],
        "Steps": [],
    }
    made["sagemaker"].create_pipeline(
        PipelineName=PIPELINE, PipelineDefinition=json.dumps(definition), RoleArn=f"arn:aws:iam::{ACCOUNT}:role/sm"
    )
    return made


class _CurrentStdout:
    """Writes to whatever `sys.stdout` is at the time: pytest swaps it per test and per phase, and Powertools
    binds its log handler to the stream of import time (EMF metrics are printed to the current one anyway)."""

    def write(self, text: str) -> int:
        return sys.stdout.write(text)

    def flush(self) -> None:
        sys.stdout.flush()


def _import(module: str, service: str) -> ModuleType:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("POWERTOOLS_SERVICE_NAME", service)
        handler = importlib.import_module(module)
    handler.logger.registered_handler.setStream(_CurrentStdout())
    return handler


@pytest.fixture(scope="package")
def drift_handler(clients: dict[str, Any]) -> ModuleType:
    return _import("lambdas.retrain_on_drift.handler", "retrain-on-drift")


@pytest.fixture(scope="package")
def new_data_handler(clients: dict[str, Any]) -> ModuleType:
    return _import("lambdas.retrain_on_new_data.handler", "retrain-on-new-data")


@pytest.fixture(scope="package")
def schedule_handler(clients: dict[str, Any]) -> ModuleType:
    return _import("lambdas.retrain_on_schedule.handler", "retrain-on-schedule")


def _moto_pipeline() -> Any:
    from moto.sagemaker.models import sagemaker_backends

    return sagemaker_backends[ACCOUNT][REGION].pipelines[PIPELINE]


class World:
    """What a test observes and arranges: executions, the state table, a run in flight."""

    def __init__(self, clients: dict[str, Any]) -> None:
        self.clients = clients

    def executions(self) -> list[dict[str, Any]]:
        summaries = self.clients["sagemaker"].list_pipeline_executions(PipelineName=PIPELINE)
        return [
            self.clients["sagemaker"].describe_pipeline_execution(PipelineExecutionArn=s["PipelineExecutionArn"])
            | {"Parameters": self._parameters(s["PipelineExecutionArn"])}
            for s in summaries["PipelineExecutionSummaries"]
        ]

    def _parameters(self, arn: str) -> dict[str, str]:
        listed = self.clients["sagemaker"].list_pipeline_parameters_for_execution(PipelineExecutionArn=arn)
        return {p["Name"]: p["Value"] for p in listed["PipelineParameters"]}

    def execution_count(self) -> int:
        return len(_moto_pipeline().pipeline_executions)

    def items(self) -> list[dict[str, Any]]:
        return self.clients["dynamodb"].scan(TableName=TABLE, ConsistentRead=True)["Items"]

    def ledger(self) -> dict[str, Any]:
        key = {"id": {"S": f"ledger#{PIPELINE}"}}
        return self.clients["dynamodb"].get_item(TableName=TABLE, Key=key, ConsistentRead=True).get("Item", {})

    def set_run_in_flight(self) -> None:
        """moto marks executions Succeeded at once; a real one would still be Executing."""
        execution = self.clients["sagemaker"].start_pipeline_execution(
            PipelineName=PIPELINE, PipelineExecutionDisplayName="manual", ClientRequestToken=uuid.uuid4().hex * 2
        )
        _moto_pipeline().pipeline_executions[execution["PipelineExecutionArn"]].pipeline_execution_status = "Executing"

    def put_raw(self, key: str, body: bytes = b"age, workclass\n39, State-gov\n") -> None:
        self.clients["s3"].put_object(Bucket=RAW_BUCKET, Key=key, Body=body)

    def raw_keys(self) -> list[str]:
        listed = self.clients["s3"].list_objects_v2(Bucket=RAW_BUCKET).get("Contents", [])
        return [obj["Key"] for obj in listed]

    def manifest(self, uri: str) -> list[Any]:
        """The manifest document a run was given (its URI must lie under SNAPSHOTS_URI)."""
        assert uri.startswith(SNAPSHOTS_URI), uri
        body = self.clients["s3"].get_object(Bucket=ARTIFACTS_BUCKET, Key=uri.removeprefix(f"s3://{ARTIFACTS_BUCKET}/"))
        document: list[Any] = json.loads(body["Body"].read())
        return document

    def reset(self) -> None:
        self.clients["dynamodb"].delete_item(TableName=TABLE, Key={"id": {"S": f"ledger#{PIPELINE}"}})
        _moto_pipeline().pipeline_executions.clear()
        for key in self.raw_keys():
            self.clients["s3"].delete_object(Bucket=RAW_BUCKET, Key=key)
        self.put_raw(TRAINING_KEY)


@pytest.fixture
def world(clients: dict[str, Any]) -> Iterator[World]:
    world = World(clients)
    world.reset()
    yield world
    world.reset()


@dataclass
class LambdaContext:
    function_name: str = "mlops-dev-retrain"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:mlops-dev-retrain"
    aws_request_id: str = "52fdfc07-2182-154f-163f-5f0f9a621d72"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


@pytest.fixture
def lambda_context() -> LambdaContext:
    return LambdaContext(aws_request_id=str(uuid.uuid4()))


def load_event(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / f"{name}.json").read_text())


@pytest.fixture
def alarm_event() -> dict[str, Any]:
    """A drift alarm's transition into ALARM, with an episode identity (ARN + timestamp) of its own."""
    event = load_event("alarm_state_change")
    name = f"{ENVIRONMENT}-drift-{uuid.uuid4().hex[:8]}"
    event["id"] = str(uuid.uuid4())
    event["resources"] = [f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{name}"]
    event["detail"]["alarmName"] = name
    return event


@pytest.fixture
def violations_event() -> dict[str, Any]:
    event = load_event("drift_violations_report")
    event["id"] = str(uuid.uuid4())
    # Another monitoring execution's report: monitoring/reports/<execution id>/CheckDrift/drift
    event["detail"]["reportUri"] = event["detail"]["reportUri"].replace("p2xk7w3n9b1c", uuid.uuid4().hex[:12])
    return event


@pytest.fixture
def object_event() -> Any:
    """A factory of Object Created events for new keys in the training input prefix."""

    def make(size: int = 1_220_000, key: str | None = None) -> dict[str, Any]:
        event = copy.deepcopy(load_event("object_created"))
        event["id"] = str(uuid.uuid4())
        event["detail"]["object"]["key"] = key or f"adult/2026/11/26/{uuid.uuid4().hex[:12]}.csv"
        event["detail"]["object"]["size"] = size
        event["detail"]["object"]["sequencer"] = uuid.uuid4().hex[:18].upper()
        return event

    return make


@pytest.fixture
def scheduled_event() -> Any:
    """A factory of the retraining schedule's payloads (as Scheduler fills in its context attributes), each
    firing at a scheduled time of its own unless one is given."""

    def make(scheduled_time: str | None = None, attempt: str = "1") -> dict[str, Any]:
        event = load_event("scheduled_run")
        minutes = timedelta(minutes=uuid.uuid4().int % 10_000_000)  # idempotency records outlive a test
        event["scheduledTime"] = scheduled_time or f"{datetime(2027, 1, 1, tzinfo=UTC) + minutes:%Y-%m-%dT%H:%M:%SZ}"
        event["attempt"] = attempt
        return event

    return make


@pytest.fixture
def logs(capsys: pytest.CaptureFixture[str]) -> Any:
    """The JSON lines the handlers wrote (log records and EMF metrics), as dicts."""

    def read() -> list[dict[str, Any]]:
        return [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]

    return read
