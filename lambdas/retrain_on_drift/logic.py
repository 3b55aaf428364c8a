"""Pure decisions of the drift trigger: which episode an event belongs to and how the run records its cause.

The alarm starts the run; the violations report names its cause. The monitoring pipeline's drift check puts its
metrics (the `<prefix>-drift-*` alarms watch them) and, when it found violations, a `Drift Violations Report`
event naming the report, in that order and within the same second. A report is an observation, an alarm's
transition into ALARM is a decision CloudWatch already debounced (its threshold, its period, one transition while
drift persists, actions an operator can disable), so:

- the report event only records the report as the environment's latest (`record_report`); it starts nothing;
- the alarm's transition starts the run, with the latest report as its cause when that report was sent shortly
  before the transition (`REPORT_MAX_AGE`): TriggerDetail is the report's URI and the episode is the report, so
  two alarms on one report's metrics (violations, prediction PSI, AUC) are one episode, the second delivery an
  idempotent duplicate rather than a cooldown skip. With no such report (an alarm on Model Monitor's own metrics,
  or the report's event delayed past the alarm) the episode is the alarm's ARN @ the moment it entered ALARM.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from lambdas.retrain_on_drift.events import AlarmStateChange, ViolationsReport
from lambdas.shared.adapters import LedgerState
from lambdas.shared.decision import Decision
from lambdas.shared.observability import InvalidEventError

TRIGGER = "drift"
# How long before an alarm's transition a report may have been sent and still be its cause: the drift alarms
# evaluate one 1-hour period (stacks/units/monitoring_alarms.PERIOD), so a report from the period before is the
# oldest whose metrics the transition can reflect.
REPORT_MAX_AGE = timedelta(hours=2)
# A report sent after the transition cannot have caused it; this much clock skew between the services is allowed.
CLOCK_SKEW = timedelta(minutes=5)


@dataclass(frozen=True)
class Episode:
    """One drift episode: `key` identifies it for idempotency, `detail` becomes the run's TriggerDetail (model
    metadata: the report's URI, or the alarm's ARN @ the moment it entered ALARM), `description` the execution's
    description (free text: the alarm's reason, the report)."""

    key: dict[str, str]
    detail: str
    description: str


def check_alarm(event: AlarmStateChange, *, alarm_prefix: str) -> None:
    name = event.detail.alarm_name
    if not name.startswith(alarm_prefix):
        raise InvalidEventError(f"alarm {name!r} is not a drift alarm of this environment ({alarm_prefix}*)")


def check_report(event: ViolationsReport, *, environment: str) -> None:
    if event.detail.environment != environment:
        raise InvalidEventError(f"violations report of environment {event.detail.environment!r}, not {environment!r}")


def episode_of(event: AlarmStateChange, state: LedgerState, *, reports_uri: str) -> Episode:
    """The report that caused the alarm's transition (see the module), or the alarm's ARN and the moment it
    entered ALARM. The same transition delivered twice is the same episode; a later transition into ALARM is a
    new one (and meets the cooldown instead)."""
    name, arn = event.detail.alarm_name, event.resources[0]
    since = event.detail.state.timestamp
    reason = " ".join(event.detail.state.reason.split())
    report = cause_of(since, state)
    if report is not None:
        return Episode(
            key={"report": report},
            detail=report,
            description=f"alarm {name} in ALARM since {since.isoformat()} on drift report {report}; reason: {reason}",
        )
    return Episode(
        key={"alarm": arn, "since": since.isoformat()},
        detail=f"{arn}@{since.isoformat()}",
        description=f"alarm {name} in ALARM since {since.isoformat()}; no drift report sent in the "
        f"{_hours(REPORT_MAX_AGE)} before (reports under {reports_uri}); reason: {reason}",
    )


def cause_of(since: datetime, state: LedgerState) -> str | None:
    """The latest recorded report when it was sent in the `REPORT_MAX_AGE` before `since` (skew allowed)."""
    at = state.drift_report_at
    if state.drift_report_uri is None or at is None:
        return None
    return state.drift_report_uri if since - REPORT_MAX_AGE <= at <= since + CLOCK_SKEW else None


def recorded(event: ViolationsReport, *, newest: bool) -> Decision:
    """What the trigger did with a violations report: recorded it for the alarm, which starts the run."""
    found = ", ".join(
        f"{v.check}{'(' + v.feature + ')' if v.feature else ''} {_number(v.value)} "
        f"{'<=' if v.extra.get('direction') == 'below' else '>'} {_number(v.threshold)}"
        for v in event.detail.violations
    )
    what = "recorded as the latest drift report" if newest else "older than the report recorded, kept out"
    return Decision(
        outcome="skipped",
        reason="report-recorded" if newest else "report-superseded",
        detail=f"{event.detail.report_uri}: {len(event.detail.violations)} violation(s): {found}; {what}; "
        "a drift alarm's transition into ALARM starts the run",
        trigger=TRIGGER,
    )


def _hours(delta: timedelta) -> str:
    return f"{delta.total_seconds() / 3600:g} h"


def _number(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4g}"
