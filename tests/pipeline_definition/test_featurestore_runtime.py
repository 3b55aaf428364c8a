"""The twin's Feature Store runtime endpoint answers BatchGetRecord as the service would: latest record per id,
only the features asked for, unknown ids left out, and requests the service refuses refused (raw HTTP here, so
that no client-side check stands in front of the endpoint's own)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pipeline_definition.local_runner.featurestore import FeatureStoreRuntime
from tests.feature_groups import OneFeatureGroup

GROUP = "adult-features"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[FeatureStoreRuntime]:
    runtime = FeatureStoreRuntime(OneFeatureGroup(GROUP), tmp_path)
    yield runtime
    runtime.close()


def _call(store: FeatureStoreRuntime, method: str, path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(store.url + path, json.dumps(body).encode(), method=method)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def _put(store: FeatureStoreRuntime, record_id: str, time: str, age: str) -> None:
    record = {"record_id": record_id, "event_time": time, "age": age}
    body = {"Record": [{"FeatureName": k, "ValueAsString": v} for k, v in record.items()]}
    assert _call(store, "PUT", f"/FeatureGroup/{GROUP}", body)[0] == 200


def _get(ids: list[str], group: str = GROUP, **extra: Any) -> dict[str, Any]:
    return {"Identifiers": [{"FeatureGroupName": group, "RecordIdentifiersValueAsString": ids, **extra}]}


def test_batch_get_record_answers_the_latest_record_of_each_known_id(
    store: FeatureStoreRuntime, tmp_path: Path
) -> None:
    _put(store, "a-0", "2026-01-02T00:00:00Z", "40")
    _put(store, "a-0", "2026-01-01T00:00:00Z", "30")  # older event time: the online store keeps the later record
    _put(store, "b-0", "2026-01-01T00:00:00Z", "50")

    status, body = _call(store, "POST", "/BatchGetRecord", _get(["a-0", "b-0", "c-0"]))
    assert status == 200
    assert body["Errors"] == body["UnprocessedIdentifiers"] == []
    assert {r["RecordIdentifierValueAsString"]: r["Record"] for r in body["Records"]} == {
        "a-0": [
            {"FeatureName": "record_id", "ValueAsString": "a-0"},
            {"FeatureName": "event_time", "ValueAsString": "2026-01-02T00:00:00Z"},
            {"FeatureName": "age", "ValueAsString": "40"},
        ],
        "b-0": [
            {"FeatureName": "record_id", "ValueAsString": "b-0"},
            {"FeatureName": "event_time", "ValueAsString": "2026-01-01T00:00:00Z"},
            {"FeatureName": "age", "ValueAsString": "50"},
        ],
    }
    _, only_ids = _call(store, "POST", "/BatchGetRecord", _get(["a-0"], FeatureNames=["record_id"]))
    assert only_ids["Records"][0]["Record"] == [{"FeatureName": "record_id", "ValueAsString": "a-0"}]
    # a later runner on the same folder (the next run of the loop) knows the records written before
    again = FeatureStoreRuntime(OneFeatureGroup(GROUP), tmp_path)
    try:
        _, body = _call(again, "POST", "/BatchGetRecord", _get(["a-0", "c-0"]))
    finally:
        again.close()
    assert [(r["RecordIdentifierValueAsString"], r["Record"][2]["ValueAsString"]) for r in body["Records"]] == [
        ("a-0", "40")
    ]


@pytest.mark.parametrize(
    ("request_body", "status", "message"),
    [
        (_get([f"r-{i}" for i in range(101)]), 400, "Identifiers[0].RecordIdentifiersValueAsString"),
        ({"Identifiers": [_get(["r-0"])["Identifiers"][0]] * 101}, 400, "Identifiers"),
        (_get([]), 400, "RecordIdentifiersValueAsString"),
        (_get(["r-0"], group="other-group"), 404, "feature group other-group does not exist"),
        (_get(["r-0"], FeatureNames=["shoe_size"]), 400, "FeatureNames not in adult-features: ['shoe_size']"),
    ],
    ids=["101 ids", "101 identifiers", "no ids", "unknown group", "unknown feature"],
)
def test_batch_get_record_refuses_what_the_service_refuses(
    store: FeatureStoreRuntime, request_body: dict[str, Any], status: int, message: str
) -> None:
    got, body = _call(store, "POST", "/BatchGetRecord", request_body)
    assert got == status
    assert message in body["message"]
