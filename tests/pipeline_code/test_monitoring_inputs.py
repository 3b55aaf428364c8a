"""Monitoring inputs on a local moto server: the deployed package's artifacts, captured and batch-scored rows
of one window, ground truth, and the drift check (with publishing) run on what was gathered.

The capture files are built from the real test split (its raw records, as clients send them: CSV lines and
JSON instances) and its model's answers, spread over hour prefixes inside and outside the window, in SageMaker's
capture layout; moto serves S3, SSM, the Model Registry, CloudWatch, EventBridge and SQS (an EventBridge rule with
an SQS target reads the published events back).
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import numpy as np
import pytest
from botocore.config import Config

from pipeline_code import drift, features, monitoring_inputs, preprocess, serve, shifts, tabular, train
from pipeline_code.artifacts import read_json
from pipeline_code.errors import DataValidationError
from pipeline_definition.local_runner.jobs import pack_folder
from tests.moto_server import moto_server

REGION = "us-east-1"
BUCKET = "mlops-dev-artifacts-123456789012-us-east-1"
PARAMETER = "/mlops/dev/current-model-package"
GROUP = "mlops-dev-models"
RUN = f"s3://{BUCKET}/pipeline-runs/exec-0042"
CAPTURE = f"s3://{BUCKET}/data-capture/mlops-dev-endpoint/AllTraffic"
SHIFTED_CAPTURE = f"s3://{BUCKET}/data-capture/mlops-dev-shifted/AllTraffic"
GROUND_TRUTH = f"s3://{BUCKET}/ground-truth/mlops-dev-endpoint"
FIRST_HOUR = datetime(2026, 11, 26, 4, tzinfo=UTC)  # capture covers 04:00-14:00
END = datetime(2026, 11, 26, 12, 30, tzinfo=UTC)
WINDOW = monitoring_inputs.Window.ending(END, 6)  # [06:30, 12:30)


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    with pytest.MonkeyPatch.context() as env, moto_server() as url:
        for name, value in {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_MAX_ATTEMPTS": "1",
            "AWS_DEFAULT_REGION": REGION,
        }.items():
            env.setenv(name, value)
        yield url


def client(service: str, endpoint: str) -> Any:
    return boto3.client(service, endpoint_url=endpoint, region_name=REGION, config=Config(retries={"max_attempts": 1}))


def put(s3: Any, uri: str, body: bytes) -> None:
    bucket, key = uri.removeprefix("s3://").split("/", 1)
    s3.put_object(Bucket=bucket, Key=key, Body=body)


@dataclass
class Request:
    """One captured invocation: its time, event id, encoded rows, the raw lines a client sent, served scores, labels."""

    time: datetime
    event_id: str
    rows: np.ndarray
    lines: list[str]
    scores: np.ndarray
    labels: np.ndarray


def raw_lines(batch: tabular.EncodedBatch) -> list[str]:
    """Encoded rows back as the raw lines a client sends (the endpoint reads them back into exactly these rows)."""
    decoder = features.Decoder(features.FeatureManifest.from_schema())
    return [decoder.line(row) for row in batch.features.tolist()]


def requests_of(batch: tabular.EncodedBatch, lines: list[str], scores: np.ndarray, tag: str) -> list[Request]:
    """Rows in requests of 1, 3, 1 and 2 rows, evenly spread over ten hours from FIRST_HOUR."""
    sizes, start, out = [1, 3, 1, 2], 0, []
    while start < batch.features.shape[0]:
        stop = start + sizes[len(out) % 4]
        out.append(
            Request(
                FIRST_HOUR,
                f"{tag}-{len(out)}",
                batch.features[start:stop],
                lines[start:stop],
                scores[start:stop],
                batch.label[start:stop],
            )
        )
        start = stop
    step = timedelta(hours=10) / len(out)
    for i, request in enumerate(out):
        request.time = FIRST_HOUR + i * step
    return out


def _instances(lines: list[str]) -> str:
    """Raw lines as the JSON a client sends: numbers as numbers, '?' as null, category words as strings."""
    manifest = features.FeatureManifest.from_schema()
    instances = []
    for line in lines:
        values = [v.strip() for v in line.split(",")][: len(manifest.features)]
        instances.append(
            {
                f.raw_name: None if v == "?" else (v if f.categorical else int(v))
                for f, v in zip(manifest.features, values, strict=True)
            }
        )
    return json.dumps({"instances": instances})


def capture_line(request: Request, index: int) -> str:
    """SageMaker's capture record of a raw request: every 3rd request JSON (captured with the JSON encoding), the
    others CSV; every 5th BASE64-encoded; answers alternately JSON and CSV, as the handlers write them."""
    as_json = index % 3 == 1
    body = _instances(request.lines) if as_json else "\n".join(request.lines) + "\n"
    threshold = 0.3
    prediction = serve.Prediction(
        probabilities=np.asarray(request.scores, dtype=np.float32),
        decisions=(np.asarray(request.scores) >= threshold).astype(np.int8),
        threshold=threshold,
        labels=("<=50K", ">50K"),
        unseen={},
    )
    answer, answer_type = serve.output_fn(prediction, serve.CSV if index % 2 else serve.JSON)

    def payload(text: str, content_type: str) -> dict[str, str]:
        if index % 5 == 0:
            return {"observedContentType": content_type, "data": base64.b64encode(text.encode()).decode(),
                    "encoding": "BASE64"}  # fmt: skip
        encoding = "JSON" if content_type == serve.JSON else "CSV"
        return {"observedContentType": content_type, "data": text, "encoding": encoding}

    return json.dumps(
        {
            "captureData": {
                "endpointInput": {"mode": "INPUT", **payload(body, serve.JSON if as_json else serve.CSV)},
                "endpointOutput": {"mode": "OUTPUT", **payload(answer, answer_type)},
            },
            "eventMetadata": {
                "eventId": request.event_id,
                "inferenceId": str(index),
                "inferenceTime": request.time.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
            },
            "eventVersion": "0",
        }
    )


def upload_by_hour(s3: Any, base: str, lines: list[tuple[datetime, str]]) -> None:
    by_hour: dict[str, list[str]] = {}
    for moment, line in lines:
        by_hour.setdefault(f"{moment:%Y/%m/%d/%H}", []).append(line)
    for hour, content in by_hour.items():
        put(s3, f"{base}/{hour}/{uuid.uuid4()}.jsonl", ("\n".join(content) + "\n").encode())


@pytest.fixture(scope="module")
def deployed(endpoint: str, run_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A package registered as the training pipeline registers it, its artifacts in S3, and the SSM pointer."""
    s3, sagemaker = client("s3", endpoint), client("sagemaker", endpoint)
    s3.create_bucket(Bucket=BUCKET)
    archive = tmp_path_factory.mktemp("model") / "model.tar.gz"
    pack_folder(run_dir / "model", archive)  # as a training job packs its model folder
    model_uri = f"{RUN}/models/pipelines-abc-TrainModel/output/model.tar.gz"
    put(s3, model_uri, archive.read_bytes())
    put(s3, f"{RUN}/Preprocess/baseline/baseline.json", (run_dir / "preprocess/baseline/baseline.json").read_bytes())
    put(s3, f"{RUN}/Preprocess/test/test.csv", (run_dir / "preprocess/test/test.csv").read_bytes())
    put(s3, f"{RUN}/EvaluateModel/evaluation/evaluation.json", (run_dir / "evaluation/evaluation.json").read_bytes())
    sagemaker.create_model_package_group(ModelPackageGroupName=GROUP)
    arn = sagemaker.create_model_package(
        ModelPackageGroupName=GROUP,
        ModelApprovalStatus="Approved",
        InferenceSpecification={
            "Containers": [
                {
                    "Image": "141502667606.dkr.ecr.eu-west-1.amazonaws.com/sagemaker-xgboost:3.0-5",
                    "ModelDataUrl": model_uri,
                }
            ],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["text/csv"],
        },
        ModelMetrics={
            "ModelQuality": {
                "Statistics": {
                    "ContentType": "application/json",
                    "S3Uri": f"{RUN}/EvaluateModel/evaluation/evaluation.json",
                }
            }
        },
        DriftCheckBaselines={
            "ModelDataQuality": {
                "Statistics": {"ContentType": "application/json", "S3Uri": f"{RUN}/Preprocess/baseline/baseline.json"}
            }
        },
    )["ModelPackageArn"]
    client("ssm", endpoint).put_parameter(Name=PARAMETER, Value=arn, Type="String")
    return str(arn)


