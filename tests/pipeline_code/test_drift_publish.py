"""Publishing the drift check's results: metrics in chunks CloudWatch accepts, failures that name the API, and
options that go together. (Metrics and events read back end to end: test_monitoring_inputs.py.)"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

from pipeline_code import drift
from pipeline_code.errors import PipelineError
from tests.moto_server import moto_server

REGION = "us-east-1"


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    with moto_server() as url:
        yield url


@pytest.fixture(autouse=True)
def fake_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_MAX_ATTEMPTS": "1",
    }.items():
        monkeypatch.setenv(name, value)


def client(service: str, endpoint: str) -> Any:
    return boto3.client(service, endpoint_url=endpoint, region_name=REGION, config=Config(retries={"max_attempts": 1}))


def test_metrics_are_put_in_chunks_of_at_most_1000(endpoint: str) -> None:
    cloudwatch = client("cloudwatch", endpoint)
    sizes: list[int] = []
    cloudwatch.meta.events.register(
        "provide-client-params.monitoring.PutMetricData", lambda params, **_: sizes.append(len(params["MetricData"]))
    )
    data = [
        {
            "MetricName": "FeatureDrift",
            "Dimensions": [{"Name": "Feature", "Value": f"f{i}"}],
            "Value": i / 10,
            "Unit": "None",
        }
        for i in range(1001)
    ]

    not_finite = [{**data[0], "Value": None}, {**data[0], "Value": float("nan")}]  # CloudWatch rejects them

    assert drift.publish_metrics(cloudwatch, {"Namespace": "Test/Chunks", "MetricData": not_finite + data}) == 2

    assert sizes == [1000, 1]
    pages = cloudwatch.get_paginator("list_metrics").paginate(Namespace="Test/Chunks")
    stored = {m["Dimensions"][0]["Value"] for page in pages for m in page["Metrics"]}
    assert stored == {f"f{i}" for i in range(1001)}


def test_an_event_eventbridge_rejects_is_an_error(endpoint: str) -> None:
    entry = drift.violations_event("dev", "s3://b/report/", [{"check": "feature_drift", "feature": "age"}])
    assert json.loads(entry["Detail"])["violations"][0]["feature"] == "age"
    with pytest.raises(PipelineError, match="PutEvents rejected the event: MalformedDetail"):
        drift.publish_event(client("events", endpoint), {**entry, "Detail": "{not json"})


def _drift_argv(run_dir: Path, out: Path, *extra: str) -> list[str]:
    return [
        "--baseline",
        str(run_dir / "preprocess/baseline/baseline.json"),
        "--data",
        str(run_dir / "shifted/numeric.csv"),
        "--output",
        str(out),
        "--region",
        REGION,
        *extra,
    ]


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize(
    ("option", "api"),
    [
        (["--publish-cloudwatch"], "PutMetricData"),
        (["--publish-events", "--report-uri", "s3://b/r/", "--environment", "dev"], "PutEvents"),
    ],
)
def test_a_publish_failure_exits_1_naming_the_api_after_the_outputs_were_written(
    run_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], option: list[str], api: str
) -> None:
    unreachable = f"http://127.0.0.1:{_closed_port()}"

    assert drift.main(_drift_argv(run_dir, tmp_path, "--endpoint-url", unreachable, *option)) == 1

    assert f"drift failed: {api} failed: Could not connect to the endpoint URL" in capsys.readouterr().err
    assert json.loads((tmp_path / "violations.json").read_text())["violations"]  # written before publishing


def test_events_need_a_report_uri_and_an_environment(
    run_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert drift.main(_drift_argv(run_dir, tmp_path / "out", "--publish-events", "--environment", "dev")) == 1
    assert "--publish-events needs --report-uri and --environment" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_the_report_is_copied_to_the_latest_key_once_written(run_dir: Path, tmp_path: Path, endpoint: str) -> None:
    s3 = client("s3", endpoint)
    s3.create_bucket(Bucket="latest-report")
    latest = "s3://latest-report/monitoring/reports/latest/report.html"

    assert drift.main(_drift_argv(run_dir, tmp_path, "--endpoint-url", endpoint, "--latest-report-uri", latest)) == 0

    copied = s3.get_object(Bucket="latest-report", Key="monitoring/reports/latest/report.html")
    assert copied["ContentType"].startswith("text/html")
    assert copied["Body"].read() == (tmp_path / "report.html").read_bytes()
