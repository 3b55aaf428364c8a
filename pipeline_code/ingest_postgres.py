"""Reading a PostgreSQL table or query past a watermark, with psycopg 3 and `COPY ... TO STDOUT`.

The server formats the rows as CSV in the raw Adult layout (a header with the raw column names, `?` for NULL, which
is `schema.MISSING_TOKEN`), so no row passes through Python objects: the client only moves bytes on to S3. One
batch is one REPEATABLE READ, READ ONLY transaction: the query that fixes the batch's upper watermark and the COPY
of the rows up to it see the same snapshot, so the rows written are exactly those of the watermark range.

The rule for rows committed late (a row whose watermark is older than a range already extracted when it commits):
it is not extracted. A range ends at the newest watermark that is at least `settle_seconds` old on the database
clock (timestamp and date watermarks), so a writer whose transaction commits within that time of the watermark it
wrote is never missed; integer watermarks (ids) have no clock, so their ranges end at the newest committed id.
docs/ingestion.md explains the choice.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Protocol

from pipeline_code import schema
from pipeline_code.errors import DataValidationError, PipelineError
from pipeline_code.ingest_settings import IngestSettings

APPLICATION_NAME = "mlops-ingest"
INTEGER_TYPES = ("int2", "int4", "int8")
TIME_TYPES = ("timestamptz", "timestamp", "date")


class Sink(Protocol):
    def write(self, data: bytes | bytearray | memoryview) -> None: ...


@dataclass(frozen=True)
class Watermark:
    """A watermark value as the state store keeps it: its SQL type and a text form that round-trips exactly."""

    kind: str  # int2 | int4 | int8 | timestamptz | timestamp | date
    value: str

    @classmethod
    def of(cls, kind: str, value: Any) -> Watermark:
        if kind in INTEGER_TYPES:
            return cls(kind, str(int(value)))
        if isinstance(value, date):  # datetime is a date too
            return cls(kind, value.isoformat())
        raise PipelineError(f"watermark value {value!r} of type {kind} cannot be stored")

    def python(self) -> int | datetime | date:
        """The value as psycopg adapts it back to the same SQL type (`sql.Literal`)."""
        if self.kind in INTEGER_TYPES:
            return int(self.value)
        if self.kind == "date":
            return date.fromisoformat(self.value)
        moment = datetime.fromisoformat(self.value)
        if (self.kind == "timestamptz") != (moment.tzinfo is not None):
            raise PipelineError(f"watermark {self.value!r} does not match its type {self.kind}")
        return moment

    def as_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "value": self.value}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Watermark:
        return cls(str(data["kind"]), str(data["value"]))


@dataclass(frozen=True)
class SourceColumn:
    name: str  # in the source
    type_name: str  # pg_type.typname (a domain's base type)
    category: str  # pg_type.typcategory: N numeric, S string, E enum, D date/time...
    scale: int | None  # numeric columns: digits after the point, when declared

    def describe(self) -> str:
        return f"{self.type_name}" + (
            f"({self.scale})" if self.type_name == "numeric" and self.scale is not None else ""
        )


def psycopg_isolation(name: str) -> Any:
    import psycopg

    return psycopg.IsolationLevel[name]


def _first_line(err: BaseException) -> str:
    return (str(err).strip().splitlines() or [type(err).__name__])[0]


def connect(settings: IngestSettings, user: str, password: str) -> Any:
    """An open connection, or a `PipelineError` that names the server, database, user and where the credentials came
    from (never the password); nothing has been read or written when it fails."""
    import psycopg

    try:
        return psycopg.connect(
            host=settings.host,
            port=settings.port,
            dbname=settings.database,
            user=user,
            password=password,
            sslmode=settings.ssl_mode,
            connect_timeout=settings.connect_timeout_seconds,
            application_name=APPLICATION_NAME,
            options="-c TimeZone=UTC -c DateStyle=ISO",
        )
    except psycopg.Error as err:
        raise PipelineError(
            f"cannot connect to PostgreSQL {settings.host}:{settings.port} database '{settings.database}' as "
            f"'{user}' (credentials from {settings.credentials.describe()}): {_first_line(err)}"
        ) from err


class PostgresSource:
    """The configured table or query, its mapped columns and its watermark column, on one connection."""

    def __init__(self, settings: IngestSettings, connection: Any) -> None:
        from psycopg import sql

        self.settings = settings
        self.connection = connection
        self.sql = sql
        self.relation: sql.Composable
        if settings.table:
            self.relation = sql.Identifier(*settings.table.split("."))
        else:
            query = (settings.query or "").strip().rstrip(";")
            self.relation = sql.SQL("({})").format(sql.SQL(query))
        self.watermark = sql.Identifier(settings.watermark_column)
        # One snapshot per batch (its bounds and its COPY), and never a write: set while no transaction is open.
        connection.isolation_level = psycopg_isolation("REPEATABLE_READ")
        connection.read_only = True

    # ------------------------------------------------------------------------------------------ columns
    def describe(self) -> tuple[dict[str, SourceColumn], SourceColumn]:
        """The mapped columns' and the watermark column's types, from the source's result description."""
        sql = self.sql
        mapped = self.settings.source_columns
        names = list(dict.fromkeys([*mapped.values(), self.settings.watermark_column]))
        query = sql.SQL("SELECT {} FROM {} AS src LIMIT 0").format(
            sql.SQL(", ").join(sql.Identifier(n) for n in names), self.relation
        )
        with self._reading("reading the source's columns") as cursor:
            cursor.execute(query)
            described = [(c.name, c.type_code, c.scale) for c in cursor.description or []]
            cursor.execute(
                "SELECT t.oid, coalesce(b.typname, t.typname), coalesce(b.typcategory, t.typcategory) "
                "FROM pg_type t LEFT JOIN pg_type b ON t.typtype = 'd' AND b.oid = t.typbasetype "
                "WHERE t.oid = ANY(%s)",
                [[oid for _, oid, _ in described]],
            )
            types = {oid: (name, category) for oid, name, category in cursor.fetchall()}
        self.connection.rollback()
        columns = {
            name: SourceColumn(name, types[oid][0], types[oid][1], scale)
            for name, oid, scale in described
            if oid in types
        }
        return {raw: columns[source] for raw, source in mapped.items()}, columns[self.settings.watermark_column]

    def check_types(self, columns: dict[str, SourceColumn], watermark: SourceColumn) -> None:
        """Each mapped column must have a type the raw layout can hold; a `DataValidationError` names each that
        does not (raw column, source column, its type, the types allowed)."""
        problems = []
        for col in schema.FEATURES:
            got = columns[col.raw_name]
            if isinstance(col, schema.NumericColumn):
                if col.feature_store_type == "Integral":
                    ok = got.type_name in INTEGER_TYPES or (got.type_name == "numeric" and got.scale == 0)
                    allowed = "an integer type (smallint, integer, bigint, numeric(p,0))"
                else:
                    ok = got.category == "N"
                    allowed = "a numeric type"
            else:
                ok, allowed = got.category in ("S", "E"), "a text type (text, varchar, char) or an enum"
            if not ok:
                problems.append(self._type_problem(col.raw_name, got, allowed))
        label = columns[schema.RAW_LABEL]
        if label.category not in ("S", "E"):
            problems.append(self._type_problem(schema.RAW_LABEL, label, "a text type or an enum (the label values)"))
        if watermark.type_name not in (*INTEGER_TYPES, *TIME_TYPES):
            problems.append(
                f"watermark column '{watermark.name}' has type {watermark.describe()}; a watermark must be an integer "
                "(smallint, integer, bigint) or a timestamp, timestamptz or date that only grows"
            )
        if problems:
            raise DataValidationError(problems)

    def _type_problem(self, raw: str, got: SourceColumn, allowed: str) -> str:
        return (
            f"source column '{got.name}' (raw column '{raw}') has type {got.describe()} in "
            f"{self.settings.describe_source}; it must be {allowed}"
        )

    # ------------------------------------------------------------------------------------------ batches
    def begin_batch(self) -> None:
        """Close any open transaction: the next statement opens the batch's REPEATABLE READ, READ ONLY one."""
        self.connection.rollback()

    def upper_bound(self, after: Watermark | None, kind: str) -> Watermark | None:
        """The newest watermark of the next `batch_rows` rows past `after` (None: no new rows). Timestamp and
        date watermarks stop `settle_seconds` before the database's clock (the late-row rule, above)."""
        sql = self.sql
        conditions = self._after(after)
        if kind in TIME_TYPES:
            conditions.append(
                sql.SQL("src.{} <= (now() - make_interval(secs => {}))::{}").format(
                    self.watermark, sql.Literal(self.settings.settle_seconds), sql.SQL(kind)
                )
            )
        query = sql.SQL(
            "SELECT max(w) FROM (SELECT src.{wm} AS w FROM {rel} AS src WHERE {cond} ORDER BY src.{wm} LIMIT {n}) b"
        ).format(
            wm=self.watermark,
            rel=self.relation,
            cond=sql.SQL(" AND ").join(conditions),
            n=sql.Literal(self.settings.batch_rows),
        )
        with self._reading("finding the batch's upper watermark") as cursor:
            cursor.execute(query)
            row = cursor.fetchone()
        value = row[0] if row else None
        return None if value is None else Watermark.of(kind, value)

    def copy_rows(self, after: Watermark | None, through: Watermark, sink: Sink) -> int:
        """Stream the rows of (after, through] into `sink` as raw-layout CSV with a header; returns the row count."""
        sql = self.sql
        mapped = self.settings.source_columns
        select = sql.SQL(", ").join(
            sql.SQL("src.{} AS {}").format(sql.Identifier(source), sql.Identifier(raw))
            for raw, source in mapped.items()
        )
        conditions = [
            *self._after(after),
            sql.SQL("src.{} <= {}").format(self.watermark, sql.Literal(through.python())),
        ]
        statement = sql.SQL(
            "COPY (SELECT {} FROM {} AS src WHERE {}) TO STDOUT WITH (FORMAT csv, HEADER true, NULL {})"
        )
        copy = statement.format(
            select, self.relation, sql.SQL(" AND ").join(conditions), sql.Literal(schema.MISSING_TOKEN)
        )
        with self._reading("extracting rows") as cursor:
            with cursor.copy(copy) as stream:
                for data in stream:
                    sink.write(data)
            rows = int(cursor.rowcount)
        return rows

    def end_batch(self) -> None:
        self.connection.rollback()  # read only: nothing to commit

    def _after(self, after: Watermark | None) -> list[Any]:
        sql = self.sql
        if after is None:
            return [sql.SQL("src.{} IS NOT NULL").format(self.watermark)]
        return [sql.SQL("src.{} > {}").format(self.watermark, sql.Literal(after.python()))]

    def _reading(self, what: str) -> _Reading:
        return _Reading(self, what)