@pytest.fixture(scope="module")
def test_split(run_dir: Path) -> tuple[tabular.EncodedBatch, np.ndarray]:
    batch = tabular.read_processed(run_dir / "preprocess" / "test")
    return batch, train.predict_proba(train.load_model(run_dir / "model"), batch.features).astype(np.float32)


@pytest.fixture(scope="module")
def captured(endpoint: str, deployed: str, test_split: tuple, run_dir: Path) -> list[Request]:
    """Unshifted capture with ground truth (an hour after each request), a shifted capture, and traps."""
    s3 = client("s3", endpoint)
    batch, scores = test_split
    lines = (run_dir / "preprocess" / preprocess.RAW_TEST / "test.csv").read_text().splitlines()
    requests = requests_of(batch, lines, scores, "evt")
    upload_by_hour(s3, CAPTURE, [(r.time, capture_line(r, i)) for i, r in enumerate(requests)])
    truth = [
        (
            r.time + timedelta(hours=1),
            json.dumps(
                {
                    "groundTruthData": {"data": "\n".join(str(int(v)) for v in r.labels), "encoding": "CSV"},
                    "eventMetadata": {"eventId": r.event_id},
                    "eventVersion": "0",
                }
            ),
        )
        for r in requests
    ]
    upload_by_hour(s3, GROUND_TRUTH, truth)
    half = tabular.EncodedBatch(batch.features[::2], batch.label[::2])  # enough rows to see the shift
    shifted = shifts.shift(half, "numeric")
    model = train.load_model(run_dir / "model")
    shifted_scores = train.predict_proba(model, shifted.features).astype(np.float32)
    upload_by_hour(
        s3,
        SHIFTED_CAPTURE,
        [
            (r.time, capture_line(r, i))
            for i, r in enumerate(requests_of(shifted, raw_lines(shifted), shifted_scores, "s"))
        ],
    )
    # outside the window's hour prefixes: would fail the step if it were listed
    put(s3, f"{CAPTURE}/2026/11/26/02/trap.jsonl", b"not json\n")
    put(s3, f"{CAPTURE}/trap.jsonl", b"not json\n")
    return requests


