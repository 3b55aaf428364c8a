"""boto3 adapters: the only code of the triggers that talks to AWS.

`TrainingPipeline` wraps SageMaker, `Ledger` the state table, `DataSnapshots` the raw zone's listing and the
manifests in the artifacts zone (also used by `release`, which installs boto3 only: no Powertools here).
Clients are made on first use (a client costs ~0.1 s), which keeps the cold import short; boto3 reads
`AWS_ENDPOINT_URL` and `AWS_MAX_ATTEMPTS`, so the tests point the same code at a local moto server without any
switch in it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from functools import cached_property
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from lambdas.shared.snapshot import ListedObject, Snapshot, build_snapshot, parse_prefixes, split_s3_uri

# Throttling is retried by botocore (standard mode: exponential backoff with jitter); what still fails is raised,
# so Lambda retries the invocation and finally sends the event to the dead-letter queue.
_CONFIG = Config(retries={"mode": "standard"}, connect_timeout=5, read_timeout=10)


def dynamodb_client() -> Any:
    """One DynamoDB client per container, shared by Powertools' idempotency layer (which makes its client at
    import anyway) and the ledger: the second client would cost ~50 ms on the first invocation."""
    return boto3.client("dynamodb", config=_CONFIG)


class TrainingPipeline:
    """The SageMaker training pipeline: is a run in flight, start one."""

    def __init__(self, name: str, client: Any | None = None) -> None:
        self.name = name
        self._injected = client

    @cached_property
    def _client(self) -> Any:
        return self._injected or boto3.client("sagemaker", config=_CONFIG)

    def run_in_flight(self) -> bool:
        response = self._client.list_pipeline_executions(
            PipelineName=self.name, SortBy="CreationTime", SortOrder="Descending", MaxResults=20
        )
        return any(s.get("PipelineExecutionStatus") == "Executing" for s in response["PipelineExecutionSummaries"])

    def start(self, *, parameters: Mapping[str, str], description: str, display_name: str, token: str) -> str:
        """Start a run with `parameters` (`lambdas.shared.run_request.run_parameters`)."""
        response = self._client.start_pipeline_execution(
            PipelineName=self.name,
            PipelineExecutionDisplayName=display_name,
            PipelineExecutionDescription=description,
            PipelineParameters=[{"Name": name, "Value": value} for name, value in parameters.items()],
            # The same token within 8 hours returns the same execution instead of a second one.
            ClientRequestToken=token[:128],
        )
        return str(response["PipelineExecutionArn"])


class DataSnapshots:
    """List the raw zone's data under the snapshot prefixes, write the manifest to the artifacts zone.

    ListBucket on the raw zone (those prefixes only) and PutObject under `data-snapshots/`: no object is read.
    The artifacts zone's default encryption (SSE-KMS with the lake key) applies to the manifest.
    """

    def __init__(self, *, raw_bucket: str, prefixes: Sequence[str], snapshots_uri: str, client: Any = None) -> None:
        self.raw_bucket = raw_bucket
        self.prefixes = parse_prefixes(prefixes)
        self.snapshots_uri = snapshots_uri
        self._injected = client

    @cached_property
    def _client(self) -> Any:
        return self._injected or boto3.client("s3", config=_CONFIG)

    def listed(self) -> Iterator[ListedObject]:
        paginator = self._client.get_paginator("list_objects_v2")
        for prefix in self.prefixes:
            for page in paginator.paginate(Bucket=self.raw_bucket, Prefix=prefix):
                for obj in page.get("Contents", []):
                    yield ListedObject(key=obj["Key"], etag=obj.get("ETag", ""), size=int(obj.get("Size", 0)))

    def take(self) -> Snapshot:
        """The snapshot of what is there now, written (again: same name, same bytes) to the artifacts zone;
        EmptySnapshotError when there is no data, before anything is written."""
        snapshot = build_snapshot(
            raw_bucket=self.raw_bucket, prefixes=self.prefixes, objects=self.listed(), snapshots_uri=self.snapshots_uri
        )
        bucket, key = split_s3_uri(snapshot.uri)
        self._client.put_object(Bucket=bucket, Key=key, Body=snapshot.document, ContentType="application/json")
        return snapshot


@dataclass(frozen=True)
class LedgerState:
    """The pipeline's row in the state table: the last start and the new data counted since."""

    last_started_at: datetime | None
    started_marker: str | None  # last_started_at exactly as stored: the claim's condition compares it
    new_rows: int
    new_bytes: int
    new_objects: int
    latest_key: str | None
    # The latest drift report with violations (put by the monitoring pipeline) and when its event was sent
    drift_report_uri: str | None = None
    drift_report_at: datetime | None = None