class _Reading:
    """A cursor whose PostgreSQL errors become `PipelineError`s saying what was being done and, for a missing
    column, which mapped raw column it is."""

    def __init__(self, source: PostgresSource, what: str) -> None:
        self.source, self.what = source, what

    def __enter__(self) -> Any:
        self.cursor = self.source.connection.cursor()
        return self.cursor

    def __exit__(self, kind: Any, err: BaseException | None, _tb: Any) -> None:
        import psycopg

        self.cursor.close()
        if err is None or not isinstance(err, psycopg.Error):
            return
        settings = self.source.settings
        where = f"PostgreSQL {settings.host}:{settings.port}/{settings.database}, {settings.describe_source}"
        if isinstance(err, psycopg.errors.UndefinedColumn):
            missing = re.search(r'column (?:src\.)?"?([^"\s]+)"? does not exist', str(err))
            name = missing.group(1) if missing else "?"
            raws = [raw for raw, source in settings.source_columns.items() if source == name]
            role = f"mapped to raw column '{raws[0]}'" if raws else "the watermark column"
            raise DataValidationError(f"source column '{name}' ({role}) does not exist in {where}") from err
        if isinstance(err, psycopg.OperationalError):
            raise PipelineError(
                f"the connection to {where} failed while {self.what}: {_first_line(err)}; nothing of this batch was "
                "published and the watermark did not move: the next run extracts the same rows again"
            ) from err
        raise PipelineError(f"{where}: error while {self.what}: {_first_line(err)}") from err
