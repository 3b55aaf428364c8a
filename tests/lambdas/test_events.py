"""The event schemas and dataclasses, without AWS: what is accepted, what it becomes, how a rejection reads."""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import jsonschema
import pytest

from lambdas.retrain_on_drift.events import (
    ALARM_STATE_CHANGE_SCHEMA,
    DRIFT_EVENT_SCHEMA,
    VIOLATIONS_REPORT_SCHEMA,
    AlarmStateChange,
    ViolationsReport,
    parse_drift_event,
)
from lambdas.retrain_on_new_data.events import OBJECT_CREATED_SCHEMA, parse_object_created
from lambdas.retrain_on_schedule.events import SCHEDULED_RUN_SCHEMA
from lambdas.shared.validation import Problem, SchemaValidationError
from tests.lambdas.conftest import load_event


def _changed(name: str, change: Callable[[dict[str, Any]], Any]) -> dict[str, Any]:
    event = copy.deepcopy(load_event(name))
    change(event)
    return event


@pytest.mark.parametrize(
    "schema",
    [
        ALARM_STATE_CHANGE_SCHEMA,
        VIOLATIONS_REPORT_SCHEMA,
        DRIFT_EVENT_SCHEMA,
        OBJECT_CREATED_SCHEMA,
        SCHEDULED_RUN_SCHEMA,
    ],
    ids=["alarm", "violations", "drift", "object-created", "scheduled-run"],
)
def test_the_schemas_are_valid_draft_07(schema: dict[str, Any]) -> None:
    assert schema["$schema"] == "http://json-schema.org/draft-07/schema#"
    jsonschema.Draft7Validator.check_schema(schema)  # the reference implementation's meta-schema check


def test_an_alarm_event_becomes_a_frozen_dataclass_with_aware_datetimes() -> None:
    event = parse_drift_event(load_event("alarm_state_change"))
    assert isinstance(event, AlarmStateChange)
    assert event.detail.alarm_name == "mlops-dev-drift-violations"
    assert event.detail.state.timestamp == datetime(2026, 11, 26, 6, 4, 40, 989000, tzinfo=UTC)  # `+0000`
    assert event.time == datetime(2026, 11, 26, 6, 4, 40, tzinfo=UTC)  # `Z`
    assert event.detail.previous_state is not None
    assert event.detail.previous_state.value == "OK"
    assert event.resources == ("arn:aws:cloudwatch:eu-west-1:123456789012:alarm:mlops-dev-drift-violations",)
    with pytest.raises(AttributeError):
        event.detail.alarm_name = "other"  # type: ignore[misc]


def test_a_violations_report_keeps_the_keys_it_does_not_declare() -> None:
    event = parse_drift_event(load_event("drift_violations_report"))
    assert isinstance(event, ViolationsReport)
    first, second = event.detail.violations
    assert (first.check, first.feature, first.value, first.threshold) == ("feature_drift", "age", 0.31, 0.2)
    assert dict(first.extra) == {"method": "psi", "statistics": ["psi"]}
    assert (second.feature, dict(second.extra)) == (None, {"method": "psi", "adjusted_p_value": 1.2e-9})


def test_the_drift_event_kind_is_told_by_its_detail_type() -> None:
    # A violations report's body under the alarm's detail-type is judged by the alarm's schema.
    event = _changed("drift_violations_report", lambda e: e.update({"detail-type": "CloudWatch Alarm State Change"}))
    with pytest.raises(SchemaValidationError) as raised:
        parse_drift_event(event)
    assert raised.value.problems == (Problem("source", "const", "must be same as const definition: aws.cloudwatch"),)


