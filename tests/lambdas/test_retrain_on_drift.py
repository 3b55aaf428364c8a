"""Retrain on drift, against moto: one start per drift episode, never inside the cooldown or beside a run."""

from __future__ import annotations

import copy
import warnings
from datetime import datetime, timedelta
from types import ModuleType
from typing import Any

import pytest
from aws_lambda_powertools.warnings import PowertoolsUserWarning

from lambdas.shared.observability import InvalidEventError
from tests.lambdas.conftest import ENVIRONMENT, PIPELINE_PARAMETERS, RAW_BUCKET, TRAINING_KEY, World


def _started(world: World) -> list[dict[str, Any]]:
    return world.executions()


def test_an_alarm_going_to_alarm_starts_one_run_that_records_its_cause(
    drift_handler: ModuleType, world: World, alarm_event: dict, lambda_context
) -> None:
    # Given a drift alarm's transition into ALARM and no run yet
    # When it is delivered
    result = drift_handler.lambda_handler(alarm_event, lambda_context)
    # Then one execution starts, with the cause in its lineage parameters
    assert result["outcome"] == "started"
    (execution,) = _started(world)
    assert execution["PipelineExecutionArn"] == result["execution_arn"]
    assert execution["Parameters"]["Trigger"] == "drift"
    # TriggerDetail (model metadata) names the episode: the alarm's ARN @ its transition into ALARM
    assert execution["Parameters"]["TriggerDetail"] == f"{alarm_event['resources'][0]}@2026-11-26T06:04:40.989000+00:00"
    # the free text is in the execution's description
    described = execution["PipelineExecutionDescription"]
    assert alarm_event["detail"]["alarmName"] in described
    assert f"s3://{ENVIRONMENT}-artifacts-" in described
    assert "/monitoring/reports/" in described
    assert set(execution["Parameters"]) == set(PIPELINE_PARAMETERS) - {"CodeVersion"}
    # the run reads a snapshot of the raw zone's training data
    assert world.manifest(execution["Parameters"]["InputManifestUri"]) == [
        {"prefix": f"s3://{RAW_BUCKET}/"},
        TRAINING_KEY,
    ]
    # and the ledger remembers when and why
    ledger = world.ledger()
    assert ledger["last_trigger"]["S"] == "drift"
    assert ledger["last_execution_arn"]["S"] == result["execution_arn"]


def test_a_duplicate_delivery_starts_exactly_one_run(
    drift_handler: ModuleType, world: World, alarm_event: dict, lambda_context, logs
) -> None:
    first = drift_handler.lambda_handler(alarm_event, lambda_context)
    # EventBridge delivers at least once: the same event again, with the same id and the same state timestamp
    second = drift_handler.lambda_handler(copy.deepcopy(alarm_event), lambda_context)
    assert first == second
    assert world.execution_count() == 1
    assert [line["message"] for line in logs() if "message" in line][-1].startswith("duplicate delivery")


def test_the_same_episode_in_a_new_event_envelope_is_still_one_run(
    drift_handler: ModuleType, world: World, alarm_event: dict, lambda_context
) -> None:
    # A replayed or re-put event has a new id, but it is the same alarm ARN and the same transition timestamp.
    drift_handler.lambda_handler(alarm_event, lambda_context)
    again = copy.deepcopy(alarm_event) | {"id": "0f5c4a2e-0000-4000-8000-000000000001", "replay-name": "replay-1"}
    drift_handler.lambda_handler(again, lambda_context)
    assert world.execution_count() == 1


def test_a_new_alarm_episode_inside_the_cooldown_is_skipped(
    drift_handler: ModuleType, world: World, alarm_event: dict, lambda_context
) -> None:
    drift_handler.lambda_handler(alarm_event, lambda_context)
    later = copy.deepcopy(alarm_event)
    later["detail"]["state"]["timestamp"] = "2026-11-26T09:04:40.000+0000"  # a new transition into ALARM
    result = drift_handler.lambda_handler(later, lambda_context)
    assert result["outcome"] == "skipped"
    assert result["reason"] == "cooldown"
    assert "24.0 h" in result["detail"]
    assert world.execution_count() == 1


