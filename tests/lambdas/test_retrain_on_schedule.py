"""Retrain on schedule, against moto: a firing snapshots the raw zone and starts a run with Trigger=schedule, needs
no new data, and keeps the cooldown, the run-in-flight rule and once-per-firing idempotency."""

from __future__ import annotations

from types import ModuleType
from typing import Any

import pytest

from lambdas.shared.observability import InvalidEventError
from tests.lambdas.conftest import ACCOUNT, RAW_BUCKET, REGION, SETTINGS, TRAINING_KEY, World

SCHEDULE_ARN = f"arn:aws:scheduler:{REGION}:{ACCOUNT}:schedule/default/{SETTINGS['RETRAINING_SCHEDULE_NAME']}"


def test_a_firing_snapshots_the_raw_zone_and_starts_a_scheduled_run(
    schedule_handler: ModuleType, world: World, scheduled_event, lambda_context
) -> None:
    world.put_raw("feedback/2026/11/25/2026-11-25T06:00:00+00:00.csv")
    result = schedule_handler.lambda_handler(scheduled_event("2026-11-26T06:00:00Z"), lambda_context)
    assert (result["outcome"], result["trigger"]) == ("started", "schedule")
    (execution,) = world.executions()
    parameters = execution["Parameters"]
    assert parameters["Trigger"] == "schedule"
    assert parameters["TriggerDetail"] == f"{SCHEDULE_ARN}@2026-11-26T06:00:00+00:00"
    assert parameters["InputManifestUri"] == result["input_manifest_uri"]
    assert world.manifest(parameters["InputManifestUri"]) == [
        {"prefix": f"s3://{RAW_BUCKET}/"},
        TRAINING_KEY,
        "feedback/2026/11/25/2026-11-25T06:00:00+00:00.csv",
    ]
    assert (
        "schedule mlops-dev-retraining fired for 2026-11-26T06:00:00+00:00"
        in (execution["PipelineExecutionDescription"])
    )
    assert world.ledger()["last_trigger"] == {"S": "schedule"}


def test_a_second_firing_within_the_cooldown_starts_nothing(
    schedule_handler: ModuleType, world: World, scheduled_event, lambda_context
) -> None:
    assert schedule_handler.lambda_handler(scheduled_event(), lambda_context)["outcome"] == "started"
    second = schedule_handler.lambda_handler(scheduled_event(), lambda_context)
    assert (second["outcome"], second["reason"]) == ("skipped", "cooldown")
    assert world.execution_count() == 1


def test_a_retried_firing_is_decided_once(
    schedule_handler: ModuleType, world: World, scheduled_event, lambda_context, logs
) -> None:
    first = scheduled_event()
    retry = scheduled_event(first["scheduledTime"], attempt="2")  # the same firing: same scheduled time
    assert schedule_handler.lambda_handler(first, lambda_context)["outcome"] == "started"
    assert schedule_handler.lambda_handler(retry, lambda_context)["outcome"] == "started"  # the recorded decision
    assert world.execution_count() == 1
    assert any(line.get("message", "").startswith("duplicate delivery") for line in logs())


def test_a_firing_needs_no_new_data_and_takes_what_was_counted(
    schedule_handler: ModuleType,
    new_data_handler: ModuleType,
    world: World,
    scheduled_event,
    object_event,
    lambda_context,
) -> None:
    small = object_event(122_000)  # far below the new-data threshold
    world.put_raw(small["detail"]["object"]["key"], b"1" * 122_000)
    assert new_data_handler.lambda_handler(small, lambda_context)["reason"] == "below-threshold"
    result = schedule_handler.lambda_handler(scheduled_event(), lambda_context)
    assert result["outcome"] == "started"
    assert small["detail"]["object"]["key"] in world.manifest(result["input_manifest_uri"])
    ledger = world.ledger()  # the run took the counted object: the next new-data run counts from zero
    assert [int(ledger[name]["N"]) for name in ("new_objects", "new_bytes", "new_rows")] == [0, 0, 0]


def test_a_firing_while_a_run_is_in_flight_is_skipped(
    schedule_handler: ModuleType, world: World, scheduled_event, lambda_context
) -> None:
    world.set_run_in_flight()
    result = schedule_handler.lambda_handler(scheduled_event(), lambda_context)
    assert (result["outcome"], result["reason"]) == ("skipped", "run-in-flight")
    assert world.execution_count() == 1  # the one in flight


def _other_schedule(event: dict[str, Any]) -> None:
    event["schedule"] = event["schedule"].replace("mlops-dev-retraining", "mlops-dev-batch-inference")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (_other_schedule, "schedule 'mlops-dev-batch-inference' is not this environment's"),
        (lambda e: e.pop("scheduledTime"), "scheduledTime"),
        (lambda e: e.update(scheduledTime="<aws.scheduler.scheduled-time>"), "scheduledTime"),
        (lambda e: e.update(attempt=1), "attempt"),
        (lambda e: e.update(schedule="arn:aws:events:eu-west-1:123456789012:rule/x"), "schedule"),
    ],
    ids=["other-schedule", "no-time", "unfilled-attribute", "attempt-as-number", "not-a-schedule"],
)
def test_misrouted_or_malformed_payloads_are_rejected_and_change_nothing(
    schedule_handler: ModuleType, world: World, scheduled_event, lambda_context, logs, change, message: str
) -> None:
    event = scheduled_event()
    change(event)
    before = world.items()
    with pytest.raises(InvalidEventError, match=message):
        schedule_handler.lambda_handler(event, lambda_context)
    assert (world.items(), world.execution_count()) == (before, 0)
    (error,) = [line for line in logs() if line.get("level") == "ERROR"]
    assert message in error["message"]
