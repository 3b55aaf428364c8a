"""The retraining triggers: cold import per handler, deployment package size, warm decision path on moto.

    .venv/bin/python benchmarks/bench_lambdas.py [--runs 7] [--events 1000]

- Cold import: a fresh interpreter per run imports `lambdas.<handler>.handler` with Powertools installed the way
  the public layer ships it (`pip install --target` of aws-lambda-powertools[all] with the fastjsonschema the
  layer was built with, boto* removed, no bytecode: the layer strips `.pyc` and /opt is read-only, so every cold
  start compiles). Kept in `.bench-venv-powertools-layer/`, rebuilt when `LAYER_REQUIREMENTS` changes (the
  requirements it was built from are written into it; the first run needs PyPI). boto3 comes from the project's
  virtualenv, as it comes from the Lambda runtime. Also measured with bytecode cached, for comparison (really
  cached: a PYTHONDONTWRITEBYTECODE of the calling shell is dropped, or that figure would compile as well).
- The interpreter gets the variables the Lambda Python runtime sets (`LAMBDA_ENVIRONMENT`): they change what an
  import does. The X-Ray SDK (imported by Powertools' Tracer) checks `LAMBDA_TASK_ROOT` when its recorder is
  created (`aws_xray_sdk.core.lambda_launcher.check_in_lambda`): outside Lambda it builds a DefaultSampler that
  makes two botocore X-Ray clients at import (~90 ms of CPU with bytecode cached, more without), which never
  happens in Lambda, where segments come from the runtime and sampling is the service's. In Lambda mode the SDK
  writes a touch file, /tmp/.aws-xray/initialized (harmless: how the SDK signals that it was initialised).
- Package size: the asset CDK builds for each function (`stacks.units.retraining_triggers._CopyPackage`), zipped.
- Warm decision path: both handlers in this process against a local moto server (DynamoDB, SageMaker), 1,000
  events each after a warm-up; p50 and p99 of the handler call. Tracing is off (no X-Ray daemon here).

Figures are printed; nothing is asserted (the tests hold the limits).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import logging
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
import zipfile
from pathlib import Path
from typing import Any

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")  # in case aws_cdk gets imported
logging.getLogger("werkzeug").setLevel(logging.WARNING)  # the local moto server logs every request otherwise

ROOT = Path(__file__).resolve().parent.parent
LAYER_DIR = ROOT / ".bench-venv-powertools-layer"
LAYER = LAYER_DIR / "python"
LAYER_BUILT_FROM = LAYER_DIR / "requirements.txt"
# What layer 27 ships (stacks/units/retraining_triggers.py): Powertools 3.23.0 built with every extra, and the
# fastjsonschema of that day (2.21.2, the newest on 2025-11-13) rather than whatever PyPI resolves today.
POWERTOOLS = "aws-lambda-powertools[all]==3.23.0"
LAYER_REQUIREMENTS = (POWERTOOLS, "fastjsonschema==2.21.2")
HANDLERS = ("retrain_on_drift", "retrain_on_new_data", "retrain_on_schedule")
# What the layer build removes (the runtime provides them).
RUNTIME_PROVIDED = ("boto3", "botocore", "s3transfer", "dateutil", "python_dateutil", "urllib3", "six", "jmespath")

ENVIRONMENT = {
    "PLATFORM_ENVIRONMENT": "mlops-bench",
    "TRAINING_PIPELINE_NAME": "mlops-bench-training",
    "STATE_TABLE_NAME": "mlops-bench-retraining-state",
    "COOLDOWN_HOURS": "24",
    "DRIFT_ALARM_PREFIX": "mlops-bench-drift-",
    "MONITORING_REPORTS_URI": "s3://mlops-bench-artifacts/monitoring/reports/",
    "RAW_BUCKET_NAME": "mlops-bench-raw-123456789012-eu-west-1",
    "SNAPSHOT_PREFIXES": "adult/,feedback/",
    "SNAPSHOTS_URI": "s3://mlops-bench-artifacts-123456789012-eu-west-1/data-snapshots/",
    "INPUT_PREFIX": "adult/",
    "MIN_NEW_ROWS": "10000",
    "RETRAINING_SCHEDULE_NAME": "mlops-bench-retraining",
    "MIN_NEW_BYTES": "10000000",
    "AVERAGE_ROW_BYTES": "122",
    "POWERTOOLS_METRICS_NAMESPACE": "MLOps/Retraining",
    "POWERTOOLS_SERVICE_NAME": "bench",
    "AWS_DEFAULT_REGION": "eu-west-1",
    "AWS_REGION": "eu-west-1",
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
}


# What the Lambda Python runtime sets in every function's environment (besides the function's own variables and
# credentials); `_timed` adds LAMBDA_TASK_ROOT and _HANDLER for the package it imports.
LAMBDA_ENVIRONMENT = {
    "AWS_EXECUTION_ENV": "AWS_Lambda_python3.12",
    "AWS_LAMBDA_FUNCTION_NAME": "bench",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
    "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
    "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
    "AWS_XRAY_DAEMON_ADDRESS": "169.254.79.129:2000",
    "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
    "TZ": ":UTC",
}


def build_layer() -> None:
    """The layer's packages in LAYER, unless they are there already, built from LAYER_REQUIREMENTS."""
    wanted = "\n".join(LAYER_REQUIREMENTS) + "\n"
    built = LAYER_BUILT_FROM.read_text() if LAYER_BUILT_FROM.is_file() else None
    if built == wanted and (LAYER / "aws_lambda_powertools").is_dir():
        return
    shutil.rmtree(LAYER_DIR, ignore_errors=True)
    LAYER.mkdir(parents=True)
    pip = [sys.executable, "-m", "pip", "install", "--quiet", "--no-compile", "--target", str(LAYER)]
    subprocess.run([*pip, *LAYER_REQUIREMENTS], check=True)
    for entry in LAYER.iterdir():
        if entry.name.split("-")[0].split(".")[0] in RUNTIME_PROVIDED:
            shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
    LAYER_BUILT_FROM.write_text(wanted)  # last: an interrupted build is redone


