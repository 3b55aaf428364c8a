"""The two events that mean "the live model drifted": one JSON Schema each, frozen dataclasses, one parser.

- `CloudWatch Alarm State Change` (source `aws.cloudwatch`) of an alarm going to ALARM: the alarm ARN in
  `resources`, the moment it entered ALARM in `detail.state.timestamp`.
- `Drift Violations Report` (source `mlops.monitoring`), put by the monitoring pipeline: the report's S3 URI and
  the violations it lists (the items of `violations.json` written by `pipeline_code.drift`).

`DRIFT_EVENT_SCHEMA` tells the two apart by `detail-type` (an unknown one is an error naming `detail-type`) and
applies the matching schema; it is compiled once, at import. `parse_drift_event` validates, then builds the
dataclass. Whether the alarm is one of this environment's drift alarms is the trigger's decision (`logic`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Any

from lambdas.shared.events import NON_EMPTY, STRING, TIMESTAMP, EventBridgeEnvelope, envelope_schema
from lambdas.shared.validation import Problem, SchemaValidationError, compile_schema, moment

ALARM_ARN = r"^arn:aws[a-z-]*:cloudwatch:[a-z0-9-]+:\d{12}:alarm:.+$"
S3_URI = r"^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]/\S+$"
ALARM_STATE_CHANGE = "CloudWatch Alarm State Change"
VIOLATIONS_REPORT = "Drift Violations Report"
NUMBER_OR_NULL: dict[str, Any] = {"type": ["number", "null"]}

ALARM_STATE_CHANGE_SCHEMA = envelope_schema(
    source="aws.cloudwatch",
    detail_type=ALARM_STATE_CHANGE,
    resources={"type": "array", "minItems": 1, "items": {"type": "string", "pattern": ALARM_ARN}},
    detail={
        "type": "object",
        "required": ["alarmName", "state"],
        "properties": {
            "alarmName": NON_EMPTY,
            "state": {
                "type": "object",
                "required": ["value", "timestamp"],
                "properties": {
                    # The rule matches only transitions into ALARM; anything else is misrouted.
                    "value": {"const": "ALARM"},
                    # When the alarm entered this state: with the alarm ARN, the episode's identity.
                    "timestamp": TIMESTAMP,
                    "reason": STRING,
                },
            },
            "previousState": {
                "type": ["object", "null"],
                "required": ["value"],
                "properties": {"value": STRING, "timestamp": {"type": ["string", "null"], "format": "date-time"}},
            },
        },
    },
)

VIOLATIONS_REPORT_SCHEMA = envelope_schema(
    source="mlops.monitoring",
    detail_type=VIOLATIONS_REPORT,
    detail={
        "type": "object",
        "required": ["environment", "reportUri", "violations"],
        "properties": {
            "environment": NON_EMPTY,  # <project>-<env>; the rule matches only this environment's reports
            "reportUri": {"type": "string", "maxLength": 1024, "pattern": S3_URI},
            "violations": {
                "type": "array",
                "minItems": 1,
                "items": {
                    "type": "object",
                    "required": ["check", "value", "threshold"],  # extra keys (`method`, ...) are kept
                    "properties": {
                        "check": NON_EMPTY,
                        # null where a statistic could not be computed (e.g. the AUC of a one-class window)
                        "value": NUMBER_OR_NULL,
                        "threshold": NUMBER_OR_NULL,
                        "feature": {"type": ["string", "null"]},
                    },
                },
            },
        },
    },
)

DRIFT_EVENT_SCHEMA: dict[str, Any] = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "type": "object",
    "required": ["detail-type"],
    "properties": {"detail-type": {"enum": [ALARM_STATE_CHANGE, VIOLATIONS_REPORT]}},
    "if": {"properties": {"detail-type": {"const": ALARM_STATE_CHANGE}}},
    "then": ALARM_STATE_CHANGE_SCHEMA,
    "else": VIOLATIONS_REPORT_SCHEMA,
}

_validate = compile_schema(DRIFT_EVENT_SCHEMA)


@dataclass(frozen=True, slots=True)
class AlarmState:
    value: str  # always ALARM
    timestamp: datetime
    reason: str = ""


@dataclass(frozen=True, slots=True)
class PreviousAlarmState:
    value: str
    timestamp: datetime | None = None


@dataclass(frozen=True, slots=True)
class AlarmDetail:
    alarm_name: str
    state: AlarmState
    previous_state: PreviousAlarmState | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class AlarmStateChange(EventBridgeEnvelope):
    detail: AlarmDetail


@dataclass(frozen=True, slots=True)
class Violation:
    """One item of `violations.json`: a check over its threshold; keys not declared here (`method`, ...) are
    kept in `extra`, read-only."""

    check: str
    value: float | None
    threshold: float | None
    feature: str | None = None
    extra: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True, slots=True)
class ViolationsDetail:
    environment: str
    report_uri: str
    violations: tuple[Violation, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class ViolationsReport(EventBridgeEnvelope):
    detail: ViolationsDetail


DriftEvent = AlarmStateChange | ViolationsReport
_VIOLATION_FIELDS = frozenset({"check", "value", "threshold", "feature"})


def parse_drift_event(event: Any) -> DriftEvent:
    """The event as a dataclass, or SchemaValidationError naming the first invalid field."""
    _validate(event)
    envelope = EventBridgeEnvelope.fields_of(event)
    detail = event["detail"]
    if event["detail-type"] == ALARM_STATE_CHANGE:
        return AlarmStateChange(**envelope, detail=_alarm_detail(detail))
    return ViolationsReport(
        **envelope,
        detail=ViolationsDetail(
            environment=detail["environment"],
            report_uri=detail["reportUri"],
            violations=tuple(
                _violation(item, f"detail.violations.{index}") for index, item in enumerate(detail["violations"])
            ),
        ),
    )


def _alarm_detail(detail: dict[str, Any]) -> AlarmDetail:
    state = detail["state"]
    previous = detail.get("previousState")
    return AlarmDetail(
        alarm_name=detail["alarmName"],
        state=AlarmState(
            value=state["value"],
            timestamp=moment(state["timestamp"], "detail.state.timestamp"),
            reason=state.get("reason", ""),
        ),
        previous_state=None
        if previous is None
        else PreviousAlarmState(
            value=previous["value"],
            timestamp=None
            if previous.get("timestamp") is None
            else moment(previous["timestamp"], "detail.previousState.timestamp"),
        ),
    )


def _violation(item: dict[str, Any], loc: str) -> Violation:
    return Violation(
        check=item["check"],
        value=_float(item["value"], f"{loc}.value"),
        threshold=_float(item["threshold"], f"{loc}.threshold"),
        feature=item.get("feature"),
        extra=MappingProxyType({k: v for k, v in item.items() if k not in _VIOLATION_FIELDS}),
    )


def _float(value: float | None, loc: str) -> float | None:
    """JSON numbers as floats; an integer too large for a float (1e400 written out) is invalid, not a crash."""
    if value is None:
        return None
    try:
        return float(value)
    except OverflowError:
        raise SchemaValidationError((Problem(loc, "type", "must be a number a float can hold"),)) from None