def gather(endpoint: str, out: Path, *extra: str, capture: str = CAPTURE) -> int:
    return monitoring_inputs.main(
        [
            "--model-package-parameter",
            PARAMETER,
            "--window-hours",
            "6",
            "--end",
            "2026-11-26T12:30:00Z",
            "--region",
            REGION,
            "--endpoint-url",
            endpoint,
            "--output",
            str(out),
            "--source",
            "capture",
            "--capture-uri",
            capture,
            *extra,
        ]
    )


def in_window(requests: list[Request]) -> list[Request]:
    return [r for r in requests if WINDOW.start <= r.time < WINDOW.end]


@pytest.fixture(scope="module")
def gathered(endpoint: str, captured: list[Request], tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("monitoring") / "inputs"
    assert gather(endpoint, out, "--ground-truth-uri", GROUND_TRUTH, "--ground-truth-delay-hours", "2") == 0
    return out


def test_only_rows_inside_the_window_are_gathered_exactly(gathered: Path, captured: list[Request]) -> None:
    expected = in_window(captured)
    assert 0 < len(expected) < len(captured)
    assert expected[0].time.hour == 6
    assert expected[-1].time.hour == 12
    current = tabular.read_processed(gathered / "current")
    np.testing.assert_array_equal(current.features, np.concatenate([r.rows for r in expected]))
    np.testing.assert_array_equal(current.label, np.concatenate([r.labels for r in expected]))
    served = np.loadtxt(gathered / "scores" / "scores.csv")
    np.testing.assert_array_equal(served, np.concatenate([r.scores for r in expected]).astype(np.float64))
    assert any(len(r.rows) == 3 for r in expected)  # multi-row requests and BASE64 records were in the window
    assert len(expected) > 15  # so CSV and JSON requests, CSV and JSON answers, every encoding were among them
    summary = read_json(gathered / "summary" / "summary.json")
    assert (summary["unseen_categories"], summary["refused_requests"]) == ({}, 0)
    assert summary["rows"] == current.features.shape[0] == sum(len(r.rows) for r in expected)
    assert summary["labelled"] is True
    assert summary["window"] == {"start": "2026-11-26T06:30:00Z", "end": "2026-11-26T12:30:00Z"}
    assert summary["source"] == "capture"
    assert summary["model_package_arn"].endswith(f"{GROUP}/1")


def test_the_deployed_packages_artifacts_are_downloaded(gathered: Path, run_dir: Path) -> None:
    assert (gathered / "baseline/baseline.json").read_bytes() == (
        run_dir / "preprocess/baseline/baseline.json"
    ).read_bytes()
    assert (gathered / "reference/reference.csv").read_bytes() == (run_dir / "preprocess/test/test.csv").read_bytes()
    rows = tabular.read_processed(gathered / "current").features[:50]
    from_archive = train.predict_proba(train.load_model(gathered / "model"), rows)
    np.testing.assert_array_equal(from_archive, train.predict_proba(train.load_model(run_dir / "model"), rows))


def test_partial_ground_truth_writes_features_only_and_says_so(
    endpoint: str, captured: list[Request], tmp_path: Path
) -> None:
    s3 = client("s3", endpoint)
    partial = f"s3://{BUCKET}/ground-truth/partial"
    last_hour = monitoring_inputs.Window.ending(END, 1)  # a short window keeps the test fast
    first = next(r for r in captured if r.time in last_hour and len(r.rows) == 1)
    record = {
        "groundTruthData": {"data": str(int(first.labels[0])), "encoding": "CSV"},
        "eventMetadata": {"eventId": first.event_id},
        "eventVersion": "0",
    }
    upload_by_hour(s3, partial, [(first.time, json.dumps(record))])

    assert gather(endpoint, tmp_path, "--ground-truth-uri", partial, "--window-hours", "1") == 0

    summary = read_json(tmp_path / "summary" / "summary.json")
    assert (summary["labelled"], summary["labelled_rows"]) == (False, 1)
    assert summary["rows"] == sum(len(r.rows) for r in captured if r.time in last_hour) > 1
    assert "features only" in summary["note"]
    first_line = (tmp_path / "current" / "current.csv").read_text().split("\n", 1)[0]
    assert first_line.count(",") + 1 == 14  # no label column: the drift check cannot mistake a feature for it
    assert tabular.read_processed(tmp_path / "current").label is None


def _captured(data: str, output: str = '{"predictions": [{"probability": 0.5}]}', kind: str = "text/csv") -> str:
    return json.dumps(
        {
            "captureData": {
                "endpointInput": {"observedContentType": kind, "data": data, "encoding": "CSV"},
                "endpointOutput": {"observedContentType": "application/json", "data": output, "encoding": "JSON"},
            },
            "eventMetadata": {"eventId": "e", "inferenceTime": "2026-11-26T08:00:00Z"},
        }
    )


GOOD_LINE = (
    "39, State-gov, 77516, Bachelors, 13, Never-married, Adm-clerical, Not-in-family, White, Male, 2174, 0, 40, Cuba"
)


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("{not json", "not JSON"),
        (
            '{"captureData": {"endpointInput": {"data": "1", "encoding": "GZIP"}}, '
            '"eventMetadata": {"eventId": "e", "inferenceTime": "2026-11-26T08:00:00Z"}}',
            "captureData.endpointInput: unknown encoding 'GZIP'",
        ),
        (
            _captured(GOOD_LINE, '{"predictions": [{"probability": 0.5}, {"probability": 0.1}]}'),
            "captureData.endpointOutput: 2 probabilities for 1 record(s)",
        ),
        (_captured(GOOD_LINE, "<html>"), "captureData.endpointOutput: not an answer of the model's handlers"),
    ],
)
def test_a_malformed_capture_line_is_named_by_key_and_line(
    endpoint: str, deployed: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], line: str, problem: str
) -> None:
    base = f"s3://{BUCKET}/data-capture/bad-{uuid.uuid4().hex[:8]}/AllTraffic"
    good = json.dumps({"eventMetadata": {"eventId": "x", "inferenceTime": "2026-11-26T04:00:00Z"}})  # outside
    put(client("s3", endpoint), f"{base}/2026/11/26/08/part.jsonl", f"{good}\n\n{line}\n".encode())

    assert gather(endpoint, tmp_path / "out", capture=base) == 1

    err = capsys.readouterr().err
    assert f"{base}/2026/11/26/08/part.jsonl line 3: {problem}" in err
    assert not (tmp_path / "out").exists()  # nothing partial was written


