"""The pure decision rules, without AWS: cooldown, run in flight, thresholds, row estimate, episodes."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from lambdas.retrain_on_drift.events import AlarmStateChange, ViolationsReport, parse_drift_event
from lambdas.retrain_on_drift.logic import CLOCK_SKEW, REPORT_MAX_AGE, cause_of, check_alarm, episode_of, recorded
from lambdas.retrain_on_new_data.logic import below_threshold, estimated_rows
from lambdas.shared.adapters import LedgerState
from lambdas.shared.decision import cooldown_remaining, cooldown_skip, in_flight_skip
from lambdas.shared.observability import InvalidEventError
from tests.lambdas.conftest import load_event

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
DAY = timedelta(hours=24)


def _state(rows: int, size: int) -> LedgerState:
    return LedgerState(
        last_started_at=None, started_marker=None, new_rows=rows, new_bytes=size, new_objects=1, latest_key="adult/x"
    )


@pytest.mark.parametrize(
    ("last", "blocked"),
    [
        (None, False),
        (NOW - DAY - timedelta(seconds=1), False),
        (NOW - DAY, False),
        (NOW - DAY + timedelta(seconds=1), True),
    ],
    ids=["never", "just-after", "exactly-at-the-end", "just-inside"],
)
def test_the_cooldown_ends_exactly_after_its_hours(last: datetime | None, blocked: bool) -> None:
    skip = cooldown_skip(trigger="drift", now=NOW, last_started_at=last, cooldown=DAY)
    assert (skip is not None) is blocked
    if skip:
        assert (skip.outcome, skip.reason) == ("skipped", "cooldown")


def test_a_zero_hour_cooldown_never_blocks() -> None:
    assert cooldown_remaining(now=NOW, last_started_at=NOW, cooldown=timedelta(0)) is None


def test_a_run_in_flight_blocks() -> None:
    assert in_flight_skip(trigger="new-data", run_in_flight=False) is None
    skip = in_flight_skip(trigger="new-data", run_in_flight=True)
    assert skip is not None
    assert skip.reason == "run-in-flight"


@pytest.mark.parametrize(
    ("rows", "size", "start"),
    [(9_999, 9_999_999, False), (10_000, 0, True), (0, 10_000_000, True), (10_000, 10_000_000, True)],
    ids=["below-both", "rows-reached", "bytes-reached", "both"],
)
def test_whichever_threshold_is_reached_first_allows_a_start(rows: int, size: int, start: bool) -> None:
    skip = below_threshold(_state(rows, size), min_rows=10_000, min_bytes=10_000_000)
    assert (skip is None) is start


def test_rows_are_estimated_upwards_from_bytes() -> None:
    assert [estimated_rows(n, average_row_bytes=122) for n in (1, 122, 123, 1_220_000)] == [1, 1, 2, 10_000]


def test_an_alarm_episode_is_its_arn_and_transition_time_not_the_event_id() -> None:
    event = load_event("alarm_state_change")
    other = json.loads(json.dumps(event)) | {"id": "another-delivery", "time": "2026-11-26T06:05:00Z"}
    episodes = [episode_of(_alarm(e), _state(0, 0), reports_uri="s3://b/monitoring/reports/") for e in (event, other)]
    assert (
        episodes[0].key
        == episodes[1].key
        == {
            "alarm": event["resources"][0],
            "since": "2026-11-26T06:04:40.989000+00:00",
        }
    )


def test_an_alarm_of_another_environment_is_not_an_episode() -> None:
    event = load_event("alarm_state_change")
    with pytest.raises(InvalidEventError, match="not a drift alarm"):
        check_alarm(_alarm(event), alarm_prefix="mlops-prod-drift-")


def _alarm(event: dict[str, Any]) -> AlarmStateChange:
    parsed = parse_drift_event(event)
    assert isinstance(parsed, AlarmStateChange)
    return parsed


SINCE = datetime(2026, 11, 26, 6, 4, 40, 989000, tzinfo=UTC)  # the fixture alarm's transition into ALARM


@pytest.mark.parametrize(
    ("sent_before", "is_cause"),
    [
        (timedelta(minutes=1), True),  # the check's event, then the alarm a minute later: the usual order
        (REPORT_MAX_AGE, True),
        (REPORT_MAX_AGE + timedelta(seconds=1), False),  # a report older than the alarm's reach
        (-CLOCK_SKEW, True),  # sent "after" the transition, within the clock skew allowed
        (-CLOCK_SKEW - timedelta(seconds=1), False),  # a later report cannot have caused it
    ],
)
def test_an_alarm_names_the_report_sent_shortly_before_it_as_its_cause(sent_before: timedelta, is_cause: bool) -> None:
    state = replace(_state(0, 0), drift_report_uri="s3://b/r/violations.json", drift_report_at=SINCE - sent_before)
    assert cause_of(SINCE, state) == ("s3://b/r/violations.json" if is_cause else None)
    episode = episode_of(_alarm(load_event("alarm_state_change")), state, reports_uri="s3://b/r/")
    if is_cause:
        assert episode.key == {"report": "s3://b/r/violations.json"}
        assert episode.detail == "s3://b/r/violations.json"
    else:
        assert episode.key["since"] == SINCE.isoformat()
        assert episode.detail.endswith("@" + episode.key["since"])


def test_a_recorded_report_reads_a_smaller_is_worse_check_the_right_way_round() -> None:
    event = load_event("drift_violations_report")
    event["detail"]["violations"] = [
        {"check": "attribution_drift", "method": "ndcg", "value": 0.85, "threshold": 0.9, "direction": "below"}
    ]
    report = parse_drift_event(event)
    assert isinstance(report, ViolationsReport)
    assert "attribution_drift 0.85 <= 0.9" in recorded(report, newest=True).detail