@pytest.mark.parametrize(
    ("name", "change", "problem"),
    [
        (
            "alarm_state_change",
            lambda e: e["detail"]["state"].update(value="OK"),
            Problem("detail.state.value", "const", "must be same as const definition: ALARM"),
        ),
        (
            "alarm_state_change",
            lambda e: e.update({"detail-type": "Object Created"}),
            Problem(
                "detail-type",
                "enum",
                "must be one of ['CloudWatch Alarm State Change', 'Drift Violations Report']",
            ),
        ),
        ("alarm_state_change", lambda e: e.pop("detail-type"), Problem("detail-type", "required", "is required")),
        (
            "alarm_state_change",
            lambda e: e["detail"]["state"].update(timestamp="2026-11-26t06:04:40z"),
            Problem("detail.state.timestamp", "format", "must be date-time"),
        ),
        (
            "alarm_state_change",
            lambda e: e["detail"]["state"].update(timestamp="2026-13-26T06:04:40Z"),
            Problem("detail.state.timestamp", "format", "must be date-time (month must be in 1..12)"),
        ),
        ("alarm_state_change", lambda e: e.update(time=1_764_137_080), Problem("time", "type", "must be string")),
        (
            "alarm_state_change",
            lambda e: e["detail"].update(alarmName=""),
            Problem("detail.alarmName", "minLength", "must be longer than or equal to 1 characters"),
        ),
        (
            "drift_violations_report",
            lambda e: e["detail"]["violations"][1].update(threshold="0.2"),
            Problem("detail.violations.1.threshold", "type", "must be number or null"),
        ),
        (
            "drift_violations_report",
            lambda e: e["detail"].update(violations=[]),
            Problem("detail.violations", "minItems", "must contain at least 1 items"),
        ),
        ("drift_violations_report", lambda e: e.pop("detail"), Problem("detail", "required", "is required")),
        (
            "drift_violations_report",
            lambda e: e["detail"]["violations"][0].update(value=10**400),
            Problem("detail.violations.0.value", "type", "must be a number a float can hold"),
        ),
    ],
    ids=[
        "back-to-ok",
        "unknown-detail-type",
        "no-detail-type",
        "lower-case-timestamp",
        "impossible-date",
        "epoch-time",
        "empty-alarm-name",
        "threshold-as-text",
        "no-violations",
        "no-detail",
        "value-beyond-float",
    ],
)
def test_a_malformed_drift_event_names_the_field_and_the_rule(
    name: str, change: Callable[[dict[str, Any]], Any], problem: Problem
) -> None:
    with pytest.raises(SchemaValidationError) as raised:
        parse_drift_event(_changed(name, change))
    assert raised.value.problems == (problem,)


@pytest.mark.parametrize("size", [1.0, 0.0, True, -1, "12"])
def test_an_object_size_must_be_a_non_negative_int(size: object) -> None:
    event = _changed("object_created", lambda e: e["detail"]["object"].update(size=size))
    with pytest.raises(SchemaValidationError) as raised:
        parse_object_created(event)
    (problem,) = raised.value.problems
    assert problem.loc == "detail.object.size"


def test_a_missing_object_field_is_named_by_its_own_path() -> None:
    event = _changed("object_created", lambda e: [e["detail"]["object"].pop(k) for k in ("size", "sequencer")])
    with pytest.raises(SchemaValidationError) as raised:
        parse_object_created(event)
    assert [str(p) for p in raised.value.problems] == [
        "detail.object.size: is required",
        "detail.object.sequencer: is required",
    ]


def test_an_object_event_with_extra_keys_and_nulls_is_accepted() -> None:
    event = _changed("object_created", lambda e: e["detail"]["object"].update(etag=None, extra={"x": 1}))
    parsed = parse_object_created(event | {"replay-name": None})
    assert (parsed.detail.object.etag, parsed.detail.object.version_id) == (None, "IYV3p45BT0ac8hjHg1houSdS1a.Mro8e")
    assert parsed.detail.bucket_name == "mlops-dev-raw-123456789012-eu-west-1"


@pytest.mark.parametrize(
    ("name", "schema"),
    [
        ("alarm_state_change", DRIFT_EVENT_SCHEMA),
        ("drift_violations_report", DRIFT_EVENT_SCHEMA),
        ("object_created", OBJECT_CREATED_SCHEMA),
    ],
)
def test_the_reference_implementation_agrees_on_the_sample_events(name: str, schema: dict[str, Any]) -> None:
    event = load_event(name)
    validator = jsonschema.Draft7Validator(schema, format_checker=None)
    assert list(validator.iter_errors(event)) == []
    broken = copy.deepcopy(event)
    broken["source"] = "somewhere.else"
    assert [e.validator for e in validator.iter_errors(broken)] == ["const"]