def test_a_run_in_flight_skips_the_start(
    drift_handler: ModuleType, world: World, alarm_event: dict, lambda_context
) -> None:
    world.set_run_in_flight()
    result = drift_handler.lambda_handler(alarm_event, lambda_context)
    assert (result["outcome"], result["reason"]) == ("skipped", "run-in-flight")
    assert world.execution_count() == 1  # only the one already running
    assert "last_started_at" not in world.ledger()


def _report_before(violations_event: dict, alarm_event: dict, minutes: float) -> dict:
    """The violations event sent `minutes` before the alarm's transition into ALARM (as the drift check puts it,
    right after the metrics the alarm evaluates)."""
    since = datetime.fromisoformat(alarm_event["detail"]["state"]["timestamp"].replace("+0000", "+00:00"))
    event = copy.deepcopy(violations_event)
    event["time"] = (since - timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return event


def test_a_violations_report_is_recorded_and_starts_nothing(
    drift_handler: ModuleType, world: World, violations_event: dict, lambda_context
) -> None:
    result = drift_handler.lambda_handler(violations_event, lambda_context)
    assert (result["outcome"], result["reason"]) == ("skipped", "report-recorded")
    assert "feature_drift(age) 0.31 > 0.2" in result["detail"]
    assert "2 violation(s)" in result["detail"]
    assert world.execution_count() == 0
    assert world.ledger()["drift_report_uri"]["S"] == violations_event["detail"]["reportUri"]


def test_the_alarm_on_a_reports_metrics_starts_the_run_naming_the_report(
    drift_handler: ModuleType, world: World, violations_event: dict, alarm_event: dict, lambda_context, logs
) -> None:
    report = _report_before(violations_event, alarm_event, minutes=3)
    drift_handler.lambda_handler(report, lambda_context)
    result = drift_handler.lambda_handler(alarm_event, lambda_context)
    assert result["outcome"] == "started"
    (execution,) = _started(world)
    assert execution["Parameters"]["TriggerDetail"] == report["detail"]["reportUri"]
    assert alarm_event["detail"]["alarmName"] in execution["PipelineExecutionDescription"]
    # a second drift alarm on the same report's metrics (prediction PSI, say) is the same episode: an idempotent
    # duplicate of the first, not a second decision that the cooldown happens to skip
    other = copy.deepcopy(alarm_event) | {"id": "0f5c4a2e-0000-4000-8000-000000000002"}
    other["resources"] = [alarm_event["resources"][0] + "-prediction"]
    other["detail"]["alarmName"] += "-prediction"
    assert drift_handler.lambda_handler(other, lambda_context) == result
    assert [line["message"] for line in logs() if "message" in line][-1].startswith("duplicate delivery")
    assert world.execution_count() == 1


def test_an_older_report_neither_replaces_the_latest_nor_causes_a_later_alarm(
    drift_handler: ModuleType, world: World, violations_event: dict, alarm_event: dict, lambda_context
) -> None:
    latest = _report_before(violations_event, alarm_event, minutes=150)  # before the alarm's 2-hour reach
    drift_handler.lambda_handler(latest, lambda_context)
    older = _report_before(violations_event, alarm_event, minutes=200)
    older["detail"]["reportUri"] = older["detail"]["reportUri"].replace("/v", "/older")
    result = drift_handler.lambda_handler(older, lambda_context)
    assert result["reason"] == "report-superseded"
    assert world.ledger()["drift_report_uri"]["S"] == latest["detail"]["reportUri"]
    # the alarm goes to ALARM 150 minutes after the latest report: not its cause; the episode is the alarm's own
    started = drift_handler.lambda_handler(alarm_event, lambda_context)
    (execution,) = _started(world)
    assert started["outcome"] == "started"
    assert execution["Parameters"]["TriggerDetail"].startswith(alarm_event["resources"][0] + "@")
    assert "no drift report sent in the 2 h before" in execution["PipelineExecutionDescription"]


def test_each_decision_is_one_json_log_line_and_one_metric(
    drift_handler: ModuleType, world: World, alarm_event: dict, lambda_context, logs
) -> None:
    world.set_run_in_flight()
    drift_handler.lambda_handler(alarm_event, lambda_context)
    lines = logs()
    (decision,) = [line for line in lines if "decision" in line]
    assert decision["level"] == "INFO"
    assert decision["service"] == "retrain-on-drift"
    assert decision["decision"]["reason"] == "run-in-flight"
    assert decision["function_request_id"] == lambda_context.aws_request_id
    (emf,) = [line for line in lines if "_aws" in line]
    directive = emf["_aws"]["CloudWatchMetrics"][0]
    assert directive["Namespace"] == "MLOps/Retraining"
    assert [m["Name"] for m in directive["Metrics"]] == ["RetrainDecisions"]
    assert (emf["Environment"], emf["Trigger"], emf["Outcome"], emf["Reason"]) == (
        ENVIRONMENT, "drift", "skipped", "run-in-flight"
    )  # fmt: skip
    assert emf["RetrainDecisions"] == [1.0] or emf["RetrainDecisions"] == 1.0


def test_metrics_warn_about_no_dimension_in_either_handler_or_across_invocations(
    drift_handler: ModuleType,
    new_data_handler: ModuleType,
    world: World,
    alarm_event: dict,
    object_event,
    lambda_context,
) -> None:
    # Both handlers in one process share Powertools' metric store (as in these tests and the benchmark), and each
    # invocation flushes it: a dimension added twice (e.g. through set_default_dimensions) would warn here.
    with warnings.catch_warnings():
        warnings.simplefilter("error", PowertoolsUserWarning)
        for _ in range(2):
            drift_handler.lambda_handler(copy.deepcopy(alarm_event), lambda_context)
            new_data_handler.lambda_handler(object_event(122), lambda_context)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda e: e["detail"].update(alarmName="mlops-dev-latency-p99"), "not a drift alarm"),
        (lambda e: e["detail"]["state"].update(value="OK"), "detail.state.value"),
        (lambda e: e.update(resources=["not-an-arn"]), "resources.0"),
    ],
    ids=["other-alarm", "back-to-ok", "bad-arn"],
)
def test_an_event_that_is_not_a_drift_episode_is_rejected_and_changes_nothing(
    drift_handler: ModuleType,
    world: World,
    alarm_event: dict,
    lambda_context,
    logs,
    change,
    message: str,
) -> None:
    change(alarm_event)
    before = world.items()
    with pytest.raises(InvalidEventError, match=message.replace(".", r"\.")):
        drift_handler.lambda_handler(alarm_event, lambda_context)
    assert world.execution_count() == 0
    assert world.items() == before
    (error,) = [line for line in logs() if line.get("level") == "ERROR"]
    assert error["message"].startswith("invalid event rejected")


