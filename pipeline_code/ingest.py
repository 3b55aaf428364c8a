"""Incremental ingestion from PostgreSQL into the raw zone: the ingestion pipeline's one step.

    python -m pipeline_code.ingest --settings-parameter /<project>/<env>/ingestion/settings \\
        --raw-bucket <raw zone> --state-table <project>-<env>-ingestion --lease-seconds 3900

Each run takes the source's lease, then repeats until no settled row is left past the watermark:

1. fix the batch's range (watermark, upper] in a REPEATABLE READ snapshot (at most `batch_rows` rows);
2. COPY its rows, as raw-layout CSV, into one S3 multipart upload (visible only when complete);
3. write the batch's manifest (rows, watermark range, SHA-256, source types) beside it;
4. only then advance the watermark (a conditional write: this run's lease, the expected batch number).

A run that died between 2 and 4 is finished by the next one: the object key and the manifest key depend only on
the batch number, which moves only with the watermark, so the next run rewrites the same object (died before 3) or
adopts the manifest it finds (died before 4). The new-data trigger sees `<raw prefix>postgres/<source>/*.csv`
under the training prefix, as it sees files copied there by hand.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pipeline_code import schema
from pipeline_code.aws import call, make_client
from pipeline_code.errors import PipelineError
from pipeline_code.ingest_objects import MANIFEST_FORMAT, RawZone
from pipeline_code.ingest_postgres import INTEGER_TYPES, PostgresSource, SourceColumn, Watermark, connect
from pipeline_code.ingest_settings import IngestSettings, parse_settings
from pipeline_code.ingest_state import LeaseHeldError, StateStore

JOB_CONFIG = Path("/opt/ml/config/processingjobconfig.json")


@dataclass
class BatchReport:
    number: int
    rows: int
    after: str | None
    through: str
    object_uri: str | None
    manifest_uri: str
    adopted: bool  # written by an earlier run that died before advancing the watermark


@dataclass
class IngestReport:
    source: str
    status: str  # ingested | up-to-date | skipped (another run holds the lease)
    batches: list[BatchReport] = field(default_factory=list)
    watermark: str | None = None
    message: str = ""

    @property
    def rows(self) -> int:
        return sum(b.rows for b in self.batches)


def _manifest(
    settings: IngestSettings,
    number: int,
    *,
    rows: int,
    after: Watermark | None,
    through: Watermark,
    written: Any,
    columns: dict[str, SourceColumn],
    seconds: float,
) -> dict[str, Any]:
    return {
        "format": MANIFEST_FORMAT,
        "source": {
            "name": settings.source_name,
            "server": f"{settings.host}:{settings.port}",
            "database": settings.database,
            "relation": settings.table or "query",
            "watermark_column": settings.watermark_column,
        },
        "batch": number,
        "rows": rows,
        "watermark": {
            "kind": through.kind,
            "after": after.value if after else None,  # exclusive; null: from the first row
            "through": through.value,  # inclusive
        },
        "object": None
        if written is None
        else {
            "uri": written.uri,
            "bytes": written.size,
            "sha256": written.sha256,
            "etag": written.etag,
            "layout": "raw CSV, header row, columns in schema.RAW_COLUMNS order",
            "missing_token": schema.MISSING_TOKEN,
        },
        "columns": {raw: {"source": col.name, "type": col.describe()} for raw, col in columns.items()},
        "extracted_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "seconds": round(seconds, 3),
    }


def _family(kind: str) -> str:
    """Watermark types that compare alike: integer widths may change (int4 -> int8), nothing else."""
    return "integer" if kind in INTEGER_TYPES else kind


def _adopt(zone: RawZone, number: int, after: Watermark | None) -> dict[str, Any] | None:
    """The manifest of batch `number` if an earlier run wrote it (and its object) but did not advance the watermark."""
    manifest = zone.read_manifest(number)
    if manifest is None:
        return None
    starts = manifest["watermark"]["after"]
    if starts != (after.value if after else None):
        raise PipelineError(
            f"{zone.manifest_key(number)} covers watermarks after {starts!r}, but the state says batch {number} "
            f"starts after {after.value if after else None!r}: the state item and the raw zone disagree (was the "
            "state reset?). Use a new source_name to load the source again from the start"
        )
    if manifest["object"] is not None:
        size = zone.object_size(zone.data_key(number))
        if size != manifest["object"]["bytes"]:
            raise PipelineError(
                f"{zone.manifest_key(number)} lists {manifest['object']['bytes']} bytes in {zone.data_key(number)}, "
                f"which holds {size}: not adopting a batch whose object changed"
            )
    return manifest


def run_ingestion(
    settings: IngestSettings,
    *,
    open_connection: Callable[[], Any],
    store: StateStore,
    zone: RawZone,
    owner: str,
    lease_seconds: int,
    clock: Callable[[], float] = time.time,
    log: Callable[[str], None] = print,
) -> IngestReport:
    """Extract every settled row past the source's watermark, batch by batch (module docstring)."""
    report = IngestReport(source=settings.source_name, status="up-to-date")
    try:
        state = store.acquire(owner, int(clock()), lease_seconds)
    except LeaseHeldError as held:
        report.status, report.message = "skipped", str(held)
        return report
    try:
        if state.watermark_column and state.watermark_column != settings.watermark_column:
            raise PipelineError(
                f"source '{settings.source_name}' was extracted by watermark column '{state.watermark_column}', now "
                f"'{settings.watermark_column}' is configured: its watermark means nothing for the new column. Use a "
                "new source_name to load the source again"
            )
        connection = open_connection()
        try:
            source = PostgresSource(settings, connection)
            columns, watermark_column = source.describe()
            source.check_types(columns, watermark_column)
            kind = watermark_column.type_name
            if state.watermark is not None and _family(state.watermark.kind) != _family(kind):
                raise PipelineError(
                    f"watermark column '{settings.watermark_column}' has type {kind} now, {state.watermark.kind} when "
                    f"the watermark {state.watermark.value!r} was stored: a type change of the watermark column needs "
                    "a new source_name"
                )
            if state.watermark_column is None:
                store.record_watermark_column(owner, settings.watermark_column)
            number, after = state.batches, state.watermark
            while True:
                adopted = _adopt(zone, number, after)
                if adopted is not None:
                    through = Watermark(adopted["watermark"]["kind"], adopted["watermark"]["through"])
                    uri = f"s3://{zone.bucket}/{zone.manifest_key(number)}"
                    store.commit(owner, number, through, adopted["rows"], uri)
                    obj = adopted["object"]["uri"] if adopted["object"] else None
                    report.batches.append(
                        BatchReport(
                            number, adopted["rows"], adopted["watermark"]["after"], through.value, obj, uri, True
                        )
                    )
                    log(f"batch {number}: adopted {uri} ({adopted['rows']} rows) written by an earlier run")
                    number, after = number + 1, through
                    continue
                started = time.monotonic()
                source.begin_batch()
                through_or_none = source.upper_bound(after, kind)
                if through_or_none is None:
                    source.end_batch()
                    break
                through = through_or_none
                upload = zone.open_batch(number)
                try:
                    rows = source.copy_rows(after, through, upload)
                    source.end_batch()
                    written = upload.complete() if rows else None
                    if not rows:
                        upload.abort()
                except BaseException:
                    upload.abort()
                    raise
                manifest = _manifest(
                    settings, number, rows=rows, after=after, through=through, written=written,
                    columns=columns, seconds=time.monotonic() - started,
                )  # fmt: skip
                uri = zone.write_manifest(number, manifest)
                store.commit(owner, number, through, rows, uri)
                report.batches.append(
                    BatchReport(number, rows, after.value if after else None, through.value,
                                written.uri if written else None, uri, False)
                )  # fmt: skip
                log(
                    f"batch {number}: {rows} rows, watermark ({after.value if after else '-inf'}, {through.value}] "
                    f"-> {written.uri if written else '(no object)'} in {time.monotonic() - started:.2f} s"
                )
                number, after = number + 1, through
                if rows < settings.batch_rows:
                    break  # the settled rows are all taken: rows arriving now wait for the next run
            report.status = "ingested" if report.batches else "up-to-date"
            report.watermark = after.value if after else None
            return report
        finally:
            connection.close()
    finally:
        store.release(owner)


