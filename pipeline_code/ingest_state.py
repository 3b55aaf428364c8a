"""The ingestion's watermark, in DynamoDB: one item per source, changed only by conditional writes.

- `acquire`: a lease, so two runs of one source never extract at once (Scheduler may start a run while the last
  one still works; two runs reading from the same watermark would write overlapping ranges). The lease outlasts
  the job's MaxRuntimeInSeconds, so a job SageMaker stopped cannot still be writing when the next one takes over.
- `commit`: moves the watermark past one written batch, only if this run still holds the lease and no other batch
  was committed meanwhile (`batches` is the compare-and-set version). It runs after the batch's object and
  manifest exist: a run that dies before it leaves the watermark where it was.
- `release`: gives the lease up (on success and on every handled failure).

DynamoDB rather than SSM Parameter Store: SSM has no conditional write, and the lease needs one.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

from pipeline_code.aws import call, error_code
from pipeline_code.errors import PipelineError
from pipeline_code.ingest_postgres import Watermark


class LeaseHeldError(PipelineError):
    """Another run of the same source holds the lease."""


@dataclass(frozen=True)
class SourceState:
    watermark: Watermark | None  # None: nothing extracted yet
    batches: int  # batches committed: the next batch's number
    rows: int  # rows extracted in all
    watermark_column: str | None


class StateStore:
    def __init__(self, dynamodb: Any, table: str, source: str) -> None:
        self.dynamodb, self.table, self.source = dynamodb, table, source
        self.key = {"source": {"S": source}}

    def acquire(self, owner: str, now: int, lease_seconds: int) -> SourceState:
        try:
            item = self.dynamodb.update_item(
                TableName=self.table,
                Key=self.key,
                UpdateExpression="SET lease_owner = :me, lease_until = :until",
                ConditionExpression="attribute_not_exists(lease_until) OR lease_until < :now OR lease_owner = :me",
                ExpressionAttributeValues={
                    ":me": {"S": owner},
                    ":until": {"N": str(now + lease_seconds)},
                    ":now": {"N": str(now)},
                },
                ReturnValues="ALL_NEW",
            )["Attributes"]
        except Exception as err:
            if error_code(err) == "ConditionalCheckFailedException":
                held = self._item()
                raise LeaseHeldError(
                    f"source '{self.source}': run {held.get('lease_owner', {}).get('S', '?')} holds the ingestion "
                    f"lease until {held.get('lease_until', {}).get('N', '?')} (epoch seconds); this run extracts "
                    "nothing"
                ) from err
            raise PipelineError(f"UpdateItem (lease) on table {self.table} failed: {err}") from err
        return _state(item)

    def commit(self, owner: str, expected_batches: int, watermark: Watermark, rows: int, manifest_uri: str) -> None:
        values: dict[str, Any] = {
            ":me": {"S": owner},
            ":expected": {"N": str(expected_batches)},
            ":next": {"N": str(expected_batches + 1)},
            ":rows": {"N": str(rows)},
            ":kind": {"S": watermark.kind},
            ":value": {"S": watermark.value},
            ":manifest": {"S": manifest_uri},
            ":zero": {"N": "0"},
        }
        try:
            call(
                self.dynamodb,
                "UpdateItem",
                TableName=self.table,
                Key=self.key,
                UpdateExpression=(
                    "SET batches = :next, watermark_kind = :kind, watermark_value = :value, "
                    "last_manifest = :manifest, total_rows = if_not_exists(total_rows, :zero) + :rows"
                ),
                ConditionExpression=(
                    "lease_owner = :me AND "
                    "(batches = :expected OR (attribute_not_exists(batches) AND :expected = :zero))"
                ),
                ExpressionAttributeValues=values,
            )
        except PipelineError as err:
            if "ConditionalCheckFailed" in str(err):
                raise PipelineError(
                    f"source '{self.source}': the watermark was not advanced past batch {expected_batches}: this run "
                    "lost its lease or another run committed first; the next run adopts this batch's manifest"
                ) from err
            raise

    def record_watermark_column(self, owner: str, column: str) -> None:
        call(
            self.dynamodb,
            "UpdateItem",
            TableName=self.table,
            Key=self.key,
            UpdateExpression="SET watermark_column = :column",
            ConditionExpression="lease_owner = :me",
            ExpressionAttributeValues={":column": {"S": column}, ":me": {"S": owner}},
        )

    def release(self, owner: str) -> None:
        with contextlib.suppress(Exception):  # lost already, or DynamoDB unreachable: the lease expires by itself
            self.dynamodb.update_item(
                TableName=self.table,
                Key=self.key,
                UpdateExpression="REMOVE lease_owner, lease_until",
                ConditionExpression="lease_owner = :me",
                ExpressionAttributeValues={":me": {"S": owner}},
            )

    def _item(self) -> dict[str, Any]:
        response = call(self.dynamodb, "GetItem", TableName=self.table, Key=self.key, ConsistentRead=True)
        item: dict[str, Any] = response.get("Item", {})
        return item

    def read(self) -> SourceState:
        return _state(self._item())


def _state(item: dict[str, Any]) -> SourceState:
    watermark = None
    if "watermark_value" in item:
        watermark = Watermark(item["watermark_kind"]["S"], item["watermark_value"]["S"])
    return SourceState(
        watermark=watermark,
        batches=int(item.get("batches", {}).get("N", 0)),
        rows=int(item.get("total_rows", {}).get("N", 0)),
        watermark_column=item.get("watermark_column", {}).get("S"),
    )
