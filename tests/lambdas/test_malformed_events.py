"""Malformed and misrouted events, generated: each is rejected with a clear validation error in the log, and
nothing is started or written. At least 200 generated events per handler."""

from __future__ import annotations

import copy
import io
import json
from types import ModuleType
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lambdas.shared.observability import InvalidEventError
from tests.lambdas.conftest import ENVIRONMENT, World, load_event

EXAMPLES = 200
# The JSON Schema keywords the event schemas use, and the triggers' own rejections (another environment, ...).
RULES = {"type", "const", "enum", "required", "pattern", "format", "minLength", "maxLength", "minItems", "minimum"}
RULES |= {"invalid_event"}

# Any JSON value: what a broken producer might put anywhere.
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=12),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=8,
)
not_a_string = st.none() | st.booleans() | st.integers() | st.lists(st.integers(), max_size=2) | st.just({})
words = st.text(alphabet="abcdefghijklmnopqrstuvwxyz -_", min_size=1, max_size=20)  # never a date, URI or ARN


def _other(*allowed: str) -> st.SearchStrategy[Any]:
    return not_a_string | st.text(max_size=30).filter(lambda t: t not in allowed)


# (path in the event, values that make that field invalid); deleting a required field is invalid as well.
ENVELOPE = [
    (("version",), not_a_string),
    (("id",), not_a_string),
    (("account",), not_a_string),
    (("time",), not_a_string | words),  # a number is not a timestamp either (pydantic took epoch seconds)
    (("region",), not_a_string),
    (("detail",), not_a_string | words),
]
ALARM = [
    *ENVELOPE,
    (("source",), _other("aws.cloudwatch", "mlops.monitoring")),
    (("detail-type",), _other("CloudWatch Alarm State Change", "Drift Violations Report")),
    (("resources",), st.just([]) | st.lists(words, min_size=1, max_size=2) | not_a_string),
    (("detail", "alarmName"), not_a_string | st.just("") | words),  # words never start with the drift prefix
    (("detail", "state"), not_a_string | words),
    (("detail", "state", "value"), _other("ALARM")),
    (("detail", "state", "timestamp"), words | st.none() | st.lists(st.integers(), max_size=2)),
]
VIOLATIONS = [
    *ENVELOPE,
    (("source",), _other("aws.cloudwatch", "mlops.monitoring")),
    (("detail", "environment"), _other(ENVIRONMENT)),
    (("detail", "reportUri"), not_a_string | words | st.just("s3://") | st.just("https://bucket/report.json")),
    (("detail", "violations"), st.just([]) | not_a_string.filter(lambda v: v != []) | words),
    (("detail", "violations", 0), not_a_string | words | st.just({"value": 0.3, "threshold": 0.2})),
    (("detail", "violations", 0, "value"), words | st.lists(st.integers(), max_size=2) | st.just({})),
]
OBJECT = [
    *ENVELOPE,
    (("source",), _other("aws.s3")),
    (("detail-type",), _other("Object Created")),
    (("detail", "bucket"), not_a_string | words),
    (("detail", "bucket", "name"), _other("mlops-dev-raw-123456789012-eu-west-1")),
    (("detail", "object", "key"), not_a_string | st.just("") | words),  # words are never under adult/
    (("detail", "object", "size"), words | st.none() | st.integers(max_value=-1) | st.floats(allow_nan=False)),
    (("detail", "object", "sequencer"), not_a_string | st.just("") | st.just("not-hex!")),
]


def _deletable(path: tuple[Any, ...]) -> bool:
    # Deleting a list item may leave a valid list (a report with two violations): replace items instead.
    return not isinstance(path[-1], int)


@st.composite
def corrupted(draw: st.DrawFn, event: dict[str, Any], fields: list[tuple[tuple[Any, ...], Any]]) -> Any:
    """A valid event with one field deleted or made invalid, or no event at all."""
    if draw(st.integers(0, 9)) == 0:
        return draw(json_values | st.dictionaries(st.text(max_size=8), json_values, max_size=4))
    path, bad = draw(st.sampled_from(fields))
    broken = copy.deepcopy(event)
    parent = broken
    for part in path[:-1]:
        parent = parent[part]
    if _deletable(path) and draw(st.booleans()):
        del parent[path[-1]]
    else:
        parent[path[-1]] = draw(bad)
    return broken


def _run_rejecting(handler: ModuleType, world: World, lambda_context: Any, strategy: st.SearchStrategy[Any]) -> int:
    buffer = io.StringIO()
    previous = handler.logger.registered_handler.setStream(buffer)
    seen = 0
    items, executions = world.items(), world.execution_count()

    # The world is read once around all examples, not per example: nothing may change at all.
    @settings(max_examples=EXAMPLES, deadline=None, database=None)
    @given(event=strategy)
    def check(event: Any) -> None:
        nonlocal seen
        seen += 1
        buffer.seek(0)
        buffer.truncate()
        with pytest.raises(InvalidEventError):
            handler.lambda_handler(event, lambda_context)
        (error,) = [json.loads(line) for line in buffer.getvalue().splitlines() if '"level":"ERROR"' in line]
        assert error["message"].startswith("invalid event rejected: ")
        assert len(error["message"]) > len("invalid event rejected: ") + 10
        # Each problem is a field path and the rule it breaks (or the trigger's reason); the message names the first
        # five (an empty object misses all nine envelope fields).
        problems = error["validation_errors"]
        assert problems
        for index, problem in enumerate(problems):
            assert problem["type"] in RULES
            assert problem["msg"]
            if problem["type"] != "invalid_event" and index < 5:
                assert f"{problem['loc'] or '(event)'}: {problem['msg']}" in error["message"]

    try:
        check()
    finally:
        handler.logger.registered_handler.setStream(previous)
    assert world.execution_count() == executions
    assert world.items() == items
    return seen


def test_malformed_drift_events_are_rejected_and_change_nothing(
    drift_handler: ModuleType, world: World, lambda_context
) -> None:
    strategy = corrupted(load_event("alarm_state_change"), ALARM) | corrupted(
        load_event("drift_violations_report"), VIOLATIONS
    )
    assert _run_rejecting(drift_handler, world, lambda_context, strategy) >= EXAMPLES


def test_malformed_object_events_are_rejected_and_change_nothing(
    new_data_handler: ModuleType, world: World, lambda_context
) -> None:
    strategy = corrupted(load_event("object_created"), OBJECT)
    assert _run_rejecting(new_data_handler, world, lambda_context, strategy) >= EXAMPLES
