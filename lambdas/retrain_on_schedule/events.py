"""The payload `<prefix>-retraining` (EventBridge Scheduler) sends: a JSON Schema (compiled once, at import), a
frozen dataclass and `parse_scheduled_run`.

Scheduler invokes a Lambda target asynchronously with the target's `Input` as the event, and that input is ours:
the unit sets it (`stacks/units/retraining_triggers.py`, `SCHEDULED_RUN_INPUT`) to this object, whose values are
Scheduler's context attributes, filled in at each invocation:
`{"schedule": "<aws.scheduler.schedule-arn>", "scheduledTime": "<aws.scheduler.scheduled-time>",
"attempt": "<aws.scheduler.attempt-number>"}`. The scheduled time is the same for every retry of one firing;
the attempt number (and the execution id, left out) are not.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from lambdas.shared.validation import compile_schema, moment

# arn:<partition>:scheduler:<region>:<account>:schedule/<group>/<name>
SCHEDULE_ARN = r"^arn:aws[a-z-]*:scheduler:[a-z0-9-]+:[0-9]{12}:schedule/[0-9a-zA-Z_.-]{1,64}/[0-9a-zA-Z_.-]{1,64}$"

SCHEDULED_RUN_SCHEMA: dict[str, Any] = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "type": "object",
    "required": ["schedule", "scheduledTime", "attempt"],
    "properties": {
        "schedule": {"type": "string", "pattern": SCHEDULE_ARN},
        "scheduledTime": {"type": "string", "format": "date-time"},
        # Scheduler substitutes it into the JSON string it was written in: a number as text.
        "attempt": {"type": "string", "pattern": r"^[1-9][0-9]{0,3}$"},
    },
}

_validate = compile_schema(SCHEDULED_RUN_SCHEMA)


@dataclass(frozen=True, slots=True)
class ScheduledRun:
    schedule_arn: str
    schedule_name: str
    scheduled_time: datetime
    attempt: int


def parse_scheduled_run(event: Any) -> ScheduledRun:
    """The scheduler's payload as a dataclass, or SchemaValidationError naming the first invalid field."""
    _validate(event)
    arn = event["schedule"]
    return ScheduledRun(
        schedule_arn=arn,
        schedule_name=arn.rsplit("/", 1)[1],
        scheduled_time=moment(event["scheduledTime"], "scheduledTime"),
        attempt=int(event["attempt"]),
    )
