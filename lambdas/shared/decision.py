"""The rules both triggers apply before starting a run, as pure functions of what the adapters read."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

Outcome = Literal["started", "skipped"]


@dataclass(frozen=True)
class Decision:
    """What a trigger decided for one event, and why; logged, counted and returned as is."""

    outcome: Outcome
    # started | cooldown | run-in-flight | below-threshold | concurrent-start | empty-object | not-data |
    # report-recorded | report-superseded (a drift report kept for the alarm that starts the run)
    reason: str
    detail: str
    trigger: str  # the pipeline's Trigger parameter: drift | new-data | schedule
    execution_arn: str | None = None
    input_manifest_uri: str | None = None  # the data snapshot the run reads

    @property
    def start(self) -> bool:
        return self.outcome == "started"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def cooldown_remaining(*, now: datetime, last_started_at: datetime | None, cooldown: timedelta) -> timedelta | None:
    """Time left before another run may start, or None when the last start is far enough back (or there is none)."""
    if last_started_at is None:
        return None
    remaining = last_started_at + cooldown - now
    return remaining if remaining > timedelta(0) else None


def cooldown_skip(
    *, trigger: str, now: datetime, last_started_at: datetime | None, cooldown: timedelta
) -> Decision | None:
    """A skip while the last start is less than `cooldown` ago; None when a start is allowed."""
    remaining = cooldown_remaining(now=now, last_started_at=last_started_at, cooldown=cooldown)
    if remaining is None or last_started_at is None:
        return None
    return Decision(
        outcome="skipped",
        reason="cooldown",
        detail=f"last run started {last_started_at.isoformat()}; the cooldown of {_hours(cooldown)} "
        f"ends in {_hours(remaining)}",
        trigger=trigger,
    )


def in_flight_skip(*, trigger: str, run_in_flight: bool) -> Decision | None:
    """A skip while an execution of the pipeline is running; None otherwise."""
    if not run_in_flight:
        return None
    return Decision(
        outcome="skipped", reason="run-in-flight", detail="an execution of the pipeline is Executing", trigger=trigger
    )


def _hours(delta: timedelta) -> str:
    return f"{delta.total_seconds() / 3600:.1f} h"
