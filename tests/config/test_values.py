"""Single values (config.values): each kind of bad value is named with its key, the value and what is allowed."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from config.values import validate_schedule
from tests.config.editing import edited, refused

# Each case: (mutation path, bad value, substrings the one error message must contain).
BAD_VALUES = {
    "unknown instance family": (
        "environments.prod.training.instance_type", "ml.x9.2xlarge",
        ["environment 'prod'", "'training.instance_type'", "'ml.x9.2xlarge'", "unknown instance family 'x9'", "m5"],
    ),
    "malformed instance type": (
        "defaults.processing.instance_type", "m5.large",
        ["'processing.instance_type'", "'m5.large'", "ml.<family>.<size>"],
    ),
    "negative count": (
        "environments.staging.processing.instance_count", -1,
        ["environment 'staging'", "'processing.instance_count'", "-1", "greater than or equal to 1"],
    ),
    "count given as text": ("defaults.training.instance_count", "2", ["'training.instance_count'", "'2'", "valid integer"]),
    "bad account id": ("environments.prod.account", "12345", ["environment 'prod'", "'account'", "'12345'", "^\\d{12}$"]),
    "account as a bare number": (
        "environments.prod.account", 12345678901, ["'account'", "12345678901", "quoted string of 12 digits"],
    ),
    "bad region": ("defaults.region", "eu-west-9", ["'region'", "'eu-west-9'", "unknown region", "eu-west-1"]),
    "cron hour out of range": (
        "defaults.monitoring.schedule", "cron(0 25 * * ? *)",
        ["'monitoring.schedule'", "'cron(0 25 * * ? *)'", "hours '25'", "0-23"],
    ),
    "cron with five fields": ("defaults.schedules.batch_inference", "cron(0 3 * * ?)", ["needs 6 fields", "got 5"]),
    "cron with both day fields": ("defaults.schedules.batch_inference", "cron(0 3 * * * *)", ["'?' in exactly one"]),
    "rate with wrong unit": ("defaults.schedules.retraining", "rate(7 weeks)", ["'rate(7 weeks)'", "cron(", "rate(N unit)"]),
    "rate with a plural unit for 1": ("defaults.schedules.retraining", "rate(1 days)", ["'rate(1 days)'", "singular unit for 1"]),
    "threshold above 1": ("defaults.thresholds.min_auc", 1.5, ["'thresholds.min_auc'", "1.5", "less than or equal to 1"]),
    "threshold below 0": (
        "environments.prod.thresholds", {"min_disparate_impact": -0.1},
        ["environment 'prod'", "'thresholds.min_disparate_impact'", "-0.1", "greater than or equal to 0"],
    ),
    "unknown removal policy": ("environments.dev.removal_policy", "delete", ["'removal_policy'", "'delete'", "'retain' or 'destroy'"]),
    "log retention CloudWatch rejects": ("defaults.log_retention_days", 10, ["'log_retention_days'", "10", "accepts only 1, 3, 5"]),
    "serverless memory off the grid": (
        "defaults.inference.serverless_memory_mb", 1500, ["'inference.serverless_memory_mb'", "1500", "1024", "6144"],
    ),
    "keeping fewer than two endpoint configs": ("defaults.promotion.keep_endpoint_configs", 1, ["'promotion.keep_endpoint_configs'", "1", "greater than or equal to 2"]),
    "bad alert e-mail": ("environments.prod.alerts", {"email": "ops"}, ["environment 'prod'", "'alerts.email'", "'ops'"]),
}  # fmt: skip


@pytest.mark.parametrize(("path", "value", "expected"), BAD_VALUES.values(), ids=BAD_VALUES.keys())
def test_a_bad_value_fails_with_one_message_naming_file_environment_key_value_and_allowed(
    tmp_path: Path, path: str, value: Any, expected: list[str]
) -> None:
    refused(tmp_path, edited(path, value), expected)


@pytest.mark.parametrize(
    "expression",
    [
        "cron(0 12 ? * MON-FRI *)",  # weekdays at noon
        "cron(0/15 * * * ? *)",  # every 15 minutes
        "cron(0 8 L * ? *)",  # the last day of the month
        "cron(0 8 15W * ? *)",  # the weekday nearest the 15th
        "cron(0 10 ? * 6#3 *)",  # the third Friday
        "cron(0 6 1,15 JAN-MAR ? 2030)",
        "rate(1 hour)",
        "rate(30 minutes)",
    ],
)
def test_eventbridge_schedule_forms_are_accepted(expression: str) -> None:
    assert validate_schedule(expression) == expression


@pytest.mark.parametrize(
    ("expression", "reason"),
    [
        ("cron(60 * * * ? *)", "minutes '60'"),
        ("cron(0 8 32 * ? *)", "day-of-month '32'"),
        ("cron(0 8 ? * 6#6 *)", "day-of-week '6#6'"),
        ("cron(0 8 ? * MON/0 *)", "day-of-week 'MON/0'"),
        ("cron(0 8 * FOO ? *)", "month 'FOO'"),
        ("rate(0 days)", "rate(N unit)"),
    ],
)
def test_an_impossible_schedule_names_the_field(expression: str, reason: str) -> None:
    with pytest.raises(ValueError, match=re.escape(reason)):
        validate_schedule(expression)