class Ledger:
    """The state table's `ledger#<pipeline>` item. Starts are claimed with a conditional write, so two events
    that decide at the same moment cannot both start a run; counters are reset by what the claim saw."""

    def __init__(self, table_name: str, pipeline_name: str, client: Any | None = None) -> None:
        self.table_name = table_name
        self.key = {"id": {"S": f"ledger#{pipeline_name}"}}
        self._injected = client

    @cached_property
    def _client(self) -> Any:
        return self._injected or boto3.client("dynamodb", config=_CONFIG)

    def read(self) -> LedgerState:
        item = self._client.get_item(TableName=self.table_name, Key=self.key, ConsistentRead=True).get("Item", {})
        return _state(item)

    def add_new_data(self, *, rows: int, size: int, key: str, now: datetime) -> LedgerState:
        response = self._client.update_item(
            TableName=self.table_name,
            Key=self.key,
            UpdateExpression="ADD new_rows :rows, new_bytes :bytes, new_objects :one SET latest_key = :key, "
            "updated_at = :now",
            ExpressionAttributeValues={
                ":rows": {"N": str(rows)},
                ":bytes": {"N": str(size)},
                ":one": {"N": "1"},
                ":key": {"S": key},
                ":now": {"N": _epoch(now)},
            },
            ReturnValues="ALL_NEW",
        )
        return _state(response["Attributes"])

    def claim_start(self, *, seen: LedgerState, now: datetime, trigger: str) -> bool:
        """Record a start at `now` if nobody else did since `seen`; subtract the counters `seen` held."""
        values: dict[str, Any] = {
            ":now": {"N": _epoch(now)},
            ":trigger": {"S": trigger},
            ":rows": {"N": str(-seen.new_rows)},
            ":bytes": {"N": str(-seen.new_bytes)},
            ":objects": {"N": str(-seen.new_objects)},
        }
        if seen.started_marker is None:
            condition = "attribute_not_exists(last_started_at)"
        else:
            condition = "last_started_at = :previous"
            values[":previous"] = {"N": seen.started_marker}
        try:
            self._client.update_item(
                TableName=self.table_name,
                Key=self.key,
                UpdateExpression="SET last_started_at = :now, last_trigger = :trigger "
                "ADD new_rows :rows, new_bytes :bytes, new_objects :objects",
                ConditionExpression=condition,
                ExpressionAttributeValues=values,
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def release(self, *, seen: LedgerState, claimed_at: datetime) -> None:
        """Undo a claim whose start failed, so that a retry of the event may start the run."""
        values: dict[str, Any] = {
            ":claimed": {"N": _epoch(claimed_at)},
            ":rows": {"N": str(seen.new_rows)},
            ":bytes": {"N": str(seen.new_bytes)},
            ":objects": {"N": str(seen.new_objects)},
        }
        if seen.started_marker is None:
            restore = "REMOVE last_started_at"
        else:
            restore = "SET last_started_at = :previous"
            values[":previous"] = {"N": seen.started_marker}
        self._client.update_item(
            TableName=self.table_name,
            Key=self.key,
            UpdateExpression=f"{restore} ADD new_rows :rows, new_bytes :bytes, new_objects :objects",
            ConditionExpression="last_started_at = :claimed",
            ExpressionAttributeValues=values,
        )

    def record_drift_report(self, *, report_uri: str, at: datetime) -> bool:
        """Remember `report_uri` as the latest drift report, unless a later one is recorded already (events may
        arrive out of order); True when it was recorded."""
        try:
            self._client.update_item(
                TableName=self.table_name,
                Key=self.key,
                UpdateExpression="SET drift_report_uri = :uri, drift_report_at = :at",
                ConditionExpression="attribute_not_exists(drift_report_at) OR drift_report_at < :at",
                ExpressionAttributeValues={":uri": {"S": report_uri}, ":at": {"N": _epoch(at)}},
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def record_execution(self, execution_arn: str) -> None:
        self._client.update_item(
            TableName=self.table_name,
            Key=self.key,
            UpdateExpression="SET last_execution_arn = :arn",
            ExpressionAttributeValues={":arn": {"S": execution_arn}},
        )


def _epoch(moment: datetime) -> str:
    return str(Decimal(str(round(moment.timestamp(), 3))))


def _state(item: dict[str, Any]) -> LedgerState:
    def number(name: str) -> int:
        return int(Decimal(item[name]["N"])) if name in item else 0

    started = item.get("last_started_at")
    return LedgerState(
        last_started_at=datetime.fromtimestamp(float(started["N"]), tz=UTC) if started else None,
        started_marker=started["N"] if started else None,
        new_rows=number("new_rows"),
        new_bytes=number("new_bytes"),
        new_objects=number("new_objects"),
        latest_key=item["latest_key"]["S"] if "latest_key" in item else None,
        drift_report_uri=item["drift_report_uri"]["S"] if "drift_report_uri" in item else None,
        drift_report_at=datetime.fromtimestamp(float(item["drift_report_at"]["N"]), tz=UTC)
        if "drift_report_at" in item
        else None,
    )