def _strip_bytecode(root: Path) -> None:
    for cache in root.rglob("__pycache__"):
        shutil.rmtree(cache, ignore_errors=True)


def cold_import(handler: str, package: Path, *, bytecode: bool) -> float:
    return _timed(f"import lambdas.{handler}.handler", package, bytecode=bytecode)


# What the cold import is made of: each line imports everything above it too (fresh interpreter each). A handler's
# figure adds its own modules, the decorators and what Runtime.create makes (once: Logger, Metrics, Tracer, the
# DynamoDB client the idempotency layer and the ledger share).
BREAKDOWN = (
    ("boto3 (runtime)", "import boto3"),
    ("+ Powertools Logger, Metrics", "from aws_lambda_powertools import Logger, Metrics; Logger(); Metrics()"),
    ("+ Tracer (X-Ray SDK)", "from aws_lambda_powertools import Tracer; Tracer(patch_modules=('botocore',))"),
    (
        "+ fastjsonschema, event and settings schemas compiled",
        "import os; from lambdas.retrain_on_drift.events import parse_drift_event; "
        "from lambdas.retrain_on_drift.settings import DriftSettings; "
        "from lambdas.shared.settings import load_settings; load_settings(DriftSettings, os.environ)",
    ),
    (
        "+ idempotency (DynamoDB client)",
        "from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer as D; D(table_name='t')",
    ),
)


def breakdown(package: Path, runs: int) -> list[tuple[str, float]]:
    rows, code = [], ""
    for label, step in BREAKDOWN:
        code += step + "; "
        timings = []
        for _ in range(runs):
            timings.append(_timed(code, package))
        rows.append((label, statistics.median(timings)))
    return rows


