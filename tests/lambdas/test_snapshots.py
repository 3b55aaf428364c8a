"""The data snapshot every run reads: pure manifest building, and the S3 adapter and both handlers on moto."""

from __future__ import annotations

import json
from types import ModuleType
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from lambdas.shared.adapters import DataSnapshots
from lambdas.shared.snapshot import DATA_SUFFIXES, EmptySnapshotError, ListedObject, build_snapshot, parse_prefixes
from pipeline_code import tabular
from pipeline_definition import contract
from tests.lambdas.conftest import RAW_BUCKET, SETTINGS, SNAPSHOTS_URI, TRAINING_KEY, World

PREFIXES = ("adult/", "feedback/")


def _build(*objects: ListedObject, bucket: str = "raw-zone") -> Any:
    return build_snapshot(
        raw_bucket=bucket, prefixes=PREFIXES, objects=objects, snapshots_uri="s3://art/data-snapshots/"
    )


A = ListedObject("adult/adult.data", '"0f1e"', 3_974_469)
B = ListedObject("feedback/2026/11/26/20261126T060000Z.csv", '"aa11"', 900)


def test_the_manifest_lists_data_keys_sorted_relative_to_the_raw_zone() -> None:
    noise = [
        ListedObject("adult/", '"d41d"', 0),  # a console "folder"
        ListedObject("adult/empty.csv", '"d41d"', 0),
        ListedObject("adult/README.md", '"77"', 120),
        ListedObject("curated/adult/x.csv", '"88"', 10),  # not under a snapshot prefix
    ]
    snapshot = _build(B, *noise, A)
    assert json.loads(snapshot.document) == [{"prefix": "s3://raw-zone/"}, A.key, B.key]
    assert snapshot.keys == (A.key, B.key)
    assert snapshot.size == A.size + B.size
    assert snapshot.uri == f"s3://art/data-snapshots/{snapshot.digest[:16]}.manifest"


def test_the_name_follows_content_identity_not_listing_order() -> None:
    first = _build(A, B)
    assert _build(B, A).uri == first.uri  # same objects, another order: a cache hit
    assert _build(A).uri != first.uri  # an object less
    assert _build(A, ListedObject(B.key, '"bb22"', B.size)).uri != first.uri  # rewritten in place: new ETag
    assert _build(A, ListedObject(B.key, B.etag, B.size, version_id="v2")).uri != first.uri
    assert _build(A, B, bucket="other-raw-zone").uri != first.uri


def test_an_empty_snapshot_names_where_it_looked() -> None:
    with pytest.raises(EmptySnapshotError, match=r"s3://raw-zone/adult/, s3://raw-zone/feedback/.*no training run"):
        _build(ListedObject("adult/README.md", '"1"', 10), ListedObject("adult/", '"2"', 0))


@pytest.mark.parametrize("prefixes", ["", "adult", "adult/,", "adult/, /x y/"])
def test_bad_prefixes_are_refused(prefixes: str) -> None:
    with pytest.raises(ValueError, match="snapshot prefixes must be"):
        parse_prefixes(prefixes)


def test_the_prefixes_and_suffixes_agree_with_the_pipeline() -> None:
    assert parse_prefixes(SETTINGS["SNAPSHOT_PREFIXES"]) == ("adult/", contract.FEEDBACK_PREFIX)
    assert SNAPSHOTS_URI.endswith(f"/{contract.DATA_SNAPSHOT_PREFIX}/")
    assert DATA_SUFFIXES == tabular.RAW_SUFFIXES  # the snapshot lists what the steps read


def _snapshots(clients: dict[str, Any]) -> DataSnapshots:
    return DataSnapshots(raw_bucket=RAW_BUCKET, prefixes=PREFIXES, snapshots_uri=SNAPSHOTS_URI, client=clients["s3"])


def test_the_adapter_pages_through_the_listing_of_each_prefix() -> None:
    # Stubbed rather than 1,000+ objects on moto (25 s): two pages for adult/, one for feedback/.
    s3 = boto3.client("s3", region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="x")
    stubber = Stubber(s3)

    def page(prefix: str, keys: list[str], token: str | None = None, after: str | None = None) -> None:
        response: dict[str, Any] = {
            "Contents": [{"Key": k, "ETag": f'"{k}"', "Size": 1} for k in keys],
            "IsTruncated": token is not None,
        }
        if token:
            response["NextContinuationToken"] = token
        expected = {"Bucket": RAW_BUCKET, "Prefix": prefix} | ({"ContinuationToken": after} if after else {})
        stubber.add_response("list_objects_v2", response, expected)

    page("adult/", ["adult/b.csv"], token="t1")
    page("adult/", ["adult/a.csv"], after="t1")
    page("feedback/", ["feedback/2026/11/26/x.csv"])
    with stubber:
        listed = [obj.key for obj in _snapshots({"s3": s3}).listed()]
    stubber.assert_no_pending_responses()
    assert listed == ["adult/b.csv", "adult/a.csv", "feedback/2026/11/26/x.csv"]


def test_same_data_same_uri_new_object_new_uri(world: World, clients: dict[str, Any]) -> None:
    snapshots = _snapshots(clients)
    first = snapshots.take()
    assert snapshots.take().uri == first.uri  # written again: harmless, same bytes
    world.put_raw("feedback/2026/11/26/20261126T060000Z.csv")
    second = snapshots.take()
    assert second.uri != first.uri
    assert world.manifest(first.uri)[1:] == [TRAINING_KEY]  # the first snapshot is unchanged
    assert world.manifest(second.uri)[1:] == [TRAINING_KEY, "feedback/2026/11/26/20261126T060000Z.csv"]


def test_a_drift_run_reads_the_labelled_feedback_too(
    drift_handler: ModuleType, world: World, alarm_event: dict, lambda_context
) -> None:
    feedback = "feedback/2026/11/26/20261126T060000Z.csv"
    world.put_raw(feedback)
    result = drift_handler.lambda_handler(alarm_event, lambda_context)
    assert world.manifest(result["input_manifest_uri"])[1:] == [TRAINING_KEY, feedback]


@pytest.mark.parametrize("trigger", ["drift", "new-data"])
def test_an_empty_raw_zone_is_an_error_and_starts_nothing(
    trigger: str,
    drift_handler: ModuleType,
    new_data_handler: ModuleType,
    world: World,
    clients: dict[str, Any],
    alarm_event: dict,
    object_event: Any,
    lambda_context: Any,
) -> None:
    for key in world.raw_keys():
        clients["s3"].delete_object(Bucket=RAW_BUCKET, Key=key)
    handler, event = (drift_handler, alarm_event) if trigger == "drift" else (new_data_handler, object_event(10**8))
    with pytest.raises(EmptySnapshotError, match=f"s3://{RAW_BUCKET}/adult/, s3://{RAW_BUCKET}/feedback/"):
        handler.lambda_handler(event, lambda_context)
    assert world.execution_count() == 0
    assert "last_started_at" not in world.ledger()  # nothing claimed: a retry (once data is there) may start