# --------------------------------------------------------------------------------------------------- entry point


def load_settings(args: argparse.Namespace, ssm: Any | None) -> IngestSettings:
    if args.settings_file:
        return parse_settings(Path(args.settings_file).read_text())
    response = call(ssm, "GetParameter", Name=args.settings_parameter)
    return parse_settings(response["Parameter"]["Value"])


def credentials(settings: IngestSettings, region: str | None) -> tuple[str, str]:
    """(user, password): from the secret, or an RDS IAM token; errors name the secret, never its content."""
    creds = settings.credentials
    if creds.secret_arn:
        value = call(make_client("secretsmanager", region=region), "GetSecretValue", SecretId=creds.secret_arn)
        try:
            secret = json.loads(value.get("SecretString") or "")
            return str(secret["username"]), str(secret["password"])
        except (ValueError, KeyError, TypeError) as err:
            raise PipelineError(
                f"secret {creds.secret_arn} must be JSON with 'username' and 'password' (as RDS writes it)"
            ) from err
    rds = make_client("rds", region=region)
    token = rds.generate_db_auth_token(DBHostname=settings.host, Port=settings.port, DBUsername=creds.iam_username)
    return str(creds.iam_username), str(token)


def run_owner() -> str:
    """Who holds the lease: the processing job's name (SageMaker's job config), else this host and process."""
    try:
        return str(json.loads(JOB_CONFIG.read_text())["ProcessingJobName"])
    except (OSError, ValueError, KeyError):
        return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--settings-parameter", help="SSM parameter holding the settings JSON (what CDK deploys)")
    where.add_argument("--settings-file", help="a settings JSON file (local runs)")
    parser.add_argument("--raw-bucket", required=True)
    parser.add_argument(
        "--raw-prefix", default=schema.DATASET.raw_prefix, help="the data set's prefix the new-data trigger watches"
    )
    parser.add_argument("--state-table", required=True, help="DynamoDB table of the watermarks and leases")
    parser.add_argument("--lease-seconds", type=int, default=3900, help="longer than the job's MaxRuntimeInSeconds")
    parser.add_argument("--report-dir", default=None, help="write summary.json here (the step's output)")
    parser.add_argument("--region", default=os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION"))
    args = parser.parse_args(argv)
    try:
        settings = load_settings(args, None if args.settings_file else make_client("ssm", region=args.region))
        user, password = credentials(settings, args.region)
        report = run_ingestion(
            settings,
            open_connection=lambda: connect(settings, user, password),
            store=StateStore(make_client("dynamodb", region=args.region), args.state_table, settings.source_name),
            zone=RawZone(make_client("s3", region=args.region), args.raw_bucket, args.raw_prefix, settings.source_name),
            owner=run_owner(),
            lease_seconds=args.lease_seconds,
        )
    except PipelineError as err:
        print(f"ingest failed: {err}", file=sys.stderr)
        return 1
    summary = {**asdict(report), "rows": report.rows}
    print(json.dumps({k: v for k, v in summary.items() if k != "batches"}))
    if args.report_dir:
        Path(args.report_dir).mkdir(parents=True, exist_ok=True)
        (Path(args.report_dir) / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