def _timed(code: str, package: Path, *, bytecode: bool = True) -> float:
    """CPU seconds (user + system) the statements take in a fresh interpreter. CPU time, not wall time: the
    import is CPU-bound, and CPU time stays put when other work shares the machine (wall time doubles)."""
    code = f"import time; t = time.process_time(); {code.rstrip('; ')}; print(time.process_time() - t)"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("POWERTOOLS_", "AWS_", "_X_AMZN"))}
    env |= ENVIRONMENT | LAMBDA_ENVIRONMENT
    # As in Lambda: the function's package and the layer come first on the path; Tracer really initialises (in
    # Lambda mode: LAMBDA_TASK_ROOT, see the module's docstring).
    env |= {
        "PYTHONPATH": f"{package}{os.pathsep}{LAYER}",
        "LAMBDA_TASK_ROOT": str(package),
        "_HANDLER": f"lambdas.{package.name}.handler.lambda_handler",
    }
    # Whatever this shell says: without bytecode (as the layer ships) nothing is written or read from an earlier
    # run's caches (they are stripped first); with it, the first run writes the caches the next ones read.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    if not bytecode:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True, cwd="/")
    return float(result.stdout.strip().splitlines()[-1])


def build_package(handler: str, into: Path) -> Path:
    from stacks.units.retraining_triggers import _CopyPackage

    out = into / handler
    out.mkdir(parents=True)
    _CopyPackage(handler).try_bundle(str(out))
    return out


