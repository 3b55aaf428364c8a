"""Retrain on new data, against moto: counted once per object, started once enough arrived, debounced."""

from __future__ import annotations

import copy
import gzip
import math
from pathlib import Path
from types import ModuleType

import pytest

from lambdas.retrain_on_new_data.logic import estimated_rows
from lambdas.shared.observability import InvalidEventError
from tests.lambdas.conftest import RAW_BUCKET, SETTINGS, TRAINING_KEY, World

ROOT = Path(__file__).resolve().parents[2]
MIN_BYTES = int(SETTINGS["MIN_NEW_BYTES"])
ROW_BYTES = int(SETTINGS["AVERAGE_ROW_BYTES"])
MIN_ROWS = int(SETTINGS["MIN_NEW_ROWS"])


def _counters(world: World) -> tuple[int, int, int]:
    item = world.ledger()
    return tuple(int(item.get(name, {"N": "0"})["N"]) for name in ("new_objects", "new_bytes", "new_rows"))  # type: ignore[return-value]


def test_objects_below_the_threshold_are_counted_and_skipped(
    new_data_handler: ModuleType, world: World, object_event, lambda_context
) -> None:
    # Given two small objects (each far below 10,000 rows and 10 MB)
    for size in (122_000, 244_000):
        result = new_data_handler.lambda_handler(object_event(size), lambda_context)
        assert (result["outcome"], result["reason"]) == ("skipped", "below-threshold")
    # Then nothing starts, and the ledger holds what arrived
    assert world.execution_count() == 0
    assert _counters(world) == (2, 366_000, 1_000 + 2_000)


def test_enough_new_rows_start_one_run_and_reset_the_counters(
    new_data_handler: ModuleType, world: World, object_event, lambda_context
) -> None:
    sizes = [600_000, 500_000, 200_000]  # ~4,918 + ~4,099 + ~1,640 rows: the third crosses 10,000 rows (1.3 MB)
    events = [object_event(size) for size in sizes]
    keys = [event["detail"]["object"]["key"] for event in events]
    for key, size in zip(keys, sizes, strict=True):
        world.put_raw(key, b"1" * size)
    world.put_raw("adult/README.md")  # not data: left out of the snapshot
    results = [new_data_handler.lambda_handler(event, lambda_context) for event in events]
    assert [r["outcome"] for r in results] == ["skipped", "skipped", "started"]
    assert sum(estimated_rows(s, average_row_bytes=ROW_BYTES) for s in sizes[:2]) < MIN_ROWS
    (execution,) = world.executions()
    assert execution["Parameters"]["Trigger"] == "new-data"
    assert execution["Parameters"]["TriggerDetail"] == f"s3://{RAW_BUCKET}/{keys[-1]}"
    assert "3 new object(s), 1300000 bytes" in execution["PipelineExecutionDescription"]
    # the run reads every data object of the raw zone, sorted: the new ones and what was there
    manifest = world.manifest(execution["Parameters"]["InputManifestUri"])
    assert manifest == [{"prefix": f"s3://{RAW_BUCKET}/"}, *sorted([*keys, TRAINING_KEY])]
    assert _counters(world) == (0, 0, 0)


def test_a_duplicate_object_event_is_counted_once(
    new_data_handler: ModuleType, world: World, object_event, lambda_context
) -> None:
    event = object_event(122_000)
    new_data_handler.lambda_handler(event, lambda_context)
    new_data_handler.lambda_handler(copy.deepcopy(event), lambda_context)
    assert _counters(world) == (1, 122_000, 1_000)


def test_new_data_is_debounced_by_the_cooldown_and_by_a_run_in_flight(
    new_data_handler: ModuleType, world: World, object_event, lambda_context
) -> None:
    assert new_data_handler.lambda_handler(object_event(MIN_BYTES), lambda_context)["outcome"] == "started"
    # More than enough again, at once: inside the cooldown
    again = new_data_handler.lambda_handler(object_event(MIN_BYTES), lambda_context)
    assert (again["outcome"], again["reason"]) == ("skipped", "cooldown")
    assert world.execution_count() == 1
    assert _counters(world)[1] == MIN_BYTES  # still counted: it will count toward the next run
    # A fresh environment with a run in flight (started by hand): skipped as well
    world.reset()
    world.set_run_in_flight()
    busy = new_data_handler.lambda_handler(object_event(MIN_BYTES), lambda_context)
    assert (busy["outcome"], busy["reason"]) == ("skipped", "run-in-flight")


def test_folder_markers_empty_objects_and_other_files_are_not_counted(
    new_data_handler: ModuleType, world: World, object_event, lambda_context
) -> None:
    for event in (object_event(0), object_event(5, key="adult/2026/11/")):
        assert new_data_handler.lambda_handler(event, lambda_context)["reason"] == "empty-object"
    readme = new_data_handler.lambda_handler(object_event(5_000_000_000, key="adult/README.md"), lambda_context)
    assert (readme["reason"], world.execution_count()) == ("not-data", 0)
    assert world.ledger() == {}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda e: e["detail"]["bucket"].update(name="someone-elses-bucket"), "not the raw zone"),
        (lambda e: e["detail"]["object"].update(key="curated/adult/x.parquet"), "outside the training input"),
        (lambda e: e["detail"]["object"].update(size="12"), "detail.object.size"),
        (lambda e: e["detail"]["object"].pop("sequencer"), "detail.object.sequencer"),
        (lambda e: e.update({"detail-type": "Object Deleted"}), "detail-type"),
    ],
    ids=["other-bucket", "other-prefix", "size-as-text", "no-sequencer", "deleted"],
)
def test_misrouted_or_malformed_object_events_are_rejected_and_change_nothing(
    new_data_handler: ModuleType, world: World, object_event, lambda_context, logs, change, message: str
) -> None:
    event = object_event()
    change(event)
    before = world.items()
    with pytest.raises(InvalidEventError, match=message):
        new_data_handler.lambda_handler(event, lambda_context)
    assert world.items() == before
    assert world.execution_count() == 0
    (error,) = [line for line in logs() if line.get("level") == "ERROR"]
    assert message in error["message"]


def test_the_average_row_size_matches_the_shipped_data() -> None:
    """The row estimate relies on AVERAGE_ROW_BYTES (set by the unit); it must stay close to the real data."""
    from pipeline_code import schema

    average_row_bytes = schema.load("adult").average_row_bytes
    raw = gzip.decompress((ROOT / "data" / "adult" / "adult.data.gz").read_bytes())
    rows = sum(1 for line in raw.splitlines() if line.strip())
    assert math.isclose(average_row_bytes, len(raw) / rows, rel_tol=0.05)
    assert str(average_row_bytes) == SETTINGS["AVERAGE_ROW_BYTES"]
