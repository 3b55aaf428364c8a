"""PostgreSQL ingestion throughput: rows/s extracted and written, and the job's peak memory at two sizes.

    .venv/bin/python benchmarks/bench_ingest.py [--rows 1000000 2000000] [--batch-rows 10000000]

Starts the tests' PostgreSQL server (pgserver, tests/postgres_server.py) and a moto server, loads N Adult-like rows
(real categories, an index on `updated_at`) per size, then runs the job (`pipeline_code.ingest.run_ingestion`: the
lease, COPY, the multipart upload to moto's S3, the manifest, the watermark) in a child process per size, and prints
rows/s, the child's CPU time and its peak RSS. Memory is flat in the number of rows when the two peaks are about
equal. A second leg copies the same rows into a sink that drops them: the extract alone, the floor the upload adds
to. On a shared machine the wall time follows the load (PostgreSQL, moto and the job share the cores); the job's
CPU time per row does much less.
Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import atexit
import importlib.util
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

REGION = "eu-west-1"
COLUMNS = {"education-num": "education_num", "marital-status": "marital_status", "capital-gain": "capital_gain",
           "capital-loss": "capital_loss", "hours-per-week": "hours_per_week", "native-country": "native_country",
           "Y": "income"}  # fmt: skip


def load(postgres: object, table: str, rows: int) -> None:
    from pipeline_code import schema

    def pick(name: str) -> str:
        values = next(c for c in schema.FEATURES if c.raw_name == name).categories  # type: ignore[union-attr]
        array = "ARRAY[" + ",".join("'" + v.replace("'", "''") + "'" for v in values) + "]"
        return f"({array})[1 + (i * 7919 + {len(name)}) % {len(values)}]"

    with postgres.admin() as admin:  # type: ignore[attr-defined]
        admin.execute(f"DROP TABLE IF EXISTS {table}")
        admin.execute(
            f"""CREATE TABLE {table} AS SELECT
              (17 + i % 70)::int AS age, {pick("workclass")} AS workclass, (10000 + (i * 31) % 900000)::int AS fnlwgt,
              {pick("education")} AS education, (1 + i % 16)::int AS education_num,
              {pick("marital-status")} AS marital_status, {pick("occupation")} AS occupation,
              {pick("relationship")} AS relationship, {pick("race")} AS race, {pick("sex")} AS sex,
              (CASE WHEN i % 11 = 0 THEN (i * 13) % 99999 ELSE 0 END)::int AS capital_gain,
              (CASE WHEN i % 23 = 0 THEN (i * 7) % 4356 ELSE 0 END)::int AS capital_loss,
              (1 + i % 99)::int AS hours_per_week, {pick("native-country")} AS native_country,
              (ARRAY['<=50K', '>50K'])[1 + i % 4 / 3] AS income,
              timestamptz '2025-01-01' + i * interval '1 second' AS updated_at
            FROM (SELECT n::bigint AS i FROM generate_series(1, {rows}) AS n) AS numbers"""
        )
        admin.execute(f"CREATE INDEX ON {table} (updated_at)")
        admin.execute(f"ANALYZE {table}")


def child(arguments: dict[str, object]) -> None:
    """One job run (or the extract alone), in its own process: its peak RSS is the job's."""
    from pipeline_code.aws import make_client
    from pipeline_code.ingest import run_ingestion
    from pipeline_code.ingest_objects import RawZone
    from pipeline_code.ingest_postgres import PostgresSource, connect
    from pipeline_code.ingest_settings import parse_settings
    from pipeline_code.ingest_state import StateStore

    settings = parse_settings(arguments["settings"])  # type: ignore[arg-type]
    password = str(arguments["password"])
    before = resource.getrusage(resource.RUSAGE_SELF)
    cpu_before = before.ru_utime + before.ru_stime  # the imports above are not the job's work
    started = time.perf_counter()
    if arguments["leg"] == "extract":

        class Drop:
            size = 0

            def write(self, data: bytes) -> None:
                self.size += len(data)

        connection = connect(settings, "ingest", password)
        source = PostgresSource(settings, connection)
        _, watermark = source.describe()
        source.begin_batch()
        through = source.upper_bound(None, watermark.type_name)
        assert through is not None
        sink = Drop()
        rows = source.copy_rows(None, through, sink)
        written = sink.size
    else:
        report = run_ingestion(
            settings,
            open_connection=lambda: connect(settings, "ingest", password),
            store=StateStore(make_client("dynamodb"), str(arguments["table"]), settings.source_name),
            zone=RawZone(make_client("s3"), str(arguments["bucket"]), "adult/", settings.source_name),
            owner="bench",
            lease_seconds=3600,
            log=lambda _: None,
        )
        rows, written = report.rows, 0
    seconds = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu = usage.ru_utime + usage.ru_stime - cpu_before
    print(json.dumps({"rows": rows, "seconds": seconds, "cpu": cpu, "bytes": written, "peak_rss_mib": peak_rss_mib()}))


