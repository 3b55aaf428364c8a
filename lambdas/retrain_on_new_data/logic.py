"""Pure decisions of the new-data trigger: which objects count, how many rows they hold, whether enough arrived.

Rows are estimated from the event's byte size (`ceil(size / average_row_bytes)`), not counted by reading the
object: the event carries the exact size for free, reading would cost a GET and a KMS decrypt per object (and
read access to the raw zone), and a threshold of "about 10,000 new rows" does not need an exact count. The
average row size is measured on the shipped data set (see the unit test that checks it).

Only the training data prefix (`adult/`) counts, not `feedback/`: the monitoring pipeline writes a feedback file
in the same run that reports drift, so counting it would start a second run for one cause (and spend the
cooldown with a vaguer reason). Feedback still reaches training: every run's snapshot lists `feedback/` too.
"""

from __future__ import annotations

import math

from lambdas.retrain_on_new_data.events import ObjectCreated
from lambdas.shared.adapters import LedgerState
from lambdas.shared.decision import Decision
from lambdas.shared.observability import InvalidEventError
from lambdas.shared.snapshot import DATA_SUFFIXES

TRIGGER = "new-data"


def check_object(event: ObjectCreated, *, raw_bucket: str, input_prefix: str) -> None:
    """Objects outside the training input (another bucket, another prefix) are misrouted events."""
    bucket, key = event.detail.bucket_name, event.detail.object.key
    if bucket != raw_bucket:
        raise InvalidEventError(f"object in bucket {bucket!r}, not the raw zone {raw_bucket!r}")
    if not key.startswith(input_prefix):
        raise InvalidEventError(f"object key {key!r} is outside the training input prefix {input_prefix!r}")


def ignored(event: ObjectCreated) -> Decision | None:
    """Folder markers, empty objects and files that are not data (a README) are skipped without being counted:
    the snapshot leaves them out too (`lambdas.shared.snapshot.is_data`)."""
    obj = event.detail.object
    if obj.size == 0 or obj.key.endswith("/"):
        return Decision(outcome="skipped", reason="empty-object", detail=f"{obj.key} holds no data", trigger=TRIGGER)
    if not obj.key.lower().endswith(DATA_SUFFIXES):
        return Decision(
            outcome="skipped",
            reason="not-data",
            detail=f"{obj.key} is not a data file ({', '.join(DATA_SUFFIXES)})",
            trigger=TRIGGER,
        )
    return None


def estimated_rows(size: int, *, average_row_bytes: int) -> int:
    return math.ceil(size / average_row_bytes)


def below_threshold(state: LedgerState, *, min_rows: int, min_bytes: int) -> Decision | None:
    """A skip until the new rows or the new bytes since the last start reach their minimum (whichever first)."""
    if state.new_rows >= min_rows or state.new_bytes >= min_bytes:
        return None
    return Decision(
        outcome="skipped",
        reason="below-threshold",
        detail=f"{describe(state)}; a run needs {min_rows} rows or {min_bytes} bytes",
        trigger=TRIGGER,
    )


def latest_uri(state: LedgerState, bucket: str) -> str:
    """The run's TriggerDetail: the object whose arrival started it."""
    return f"s3://{bucket}/{state.latest_key}" if state.latest_key else f"s3://{bucket}/"


def describe(state: LedgerState, bucket: str | None = None) -> str:
    latest = f"; latest s3://{bucket}/{state.latest_key}" if bucket and state.latest_key else ""
    return (
        f"{state.new_objects} new object(s), {state.new_bytes} bytes, ~{state.new_rows} rows since the last run{latest}"
    )