def test_a_malformed_event_is_logged_with_the_field_path_and_the_rule(
    drift_handler: ModuleType, world: World, alarm_event: dict, lambda_context, logs
) -> None:
    alarm_event["detail"]["state"]["value"] = "OK"
    expected = "1 validation error(s): detail.state.value: must be same as const definition: ALARM"
    with pytest.raises(InvalidEventError) as raised:
        drift_handler.lambda_handler(alarm_event, lambda_context)
    assert str(raised.value) == expected
    lines = logs()
    (error,) = [line for line in lines if line.get("level") == "ERROR"]
    assert error["message"] == f"invalid event rejected: {expected}"
    assert error["validation_errors"] == [
        {"loc": "detail.state.value", "type": "const", "msg": "must be same as const definition: ALARM"}
    ]
    (emf,) = [line for line in lines if "_aws" in line]
    assert (emf["Environment"], emf["Trigger"], emf["Outcome"], emf["Reason"]) == (
        ENVIRONMENT, "drift", "rejected", "invalid-event"
    )  # fmt: skip


def test_a_violations_report_of_another_environment_is_rejected(
    drift_handler: ModuleType, world: World, violations_event: dict, lambda_context
) -> None:
    violations_event["detail"]["environment"] = "mlops-prod"
    with pytest.raises(InvalidEventError, match="mlops-prod"):
        drift_handler.lambda_handler(violations_event, lambda_context)
    assert world.execution_count() == 0
