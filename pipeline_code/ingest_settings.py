"""The PostgreSQL ingestion job's settings: one JSON document, parsed and checked here (standard library only).

CDK writes the environment's `ingestion` config section (`config.sections.IngestionSettings`, dumped to JSON) to an
SSM parameter; the job reads it at start (`--settings-parameter`), or a local run passes a file (`--settings-file`).
Keeping the settings out of the pipeline definition means changing the source (its query, its columns) needs no
new definition, and the secret never passes through it: only the secret's ARN does.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from pipeline_code import schema
from pipeline_code.errors import PipelineError

SOURCE_NAME = re.compile(r"^[a-z][a-z0-9-]{0,39}$")
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_$ -]{0,62}$")
SSL_MODES = ("require", "verify-ca", "verify-full", "prefer", "disable")


@dataclass(frozen=True)
class Credentials:
    """Exactly one of: a Secrets Manager secret (JSON with `username` and `password`, as RDS writes it) or RDS IAM
    authentication as `iam_username` (a token from `rds:GenerateDBAuthToken`, valid 15 minutes)."""

    secret_arn: str | None = None
    iam_username: str | None = None

    def describe(self) -> str:
        return f"secret {self.secret_arn}" if self.secret_arn else f"RDS IAM authentication as {self.iam_username}"


@dataclass(frozen=True)
class IngestSettings:
    source_name: str  # names the state item and the raw-zone folder: adult/postgres/<source_name>/
    host: str
    port: int
    database: str
    credentials: Credentials
    watermark_column: str
    table: str | None = None  # schema.table, or
    query: str | None = None  # a SELECT whose result has the mapped columns and the watermark column
    columns: dict[str, str] = field(default_factory=dict)  # raw-layout column -> source column
    batch_rows: int = 1_000_000  # rows per raw-zone file: one file, one manifest, one watermark step
    settle_seconds: int = 300  # timestamp watermarks: rows newer than this (database clock) wait for the next run
    ssl_mode: str = "require"
    connect_timeout_seconds: int = 10

    @property
    def source_columns(self) -> dict[str, str]:
        """Every raw-layout column (`schema.RAW_COLUMNS`, in order) -> the source column it is read from."""
        return {raw: self.columns.get(raw, raw) for raw in schema.RAW_COLUMNS}

    @property
    def describe_source(self) -> str:
        return f"table {self.table}" if self.table else "the configured query"


def _problem(key: str, value: Any, why: str) -> str:
    return f"ingestion settings: key '{key}' has value {value!r}: {why}"


def parse_settings(document: str | dict[str, Any]) -> IngestSettings:
    """The settings, or a `PipelineError` naming every bad key (the same rules as the config model)."""
    try:
        data = json.loads(document) if isinstance(document, str) else dict(document)
    except json.JSONDecodeError as err:
        raise PipelineError(f"ingestion settings are not JSON: {err}") from err
    if not isinstance(data, dict):
        raise PipelineError("ingestion settings must be a JSON object")
    problems: list[str] = []
    known = {
        "source_name", "host", "port", "database", "secret_arn", "iam_username", "table", "query", "watermark_column",
        "columns", "batch_rows", "settle_seconds", "ssl_mode", "connect_timeout_seconds",
    }  # fmt: skip
    problems += [_problem(k, data[k], "unknown key") for k in sorted(set(data) - known)]
    for key in ("source_name", "host", "database", "watermark_column"):
        if not isinstance(data.get(key), str) or not data[key]:
            problems.append(_problem(key, data.get(key), "required, a non-empty string"))
    if isinstance(data.get("source_name"), str) and not SOURCE_NAME.match(data["source_name"]):
        problems.append(_problem("source_name", data["source_name"], f"must match {SOURCE_NAME.pattern}"))
    ints = {  # key: (lowest, highest, default; None: required)
        "port": (1, 65535, None),
        "batch_rows": (1, 100_000_000, IngestSettings.batch_rows),
        "settle_seconds": (0, 86_400, IngestSettings.settle_seconds),
        "connect_timeout_seconds": (1, 300, IngestSettings.connect_timeout_seconds),
    }
    for key, (low, high, default) in ints.items():
        value = data.get(key, default)
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            problems.append(_problem(key, value, f"must be an integer from {low} to {high}"))
    if data.get("ssl_mode", "require") not in SSL_MODES:
        problems.append(_problem("ssl_mode", data.get("ssl_mode"), f"must be one of {', '.join(SSL_MODES)}"))
    if (data.get("secret_arn") is None) == (data.get("iam_username") is None):
        problems.append(
            "ingestion settings: give exactly one of 'secret_arn' (a Secrets Manager secret with username and "
            "password) and 'iam_username' (RDS IAM authentication); credentials are never part of the settings"
        )
    if (data.get("table") is None) == (data.get("query") is None):
        problems.append("ingestion settings: give exactly one of 'table' (schema.table) and 'query' (a SELECT)")
    table = data.get("table")
    if table is not None and not (
        isinstance(table, str) and 1 <= len(parts := table.split(".")) <= 2 and all(map(_IDENTIFIER.match, parts))
    ):
        problems.append(_problem("table", table, "must be 'table' or 'schema.table' (plain identifiers)"))
    query = data.get("query")
    if query is not None and not (isinstance(query, str) and query.strip()):
        problems.append(_problem("query", query, "must be a non-empty SELECT statement"))
    columns = data.get("columns", {})
    if not isinstance(columns, dict):
        problems.append(_problem("columns", columns, "must map raw-layout columns to source columns"))
        columns = {}
    for raw, source in columns.items():
        if raw not in schema.RAW_COLUMNS:
            problems.append(
                _problem(f"columns.{raw}", source, f"'{raw}' is no raw-layout column ({', '.join(schema.RAW_COLUMNS)})")
            )
        elif not isinstance(source, str) or not _IDENTIFIER.match(source):
            problems.append(_problem(f"columns.{raw}", source, "must be a column name of the source"))
    watermark = data.get("watermark_column")
    if isinstance(watermark, str) and watermark and not _IDENTIFIER.match(watermark):
        problems.append(_problem("watermark_column", watermark, "must be a column name of the source"))
    if problems:
        raise PipelineError("; ".join(problems))
    return IngestSettings(
        source_name=data["source_name"],
        host=data["host"],
        port=data["port"],
        database=data["database"],
        credentials=Credentials(secret_arn=data.get("secret_arn"), iam_username=data.get("iam_username")),
        watermark_column=str(watermark),
        table=table,
        query=query,
        columns=dict(columns),
        batch_rows=data.get("batch_rows", IngestSettings.batch_rows),
        settle_seconds=data.get("settle_seconds", IngestSettings.settle_seconds),
        ssl_mode=data.get("ssl_mode", IngestSettings.ssl_mode),
        connect_timeout_seconds=data.get("connect_timeout_seconds", IngestSettings.connect_timeout_seconds),
    )
