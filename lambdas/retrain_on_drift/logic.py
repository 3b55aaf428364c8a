"""Pure decisions of the drift trigger: which episode an event belongs to and how the run records its cause."""

from __future__ import annotations

from dataclasses import dataclass

from lambdas.retrain_on_drift.events import AlarmStateChange, ViolationsReport
from lambdas.shared.observability import InvalidEventError

TRIGGER = "drift"


@dataclass(frozen=True)
class Episode:
    """One drift episode: `key` identifies it for idempotency, `detail` becomes the run's TriggerDetail (model
    metadata: the report's URI, or the alarm's ARN @ the moment it entered ALARM), `description` the execution's
    description (free text: the alarm's reason, the violations)."""

    key: dict[str, str]
    detail: str
    description: str


def episode_of(
    event: AlarmStateChange | ViolationsReport, *, alarm_prefix: str, environment: str, reports_uri: str
) -> Episode:
    """The alarm's ARN and the moment it entered ALARM, or the violations report's URI.

    The same transition delivered twice is the same episode; a later transition into ALARM is a new one (and
    meets the cooldown instead).
    """
    if isinstance(event, AlarmStateChange):
        name = event.detail.alarm_name
        if not name.startswith(alarm_prefix):
            raise InvalidEventError(f"alarm {name!r} is not a drift alarm of this environment ({alarm_prefix}*)")
        since = event.detail.state.timestamp.isoformat()
        reason = " ".join(event.detail.state.reason.split())
        return Episode(
            key={"alarm": event.resources[0], "since": since},
            detail=f"{event.resources[0]}@{since}",
            description=f"alarm {name} in ALARM since {since}; reports under {reports_uri}; reason: {reason}",
        )
    if event.detail.environment != environment:
        raise InvalidEventError(f"violations report of environment {event.detail.environment!r}, not {environment!r}")
    found = ", ".join(
        f"{v.check}{'(' + v.feature + ')' if v.feature else ''} {_number(v.value)} > {_number(v.threshold)}"
        for v in event.detail.violations
    )
    return Episode(
        key={"report": event.detail.report_uri},
        detail=event.detail.report_uri,
        description=f"drift report {event.detail.report_uri}: {len(event.detail.violations)} violation(s): {found}",
    )


def _number(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4g}"
