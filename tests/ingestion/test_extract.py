"""The ingestion job against a real PostgreSQL server: full load, increments, NULLs, types, failures, late rows.

Each test drives `run_ingestion` (the job's whole run: lease, batches, manifests, watermark) on its own source
table, raw bucket and state table; what it checks is read back from S3 and DynamoDB, never from the job's report
alone.
"""

from __future__ import annotations

import hashlib
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from pipeline_code import schema
from pipeline_code.errors import DataValidationError, PipelineError
from pipeline_code.ingest_objects import MultipartObject, RawZone
from pipeline_code.ingest_state import StateStore
from pipeline_code.validate import Limits, validate
from tests.ingestion.conftest import Lake, SourceTable, hours

FIRST = "adult/postgres/adult-db/batch-00000000.csv"


def as_raw(row: tuple[Any, ...]) -> tuple[str, ...]:
    """A source row as the raw CSV writes it (NULL as the missing-value token)."""
    return tuple(schema.MISSING_TOKEN if v is None else str(v) for v in row)


def written(lake: Lake) -> Counter[tuple[str, ...]]:
    return Counter(tuple(r[c] for c in schema.RAW_COLUMNS) for r in lake.rows())


def test_first_run_loads_every_row_in_the_raw_layout(
    lake: Lake, source: SourceTable, adult_rows: list[tuple[Any, ...]], tmp_path: Path
) -> None:
    source.insert(adult_rows[:500], hours(*range(500)))
    report = lake.run()
    assert (report.status, [b.rows for b in report.batches]) == ("ingested", [500])
    assert lake.data_keys() == [FIRST]
    body = lake.read(FIRST)
    assert body.decode().splitlines()[0] == ",".join(schema.RAW_COLUMNS)  # the header the steps read
    assert written(lake) == Counter(as_raw(r) for r in adult_rows[:500])
    manifest = lake.manifest(0)
    assert manifest["rows"] == 500
    assert manifest["object"]["bytes"] == len(body)
    assert manifest["object"]["sha256"] == hashlib.sha256(body).hexdigest()
    assert manifest["watermark"] == {"kind": "timestamptz", "after": None, "through": hours(499)[0].isoformat()}
    assert manifest["columns"]["Y"] == {"source": "income", "type": "text"}
    state = lake.state()
    assert (state["watermark_value"]["S"], state["batches"]["N"], state["total_rows"]["N"]) == (
        hours(499)[0].isoformat(),
        "1",
        "500",
    )
    assert "lease_owner" not in state  # released
    # the training pipeline's own validation step accepts the file as it is
    (tmp_path / "batch.csv").write_bytes(body)
    assert validate([tmp_path / "batch.csv"], Limits(min_rows=100))["row_count"] == 500


def test_an_increment_takes_only_the_new_rows_and_an_empty_one_writes_nothing(
    lake: Lake, source: SourceTable, adult_rows: list[tuple[Any, ...]]
) -> None:
    source.insert(adult_rows[:300], hours(*range(300)))
    lake.run()
    source.insert(adult_rows[300:340], hours(*range(300, 340)))
    report = lake.run()
    assert [(b.number, b.rows, b.after) for b in report.batches] == [(1, 40, hours(299)[0].isoformat())]
    assert written(lake) == Counter(as_raw(r) for r in adult_rows[:340])  # every row exactly once
    before = lake.keys()
    empty = lake.run()
    assert (empty.status, empty.batches) == ("up-to-date", [])
    assert lake.keys() == before  # no object, no manifest
    assert lake.state()["watermark_value"]["S"] == hours(339)[0].isoformat()
    assert lake.state()["batches"]["N"] == "2"