def test_requests_the_endpoint_refuses_are_skipped_and_counted_unseen_words_counted(
    endpoint: str, deployed: str, tmp_path: Path
) -> None:
    base = f"s3://{BUCKET}/data-capture/odd-{uuid.uuid4().hex[:8]}/AllTraffic"
    lines = [
        _captured("abc, 1, 2"),  # 3 fields: the endpoint answers 400
        _captured(GOOD_LINE.replace("Cuba", "Atlantis")),  # an unseen country: scored as missing
        _captured(json.dumps({"instances": [{"age": 39}]}), kind="application/json"),  # 13 fields missing: 400
        _captured(GOOD_LINE),
    ]
    put(client("s3", endpoint), f"{base}/2026/11/26/08/part.jsonl", ("\n".join(lines) + "\n").encode())

    assert gather(endpoint, tmp_path, capture=base) == 0

    summary = read_json(tmp_path / "summary" / "summary.json")
    assert (summary["rows"], summary["refused_requests"]) == (2, 2)
    assert "line 1 (record 1): 3 fields, expected 14" in summary["refused_examples"][0]
    assert "instances[0] (record 1): field 'workclass' is missing" in summary["refused_examples"][1]
    assert summary["unseen_categories"] == {"native-country": {"Atlantis": 1}}
    current = tabular.read_processed(tmp_path / "current").features
    country = features.FeatureManifest.from_schema().raw_names.index("native-country")
    assert current[:, country].tolist() == [features.MISSING_CODE, schema_code("Cuba")]


