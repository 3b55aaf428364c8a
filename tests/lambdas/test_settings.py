"""The triggers' environment variables: parsed into frozen dataclasses, every problem named at once."""

from __future__ import annotations

import dataclasses

import pytest

from lambdas.retrain_on_drift.settings import DriftSettings
from lambdas.retrain_on_new_data.settings import NewDataSettings
from lambdas.shared.settings import SettingsError, environment_schema, load_settings
from tests.lambdas.conftest import SETTINGS


def test_the_variables_cdk_sets_give_typed_frozen_settings() -> None:
    settings = load_settings(NewDataSettings, SETTINGS | {"UNRELATED": "ignored"})
    assert (settings.environment, settings.raw_bucket, settings.input_prefix) == (
        "mlops-dev", SETTINGS["RAW_BUCKET_NAME"], "adult/"
    )  # fmt: skip
    assert (settings.cooldown_hours, settings.min_new_rows, settings.average_row_bytes) == (24, 10_000, 122)
    assert isinstance(settings.min_new_bytes, int)
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.cooldown_hours = 0  # type: ignore[misc]


def test_the_idempotency_window_defaults_to_48_hours() -> None:
    environ = {k: v for k, v in SETTINGS.items() if k != "IDEMPOTENCY_HOURS"}
    assert load_settings(DriftSettings, environ).idempotency_hours == 48
    assert "IDEMPOTENCY_HOURS" not in environment_schema(DriftSettings)["required"]
    assert "COOLDOWN_HOURS" in environment_schema(DriftSettings)["required"]


def test_every_bad_variable_is_named_with_its_value_and_what_is_allowed() -> None:
    environ = SETTINGS | {"COOLDOWN_HOURS": "-1", "MONITORING_REPORTS_URI": "s3://no-slash", "IDEMPOTENCY_HOURS": "2d"}
    del environ["TRAINING_PIPELINE_NAME"]
    with pytest.raises(SettingsError) as raised:
        load_settings(DriftSettings, environ)
    message = str(raised.value)
    assert message.startswith("invalid environment variables for DriftSettings: ")
    assert "TRAINING_PIPELINE_NAME: is required (not set)" in message
    assert "COOLDOWN_HOURS='-1': must be bigger than or equal to 0; allowed: an integer >= 0 and <= 8760" in message
    assert "IDEMPOTENCY_HOURS='2d': must be integer; allowed: an integer >= 1 and <= 8760" in message
    assert "MONITORING_REPORTS_URI='s3://no-slash': must match pattern ^s3://\\S+/$" in message
    assert message.count("; allowed: ") == 4  # nothing else, nothing twice


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("MIN_NEW_ROWS", "0"),
        ("MIN_NEW_BYTES", "1.5"),
        ("AVERAGE_ROW_BYTES", ""),
        ("INPUT_PREFIX", "adult"),
        ("RAW_BUCKET_NAME", "ab"),
        ("PLATFORM_ENVIRONMENT", "MLOps-Test"),
        ("STATE_TABLE_NAME", "a b"),
        ("COOLDOWN_HOURS", "8761"),
    ],
)
def test_a_value_outside_its_rule_is_refused(name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=f"{name}={value!r}: "):
        load_settings(NewDataSettings, SETTINGS | {name: value})