def test_batch_rows_splits_a_large_range_into_files_of_whole_watermarks(
    lake: Lake, source: SourceTable, adult_rows: list[tuple[Any, ...]]
) -> None:
    # 450 rows, three per watermark value: a batch never splits rows of one watermark
    source.insert(adult_rows[:450], hours(*(i // 3 for i in range(450))))
    report = lake.run(batch_rows=100)
    assert [b.rows for b in report.batches] == [102, 102, 102, 102, 42]
    assert len(lake.data_keys()) == 5
    assert written(lake) == Counter(as_raw(r) for r in adult_rows[:450])
    ranges = [(lake.manifest(n)["watermark"]["after"], lake.manifest(n)["watermark"]["through"]) for n in range(5)]
    assert all(ranges[n][1] == ranges[n + 1][0] for n in range(4))  # contiguous: nothing between two batches


def test_nulls_become_the_missing_value_token(
    lake: Lake, source: SourceTable, adult_rows: list[tuple[Any, ...]], tmp_path: Path
) -> None:
    workclass, occupation = schema.RAW_COLUMNS.index("workclass"), schema.RAW_COLUMNS.index("occupation")
    rows = [list(r) for r in adult_rows[:200]]
    for row in rows[:6]:
        row[workclass] = None
    for row in rows[6:9]:
        row[occupation] = None
    source.insert([tuple(r) for r in rows], hours(*range(200)))
    lake.run()
    by_row = lake.rows()
    assert [r["workclass"] for r in by_row[:7]] == ["?"] * 6 + [adult_rows[6][workclass]]
    assert by_row[6]["occupation"] == "?"
    (tmp_path / "batch.csv").write_bytes(lake.read(FIRST))
    report = validate([tmp_path / "batch.csv"], Limits(min_rows=100))
    expected = sum(r[workclass] is None for r in rows) / 200  # read as missing values, not as a category "?"
    assert report["columns"]["workclass"]["missing_ratio"] == pytest.approx(expected)


def test_a_column_type_change_fails_naming_the_column_and_writes_nothing(
    lake: Lake, source: SourceTable, adult_rows: list[tuple[Any, ...]]
) -> None:
    source.insert(adult_rows[:100], hours(*range(100)))
    lake.run()
    source.execute('ALTER TABLE {table} ALTER COLUMN "hours_per_week" TYPE text')
    source.insert(adult_rows[100:110], hours(*range(100, 110)))
    before, state = lake.keys(), lake.state()
    with pytest.raises(DataValidationError) as failure:
        lake.run()
    assert "source column 'hours_per_week' (raw column 'hours-per-week') has type text" in str(failure.value)
    assert "integer type" in str(failure.value)
    assert lake.keys() == before
    assert lake.state()["watermark_value"] == state["watermark_value"]
    assert "lease_owner" not in lake.state()


def test_a_mapped_column_missing_from_the_source_is_named(lake: Lake, source: SourceTable) -> None:
    with pytest.raises(DataValidationError, match="source column 'hours' \\(mapped to raw column 'hours-per-week'\\)"):
        lake.run(columns={**lake.settings.columns, "hours-per-week": "hours"})
    assert lake.keys() == []


def test_a_wrong_password_fails_clearly_and_writes_nothing(lake: Lake, source: SourceTable) -> None:
    source.insert([], [])
    with pytest.raises(PipelineError) as failure:
        lake.run(password="not-the-password")
    message = str(failure.value)
    assert 'password authentication failed for user "ingest"' in message
    assert f"database '{lake.settings.database}' as 'ingest'" in message
    assert lake.settings.credentials.secret_arn in message  # where the credentials came from
    assert "not-the-password" not in message
    assert lake.keys() == []
    assert "watermark_value" not in lake.state()
    assert "lease_owner" not in lake.state()


class _DroppedMidExtract(MultipartObject):
    """Terminates the job's own server connection (pg_terminate_backend) once two parts have gone to S3: the
    ingestion connection whose statement reads this test's table, not another test's (they share the server)."""

    source: SourceTable

    def write(self, data: bytes | bytearray | memoryview) -> None:
        super().write(data)
        if self._next_part == 3 and not getattr(self, "_dropped", False):
            self._dropped = True
            self.source.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE application_name = 'mlops-ingest' AND strpos(query, %s) > 0",
                (self.source.name,),
            )


def test_a_connection_dropped_mid_extract_loses_and_duplicates_nothing(
    lake: Lake, source: SourceTable, adult_rows: list[tuple[Any, ...]]
) -> None:
    rows = adult_rows * 4  # 8,000 rows, ~0.9 MB: fourteen 64 KiB parts
    source.insert(rows, hours(*(i / 100 for i in range(len(rows)))))

    class Zone(RawZone):
        def open_batch(self, number: int) -> MultipartObject:
            upload = _DroppedMidExtract(self.s3, self.bucket, self.data_key(number), part_bytes=64 << 10)
            upload.source = source
            return upload

    zone = Zone(lake.aws["s3"], lake.bucket, "adult/", "adult-db")
    with pytest.raises(PipelineError, match=r"connection .* failed while extracting rows"):
        lake.run(zone=zone)
    assert lake.keys() == []  # parts were uploaded, but no object is visible
    assert lake.aws["s3"].list_multipart_uploads(Bucket=lake.bucket).get("Uploads", []) == []  # aborted
    assert "watermark_value" not in lake.state()
    assert "lease_owner" not in lake.state()
    report = lake.run()
    assert [b.rows for b in report.batches] == [len(rows)]
    assert written(lake) == Counter(as_raw(r) for r in rows)


class _CommitFails(StateStore):
    def commit(self, *args: Any, **kwargs: Any) -> None:
        raise PipelineError("UpdateItem failed: the job was stopped")  # as if it died right before this write


def test_a_run_that_died_before_advancing_the_watermark_is_adopted_not_repeated(
    lake: Lake, source: SourceTable, adult_rows: list[tuple[Any, ...]]
) -> None:
    source.insert(adult_rows[:200], hours(*range(200)))
    with pytest.raises(PipelineError, match="the job was stopped"):
        lake.run(store=_CommitFails(lake.aws["dynamodb"], lake.table, "adult-db"))
    assert lake.data_keys() == [FIRST]  # written and visible, but the watermark did not move
    assert "watermark_value" not in lake.state()
    source.insert(adult_rows[200:230], hours(*range(200, 230)))  # rows arriving meanwhile
    report = lake.run()
    assert [(b.number, b.rows, b.adopted) for b in report.batches] == [(0, 200, True), (1, 30, False)]
    assert written(lake) == Counter(as_raw(r) for r in adult_rows[:230])  # nothing twice
    assert lake.state()["total_rows"]["N"] == "230"


def test_a_run_that_died_before_its_manifest_rewrites_the_same_object(
    lake: Lake, source: SourceTable, adult_rows: list[tuple[Any, ...]]
) -> None:
    source.insert(adult_rows[:200], hours(*range(200)))

    class NoManifest(RawZone):
        def write_manifest(self, number: int, document: dict[str, Any]) -> str:
            raise PipelineError("PutObject failed: the job was stopped")

    with pytest.raises(PipelineError, match="the job was stopped"):
        lake.run(zone=NoManifest(lake.aws["s3"], lake.bucket, "adult/", "adult-db"))
    source.insert(adult_rows[200:210], hours(*range(200, 210)))
    lake.run()
    assert lake.data_keys() == [FIRST]  # the same key, rewritten with the wider range
    assert written(lake) == Counter(as_raw(r) for r in adult_rows[:210])


def test_a_second_run_while_one_holds_the_lease_extracts_nothing(
    lake: Lake, source: SourceTable, adult_rows: list[tuple[Any, ...]]
) -> None:
    source.insert(adult_rows[:50], hours(*range(50)))
    lake.store.acquire("running-job", now=int(time.time()), lease_seconds=600)
    report = lake.run(owner="second-job")
    assert report.status == "skipped"
    assert "running-job holds the ingestion lease" in report.message
    assert lake.keys() == []


def test_late_rows_follow_the_settle_rule(lake: Lake, source: SourceTable, adult_rows: list[tuple[Any, ...]]) -> None:
    """A range ends `settle_seconds` before the database clock: a row committed within that time of its watermark
    is extracted by a later run; a row committed with a watermark older than a range already extracted is not
    (the documented rule, docs/ingestion.md)."""
    now = source.execute("SELECT now()")[0][0]
    source.insert(adult_rows[:2], [now - timedelta(minutes=120), now - timedelta(minutes=1)])
    first = lake.run(settle_seconds=300)
    assert [b.rows for b in first.batches] == [1]  # the row of a minute ago waits: not settled yet
    source.insert([adult_rows[2]], [now - timedelta(minutes=30)])  # committed late, but within the settle window
    second = lake.run(settle_seconds=300)
    assert [b.rows for b in second.batches] == [1]
    source.insert([adult_rows[3]], [now - timedelta(minutes=180)])  # older than what the first run covered
    third = lake.run(settle_seconds=300)
    assert third.batches == []
    assert written(lake) == Counter(as_raw(r) for r in (adult_rows[0], adult_rows[2]))


def test_an_integer_watermark_and_a_query_source(lake: Lake, source: SourceTable, adult_rows: list[Any]) -> None:
    source.insert(adult_rows[:120], hours(*range(120)))
    query = f"SELECT t.*, t.id AS row_id FROM \"{source.name}\" t WHERE t.sex = 'Male'"
    report = lake.run(table=None, query=query, watermark_column="row_id")
    males = [r for r in adult_rows[:120] if r[9] == "Male"]
    assert [b.rows for b in report.batches] == [len(males)]
    assert lake.manifest(0)["watermark"]["kind"] == "int8"
    source.insert(adult_rows[120:130], hours(*range(120, 130)))
    lake.run(table=None, query=query, watermark_column="row_id")
    assert written(lake) == Counter(as_raw(r) for r in adult_rows[:130] if r[9] == "Male")


def test_the_watermark_column_may_widen_but_not_change_kind(
    lake: Lake, source: SourceTable, adult_rows: list[tuple[Any, ...]]
) -> None:
    source.execute("ALTER TABLE {table} ADD COLUMN seq integer")
    source.insert(adult_rows[:100], hours(*range(100)))
    source.execute("UPDATE {table} SET seq = id")
    lake.run(watermark_column="seq")
    source.execute("ALTER TABLE {table} ALTER COLUMN seq TYPE bigint")  # a migration widens the id: fine
    source.insert(adult_rows[100:110], hours(*range(100, 110)))
    source.execute("UPDATE {table} SET seq = id WHERE seq IS NULL")
    assert [b.rows for b in lake.run(watermark_column="seq").batches] == [10]
    source.execute("ALTER TABLE {table} ALTER COLUMN seq TYPE timestamptz USING now()")
    with pytest.raises(PipelineError, match="has type timestamptz now, int8 when the watermark '110' was stored"):
        lake.run(watermark_column="seq")