def zipped_size(package: Path) -> int:
    archive = package.with_suffix(".zip")
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zipped:
        for path in sorted(p for p in package.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
            zipped.write(path, path.relative_to(package))
    return archive.stat().st_size


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def warm_paths(events: int) -> dict[str, tuple[float, float, float, dict[str, int]]]:
    import boto3
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    host, port = server.get_host_and_port()
    os.environ.update(ENVIRONMENT)
    os.environ |= {"AWS_ENDPOINT_URL": f"http://{host}:{port}", "AWS_MAX_ATTEMPTS": "1"}
    os.environ["POWERTOOLS_TRACE_DISABLED"] = "true"
    dynamodb, sagemaker = boto3.client("dynamodb"), boto3.client("sagemaker")
    dynamodb.create_table(
        TableName=ENVIRONMENT["STATE_TABLE_NAME"],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    s3 = boto3.client("s3")
    for bucket in (ENVIRONMENT["RAW_BUCKET_NAME"], ENVIRONMENT["SNAPSHOTS_URI"].split("/")[2]):
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    # a start snapshots the raw zone: give it data
    s3.put_object(Bucket=ENVIRONMENT["RAW_BUCKET_NAME"], Key="adult/adult.data", Body=b"age\n39\n")
    definition = {"Version": "2020-12-01", "Parameters": [{"Name": "Trigger", "Type": "String"}], "Steps": []}
    sagemaker.create_pipeline(
        PipelineName=ENVIRONMENT["TRAINING_PIPELINE_NAME"],
        PipelineDefinition=json.dumps(definition),
        RoleArn="arn:aws:iam::123456789012:role/sm",
    )
    sys.path.insert(0, str(ROOT))
    tests_events = ROOT / "tests" / "lambdas" / "events"
    alarm = json.loads((tests_events / "alarm_state_change.json").read_text())
    created = json.loads((tests_events / "object_created.json").read_text())
    results: dict[str, tuple[float, float, float, dict[str, int]]] = {}
    try:
        for handler, make in (
            ("retrain_on_new_data", _object_maker(created)),
            ("retrain_on_drift", _alarm_maker(alarm)),
        ):
            module = __import__(f"lambdas.{handler}.handler", fromlist=["lambda_handler"])
            module.logger.registered_handler.setStream(io.StringIO())  # log lines are built, not kept
            context = _Context()
            outcomes: dict[str, int] = {}
            timings: list[float] = []
            first = 0.0
            for index in range(events + 50):
                event = make()
                with contextlib.redirect_stdout(io.StringIO()):  # EMF metrics
                    start = time.perf_counter()
                    result = module.lambda_handler(event, context)
                    elapsed = time.perf_counter() - start
                if index == 0:  # the first invocation makes the SageMaker client and the first connections
                    first = elapsed
                if index >= 50:  # warm-up: first clients, first connections
                    timings.append(elapsed)
                    outcomes[result["reason"]] = outcomes.get(result["reason"], 0) + 1
            results[handler] = (first, statistics.median(timings), _percentile(timings, 0.99), outcomes)
    finally:
        server.stop()
    return results


def _alarm_maker(template: dict[str, Any]) -> Any:
    def make() -> dict[str, Any]:
        event = json.loads(json.dumps(template))
        name = f"mlops-bench-drift-{uuid.uuid4().hex[:8]}"
        event["id"] = str(uuid.uuid4())
        event["resources"] = [f"arn:aws:cloudwatch:eu-west-1:123456789012:alarm:{name}"]
        event["detail"]["alarmName"] = name
        return event

    return make


def _object_maker(template: dict[str, Any]) -> Any:
    def make() -> dict[str, Any]:
        event = json.loads(json.dumps(template))
        event["id"] = str(uuid.uuid4())
        event["detail"]["bucket"]["name"] = ENVIRONMENT["RAW_BUCKET_NAME"]
        event["detail"]["object"] |= {"key": f"adult/{uuid.uuid4().hex}.csv", "size": 1_220}  # ~10 rows
        event["detail"]["object"]["sequencer"] = uuid.uuid4().hex[:18].upper()
        return event

    return make


class _Context:
    function_name = "bench"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:eu-west-1:123456789012:function:bench"
    aws_request_id = "bench"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=7, help="fresh interpreters per handler for the cold import")
    parser.add_argument("--events", type=int, default=1000, help="events per handler for the warm path")
    args = parser.parse_args()
    os.chdir(ROOT)
    sys.path.insert(0, str(ROOT))
    build_layer()
    print(
        f"python {sys.version.split()[0]} (Lambda runs 3.12); {' '.join(LAYER_REQUIREMENTS)} "
        f"from {LAYER.relative_to(ROOT)}"
    )
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs; cold import figures are CPU time")
    with tempfile.TemporaryDirectory() as scratch:
        for handler in HANDLERS:
            package = build_package(handler, Path(scratch))
            size = zipped_size(package)
            _strip_bytecode(LAYER)
            cold = [cold_import(handler, package, bytecode=False) for _ in range(args.runs)]
            _strip_bytecode(package)
            cold_import(handler, package, bytecode=True)  # writes the caches
            cached = [cold_import(handler, package, bytecode=True) for _ in range(args.runs)]
            if handler == HANDLERS[0]:
                parts = breakdown(package, args.runs)
            _strip_bytecode(LAYER)
            _strip_bytecode(package)
            print(
                f"{handler}: package {size / 1024:.1f} KiB zipped; cold import (no bytecode, as the layer ships) "
                f"median {statistics.median(cold) * 1000:.0f} ms, max {max(cold) * 1000:.0f} ms; "
                f"with bytecode cached median {statistics.median(cached) * 1000:.0f} ms ({args.runs} runs)"
            )
    previous = 0.0
    for label, seconds in parts:
        print(
            f"  cold import breakdown (bytecode cached), {label}: "
            f"{seconds * 1000:.0f} ms (+{(seconds - previous) * 1000:.0f})"
        )
        previous = seconds
    for handler, (first, p50, p99, outcomes) in warm_paths(args.events).items():
        print(
            f"{handler}: first invocation {first * 1000:.0f} ms; warm path over {args.events} events on moto: "
            f"p50 {p50 * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms; {outcomes}"
        )


if __name__ == "__main__":
    main()