def peak_rss_mib() -> float:
    """This process's own peak RSS (VmHWM). Not getrusage: on Linux a child's ru_maxrss also counts the parent's
    memory at the fork before its exec, which here holds moto's objects."""
    status = Path("/proc/self/status").read_text()
    kib = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM:"))
    return kib / 1024


def run_child(arguments: dict[str, object], env: dict[str, str]) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, __file__, "--child", json.dumps(arguments)], capture_output=True, env=env, text=True
    )
    if done.returncode != 0:
        raise SystemExit(f"child failed ({done.returncode}): {done.stderr[-2000:]}")
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 2_000_000])
    parser.add_argument("--batch-rows", type=int, default=10_000_000, help="one batch per size by default")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(json.loads(args.child))
        return 0

    import boto3

    from pipeline_definition.local_runner.twin import moto_endpoint as moto_server

    # tests/ is no package (pytest imports it by path): load the server fixture module the same way
    spec = importlib.util.spec_from_file_location("postgres_server", ROOT / "tests" / "postgres_server.py")
    assert spec is not None
    assert spec.loader is not None
    postgres_server = importlib.util.module_from_spec(spec)
    sys.modules["postgres_server"] = postgres_server  # its dataclasses look their module up
    spec.loader.exec_module(postgres_server)
    INGEST_PASSWORD, start_postgres = postgres_server.INGEST_PASSWORD, postgres_server.start_postgres  # noqa: N806

    folder = Path(tempfile.mkdtemp(prefix="bench-ingest-"))
    postgres = start_postgres(folder / "postgres", folder / "setup.lock")
    atexit.register(shutil.rmtree, folder, True)  # after pgserver's own exit handler has stopped the server
    with moto_server() as url:
        env = {**os.environ, "AWS_ENDPOINT_URL": url, "AWS_ACCESS_KEY_ID": "testing",
               "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": REGION, "AWS_REGION": REGION}  # fmt: skip
        s3 = boto3.client("s3", endpoint_url=url, region_name=REGION, aws_access_key_id="testing",
                          aws_secret_access_key="testing")  # fmt: skip
        dynamodb = boto3.client("dynamodb", endpoint_url=url, region_name=REGION, aws_access_key_id="testing",
                                aws_secret_access_key="testing")  # fmt: skip
        print(f"PostgreSQL 16 (pgserver) on a Unix socket, moto S3 at {url}; batch_rows {args.batch_rows}")
        print(f"load average at start: {os.getloadavg()[0]:.1f} (2 cores here)")
        print("| rows | leg | wall s | rows/s | MB/s | job CPU s | rows per job CPU s | peak RSS (MiB) |")
        print("| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
        for rows in args.rows:
            table = f"bench_{rows}"
            load(postgres, table, rows)
            bucket, state = f"bench-raw-{rows}", f"bench-state-{rows}"
            s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
            dynamodb.create_table(
                TableName=state, KeySchema=[{"AttributeName": "source", "KeyType": "HASH"}],
                AttributeDefinitions=[{"AttributeName": "source", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST",
            )  # fmt: skip
            settings = {
                "source_name": "bench", "host": postgres.socket_dir, "port": postgres.port,
                "database": postgres.database, "secret_arn": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:b",
                "table": f"public.{table}", "watermark_column": "updated_at", "columns": COLUMNS,
                "settle_seconds": 0, "ssl_mode": "prefer", "batch_rows": args.batch_rows,
            }  # fmt: skip
            common = {"settings": settings, "password": INGEST_PASSWORD, "bucket": bucket, "table": state}
            for leg in ("extract", "job"):
                result = run_child({**common, "leg": leg}, env)
                size = result["bytes"] or sum(
                    o["Size"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="adult/").get("Contents", [])
                )
                print(
                    f"| {int(result['rows']):,} | {leg} | {result['seconds']:.2f} | "
                    f"{result['rows'] / result['seconds']:,.0f} | {size / result['seconds'] / 1e6:.0f} | "
                    f"{result['cpu']:.2f} | {result['rows'] / result['cpu']:,.0f} | {result['peak_rss_mib']:.0f} |"
                )
    print(f"(this process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB with moto's objects)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
