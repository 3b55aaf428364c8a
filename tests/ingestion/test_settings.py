"""The `ingestion` config section, the job's settings document made from it, and the driver's pins."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from pydantic import ValidationError

from config.sections import IngestionSettings
from pipeline_code.errors import PipelineError
from pipeline_code.ingest_settings import parse_settings
from pipeline_definition.contract import CODE_DIR, INGESTION_REQUIREMENTS
from tests.conftest import INGESTION_SECTION


def section(**changes: Any) -> dict[str, Any]:
    document = copy.deepcopy(INGESTION_SECTION)
    for dotted, value in changes.items():
        *parents, last = dotted.split("__")
        node = document
        for parent in parents:
            node = node[parent]
        if value is ...:
            node.pop(last, None)
        else:
            node[last] = value
    return document


def validate(document: dict[str, Any]) -> IngestionSettings:
    return IngestionSettings.model_validate(document, strict=False)


def test_the_config_section_becomes_the_settings_the_job_parses() -> None:
    settings = parse_settings(validate(section()).job_settings())
    assert settings.credentials.secret_arn == INGESTION_SECTION["connection"]["secret_arn"]
    defaults = (settings.port, settings.ssl_mode, settings.batch_rows, settings.settle_seconds)
    assert defaults == (5432, "require", 1_000_000, 300)
    assert settings.source_columns["hours-per-week"] == "hours_per_week"
    assert settings.source_columns["age"] == "age"  # unlisted: the same name
    iam_auth = section(
        connection__secret_arn=...,
        connection__secret_kms_key_arn=...,
        connection__iam_username="ingest",
        connection__iam_db_resource_id="cluster-ABC123",
    )
    iam = validate(iam_auth)
    assert parse_settings(iam.job_settings()).credentials.iam_username == "ingest"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"connection__iam_username": "ingest"}, "exactly one of secret_arn"),
        ({"connection__secret_arn": ..., "connection__secret_kms_key_arn": ...}, "exactly one of secret_arn"),
        ({"connection__secret_arn": ..., "connection__secret_kms_key_arn": ..., "connection__iam_username": "ingest"},
         "iam_username needs iam_db_resource_id"),
        ({"connection__password": "hunter2"}, "Extra inputs are not permitted"),
        ({"query": "SELECT * FROM adult"}, "exactly one of table"),
        ({"table": ...}, "exactly one of table"),
        ({"watermark_column": "updated_at; DROP TABLE adult"}, "String should match pattern"),
        ({"batch_rows": 10}, "greater than or equal to 1000"),
        ({"schedule": "rate(1 hours)"}, "singular unit"),
        ({"network__subnet_ids": []}, "at least 1 item"),
    ],
)  # fmt: skip
def test_a_bad_section_is_refused_with_the_reason(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        validate(section(**changes))


def test_the_job_refuses_settings_it_does_not_know_naming_each_key() -> None:
    document = validate(section()).job_settings() | {"password": "x", "port": 0}
    with pytest.raises(PipelineError) as failure:
        parse_settings(document)
    assert "key 'password' has value 'x': unknown key" in str(failure.value)
    assert "key 'port' has value 0" in str(failure.value)


def test_the_driver_pins_are_the_step_requirements() -> None:
    lines = (CODE_DIR / "requirements.txt").read_text().splitlines()
    assert [line for line in lines if line.startswith("psycopg")] == list(INGESTION_REQUIREMENTS)