def schema_code(country: str) -> float:
    from pipeline_code import schema

    return float(schema.column("native_country").categories.index(country))


def test_no_deployed_model_is_a_clear_error(endpoint: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = monitoring_inputs.main(
        [
            "--model-package-parameter",
            "/mlops/dev/nothing-here",
            "--source",
            "capture",
            "--capture-uri",
            CAPTURE,
            "--window-hours",
            "1",
            "--endpoint-url",
            endpoint,
            "--region",
            REGION,
            "--output",
            str(tmp_path / "o"),
        ]
    )
    assert code == 1
    assert "no model is deployed: SSM parameter /mlops/dev/nothing-here not found" in capsys.readouterr().err


def test_batch_outputs_modified_in_the_window_are_gathered(
    endpoint: str, deployed: str, test_split: tuple, run_dir: Path, tmp_path: Path
) -> None:
    batch, scores = test_split
    raw = (run_dir / "preprocess" / preprocess.RAW_TEST / "test.csv").read_text().splitlines()[:300]
    header = ", ".join([*features.FeatureManifest.from_schema().raw_names, "Y"])
    # a transform's output of a raw file (JoinSource=Input): each input line, then the model's probability,decision
    lines = [f"{header},probability,decision"]
    lines += [f"{row},{float(score)!r},{int(score >= 0.3)}" for row, score in zip(raw, scores[:300], strict=True)]
    put(client("s3", endpoint), f"s3://{BUCKET}/batch-out/run-1/new.csv.out", ("\n".join(lines) + "\n").encode())
    now = datetime.now(UTC)

    def run(end: datetime, out: Path) -> dict[str, Any]:
        assert (
            monitoring_inputs.main(
                [
                    "--model-package-parameter",
                    PARAMETER,
                    "--source",
                    "batch",
                    "--batch-uri",
                    f"s3://{BUCKET}/batch-out/",
                    # What the pipeline always passes: Source is a run-time parameter (test_monitoring_arguments)
                    "--ground-truth-uri",
                    GROUND_TRUTH,
                    "--feedback-uri",
                    f"s3://{BUCKET}/feedback/",
                    "--window-hours",
                    "1",
                    "--end",
                    end.isoformat(),
                    "--endpoint-url",
                    endpoint,
                    "--region",
                    REGION,
                    "--output",
                    str(out),
                ]
            )
            == 0
        )
        return dict(read_json(out / "summary" / "summary.json"))

    summary = run(now + timedelta(minutes=30), tmp_path / "now")
    assert summary["rows"] == 300
    # batch lines have no capture eventId: the ground truth is not joined, and the summary says why
    assert (summary["labelled"], summary["labelled_rows"], summary["feedback_uri"]) == (False, 0, None)
    assert summary["note"] == (
        f"ground truth {GROUND_TRUTH} not used: batch predictions carry no capture eventId to join"
    )
    current = tabular.read_processed(tmp_path / "now" / "current")
    np.testing.assert_array_equal(current.features, batch.features[:300])
    assert current.label is None
    np.testing.assert_array_equal(np.loadtxt(tmp_path / "now" / "scores" / "scores.csv"), scores[:300])
    assert run(now - timedelta(hours=2), tmp_path / "before")["rows"] == 0  # last modified after that window


def test_ground_truth_of_another_row_count_is_an_error() -> None:
    gathered = monitoring_inputs.Gathered(features=[[0.0]] * 3, scores=[0.1] * 3, event_ids=["a", "a", "b"])
    with pytest.raises(DataValidationError, match=r"event a: 1 label\(s\) for 2 captured row\(s\)"):
        monitoring_inputs.join_labels(gathered, {"a": [1], "b": [0]})
    labels, count = monitoring_inputs.join_labels(gathered, {"a": [1, 0], "b": [1]})
    assert labels is not None
    assert labels.tolist() == [1, 0, 1]
    assert count == 3


# ---------------------------------------------------------------- the drift check on the gathered inputs


def drift_on(inputs: Path, out: Path, endpoint: str, *extra: str) -> int:
    return drift.main(
        [
            "--baseline",
            str(inputs / "baseline/baseline.json"),
            "--data",
            str(inputs / "current"),
            "--model",
            str(inputs / "model"),
            "--reference",
            str(inputs / "reference"),
            "--output",
            str(out),
            "--endpoint-url",
            endpoint,
            "--region",
            REGION,
            *extra,
        ]
    )


@pytest.fixture
def event_queue(endpoint: str) -> Iterator[tuple[Any, str]]:
    """An SQS queue receiving every mlops.monitoring event (rule on the default bus)."""
    sqs, events = client("sqs", endpoint), client("events", endpoint)
    url = sqs.create_queue(QueueName=f"drift-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name="drift-reports", EventPattern=json.dumps({"source": [drift.EVENT_SOURCE]}))
    events.put_targets(Rule="drift-reports", Targets=[{"Id": "queue", "Arn": arn}])
    yield sqs, url
    events.remove_targets(Rule="drift-reports", Ids=["queue"])


def received(sqs: Any, url: str) -> list[dict[str, Any]]:
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", [])
    return [json.loads(m["Body"]) for m in messages]


@pytest.mark.parametrize("data", ["unshifted", "shifted"])
def test_drift_on_gathered_inputs_publishes_metrics_and_an_event_only_on_violations(
    endpoint: str, gathered: Path, event_queue: tuple[Any, str], tmp_path: Path, data: str
) -> None:
    inputs = gathered
    if data == "shifted":
        inputs = tmp_path / "shifted-inputs"
        assert gather(endpoint, inputs, capture=SHIFTED_CAPTURE) == 0
    namespace = f"Test/{data}"
    publish = [
        "--publish-cloudwatch",
        "--namespace",
        namespace,
        "--dimension",
        f"Endpoint=mlops-dev-{data}",  # moto matches dimensions across namespaces: one value each
        "--publish-events",
        "--report-uri",
        f"s3://{BUCKET}/monitoring/{data}/",
        "--environment",
        "dev",
    ]

    assert drift_on(inputs, tmp_path / "drift", endpoint, *publish) == 0

    violations = read_json(tmp_path / "drift" / "violations.json")["violations"]
    report = read_json(tmp_path / "drift" / "drift_report.json")
    assert report["model"]["prediction"]
    assert report["row_count"] == read_json(inputs / "summary/summary.json")["rows"]
    cloudwatch = client("cloudwatch", endpoint)
    metrics = cloudwatch.list_metrics(Namespace=namespace)["Metrics"]
    assert len(metrics) == len(read_json(tmp_path / "drift" / "cloudwatch_metrics.json")["MetricData"])
    got = cloudwatch.get_metric_data(
        MetricDataQueries=[
            {
                "Id": "v",
                "MetricStat": {
                    "Metric": {
                        "Namespace": namespace,
                        "MetricName": "DriftViolations",
                        "Dimensions": [{"Name": "Endpoint", "Value": f"mlops-dev-{data}"}],
                    },
                    "Period": 60,
                    "Stat": "Maximum",
                },
            }
        ],
        StartTime=datetime.now(UTC) - timedelta(hours=1),
        EndTime=datetime.now(UTC) + timedelta(hours=1),
    )["MetricDataResults"][0]["Values"]
    assert got == [float(len(violations))]
    events = received(*event_queue)
    if data == "unshifted":
        assert violations == []
        assert events == []
        assert report["label"] is not None
        assert "quality" in report["model"]
    else:
        assert {v["feature"] for v in violations if v["check"] == "feature_drift"} == {"age"}
        assert len(events) == 1
        assert events[0]["source"] == "mlops.monitoring"
        assert events[0]["detail-type"] == "Drift Violations Report"
        assert events[0]["detail"] == {
            "environment": "dev",
            "reportUri": f"s3://{BUCKET}/monitoring/shifted/",
            "reportHtmlUri": f"s3://{BUCKET}/monitoring/shifted/report.html",
            "violations": violations,
        }
