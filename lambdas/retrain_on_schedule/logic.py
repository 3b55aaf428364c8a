"""Pure decisions of the scheduled trigger: which firing an invocation is and how the run records it.

A scheduled run needs no new data (that is what a schedule is for: retrain on whatever the raw zone holds now),
but it keeps every other rule of `lambdas.shared.starter.Starter`: the cooldown since the last start of any
trigger, no run in flight, the snapshot, the claim. A firing inside the cooldown is skipped, not postponed: the
run that started shortly before read a snapshot of the same raw zone.
"""

from __future__ import annotations

from dataclasses import dataclass

from lambdas.retrain_on_schedule.events import ScheduledRun
from lambdas.shared.observability import InvalidEventError

TRIGGER = "schedule"


@dataclass(frozen=True)
class Firing:
    """One firing of the schedule: `key` identifies it for idempotency (every retry of a firing has the same
    scheduled time), `detail` becomes the run's TriggerDetail, `description` the execution's."""

    key: dict[str, str]
    detail: str
    description: str


def firing_of(event: ScheduledRun, *, schedule_name: str) -> Firing:
    """The firing, or InvalidEventError when another schedule invoked the function."""
    if event.schedule_name != schedule_name:
        raise InvalidEventError(f"schedule {event.schedule_name!r} is not this environment's {schedule_name!r}")
    when = event.scheduled_time.isoformat()
    return Firing(
        key={"schedule": event.schedule_arn, "scheduledTime": when},
        detail=f"{event.schedule_arn}@{when}",
        description=f"schedule {event.schedule_name} fired for {when} (attempt {event.attempt})",
    )
