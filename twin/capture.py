"""Traffic for the twin's endpoint: raw requests served by the model's own handlers, written as data capture writes.

moto's endpoint serves nothing, so the twin plays the container: `ModelEndpoint` answers each request with the
handlers packed in the deployed ``model.tar.gz`` (`pipeline_code.serve`, what SageMaker's XGBoost container runs in
script mode: the package's ``SAGEMAKER_PROGRAM`` must name them, and its ``MLOPS_DECISION_THRESHOLD`` is the
threshold). `send` sends rows as clients do, through SageMaker Runtime's InvokeEndpoint on moto: raw records, CSV
lines and JSON instances in turn, asking for JSON or CSV answers in turn. `write_traffic` writes what data capture
writes for those exchanges: JSON lines under `<capture-uri>/yyyy/mm/dd/hh/`, one record per request with the raw
request and the answer (`captureData.endpointInput` / `endpointOutput`, CSV or JSON encoding, as the endpoint
config's CaptureContentTypeHeader says) and `eventMetadata.eventId` / `inferenceTime`. Labels arrive later in
Model Monitor's ground-truth layout (`<uri>/yyyy/mm/dd/hh/*.jsonl`, `groundTruthData` joined to the capture by
`eventMetadata.eventId`), which is what `pipeline_code.monitoring_inputs` reads.
"""

from __future__ import annotations

import gzip
import json
import tarfile
import tempfile
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from pipeline_code import features, serve, shifts, tabular
from twin.moto_patches import ModelAnswer, ModelCall

ROWS_PER_REQUEST = 20  # a request may carry several records; the capture keeps them in one record


@dataclass(frozen=True)
class Written:
    records: int
    rows: int
    capture_keys: list[str]
    ground_truth_keys: list[str]


@dataclass(frozen=True)
class Exchange:
    """One request to the endpoint and its answer, as data capture records them, and the rows' true labels."""

    body: str
    content_type: str
    answer: str
    answer_type: str
    labels: list[int]


def split_s3(uri: str) -> tuple[str, str]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key


def unseen_rows(
    data_file: Path, *, skip: int, count: int, encoder: features.Encoder = tabular.SCHEMA_ENCODER
) -> tabular.EncodedBatch:
    """Lines `skip`..`skip + count` of a gzipped raw Adult file, encoded (by the deployed model's ``encoder``: a
    learned column's categories are the model's): rows from the population the model was trained on, none of which
    it saw (the loop lands only the first lines). `send` sends them raw."""
    lines = gzip.decompress(data_file.read_bytes()).splitlines(keepends=True)[skip : skip + count]
    if len(lines) < count:
        raise ValueError(f"{data_file} has {len(lines)} line(s) after the first {skip}, {count} wanted")
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / data_file.name.removesuffix(".gz")
        path.write_bytes(b"".join(lines))
        batches = list(tabular.iter_encoded_raw([path], encoder))
    return tabular.EncodedBatch(
        np.concatenate([b.features for b in batches]), tabular.concat_labels([b.label for b in batches])
    )


def shifted(batch: tabular.EncodedBatch, scenario: str | None) -> tabular.EncodedBatch:
    """The batch as a shifted population would send it (`pipeline_code.shifts`), or as it is."""
    return batch if scenario is None else shifts.shift(batch, scenario)


class ModelEndpoint:
    """What the twin's endpoint answers (a `twin.moto_patches.ModelBehaviour`): the request served by the handlers
    of the model archive behind the endpoint, with the threshold of its container's environment. Each archive is
    fetched, unpacked and loaded (`model_fn`) once. A request the handlers refuse is answered with its status."""

    def __init__(self, s3: Any) -> None:
        self.s3 = s3
        self._models: dict[str, serve.ServedModel] = {}
        self._folders: list[tempfile.TemporaryDirectory[str]] = []

    def model(self, model_data_url: str, environment: dict[str, str]) -> serve.ServedModel:
        cached = json.dumps([model_data_url, environment], sort_keys=True)  # one model per archive and environment
        if cached not in self._models:
            if environment.get("SAGEMAKER_PROGRAM") != serve.ENTRY_POINT:
                raise ValueError(f"the container environment {environment} does not run the model's handlers")
            folder = tempfile.TemporaryDirectory(prefix="twin-model-")
            self._folders.append(folder)
            bucket, key = split_s3(model_data_url)
            archive = Path(folder.name) / "model.tar.gz"
            archive.write_bytes(self.s3.get_object(Bucket=bucket, Key=key)["Body"].read())
            with tarfile.open(archive) as tar:
                tar.extractall(folder.name, filter="data")
            if not (Path(folder.name) / serve.CODE_DIR / serve.ENTRY_POINT).is_file():
                raise ValueError(f"{model_data_url} holds no {serve.CODE_DIR}/{serve.ENTRY_POINT}")
            self._models[cached] = serve.load(folder.name, environment.get(serve.THRESHOLD_ENV, ""))
        return self._models[cached]

    def __call__(self, call: ModelCall) -> ModelAnswer:
        try:
            model = self.model(call.model_data_url, call.environment)
        except Exception as error:  # the container's model_fn fails: every invocation is a server error
            return ModelAnswer(f"model_fn failed: {error}", "text/plain", 500)
        try:
            body, content_type = serve.invoke(model, call.body, call.content_type, call.accept)
        except serve.RequestError as error:
            return ModelAnswer(error.message, "text/plain", error.status_code)
        return ModelAnswer(body, content_type)


def request_bodies(batch: tabular.EncodedBatch, manifest: features.FeatureManifest) -> list[tuple[str, str]]:
    """The rows as clients send them, `ROWS_PER_REQUEST` a request: raw CSV lines (as the raw files write them)
    and JSON instances (numbers as numbers, missing as null) in turn."""
    decoder = features.Decoder(manifest)
    requests = []
    for index, start in enumerate(range(0, batch.features.shape[0], ROWS_PER_REQUEST)):
        rows = batch.features[start : start + ROWS_PER_REQUEST].tolist()
        if index % 2 == 0:
            requests.append(("\n".join(decoder.line(row) for row in rows), serve.CSV))
            continue
        instances = []
        for row in rows:
            values = decoder.fields(row)
            instances.append(
                {
                    f.raw_name: None if v == manifest.missing_token else (v if f.categorical else _number(v))
                    for f, v in zip(manifest.features, values, strict=True)
                }
            )
        requests.append((json.dumps({"instances": instances}), serve.JSON))
    return requests


def send(
    runtime: Any, endpoint: str, batch: tabular.EncodedBatch, manifest: features.FeatureManifest
) -> list[Exchange]:
    """Each request of `request_bodies` sent to the endpoint (InvokeEndpoint), asking for JSON or CSV in turn."""
    exchanges = []
    labels = batch.label.tolist() if batch.label is not None else []
    for index, (body, content_type) in enumerate(request_bodies(batch, manifest)):
        accept = serve.JSON if index % 4 < 2 else serve.CSV
        response = runtime.invoke_endpoint(EndpointName=endpoint, ContentType=content_type, Accept=accept, Body=body)
        start = index * ROWS_PER_REQUEST
        exchanges.append(
            Exchange(
                body,
                content_type,
                response["Body"].read().decode(),
                response["ContentType"],
                labels[start : start + ROWS_PER_REQUEST],
            )
        )
    return exchanges


def write_traffic(
    s3: Any,
    exchanges: list[Exchange],
    *,
    capture_uri: str,
    ground_truth_uri: str | None,
    at: datetime,
) -> Written:
    """Capture records of the exchanges (served at `at`, one second apart) and, given a URI, their labels."""
    capture_lines: dict[str, list[str]] = {}
    truth_lines: dict[str, list[str]] = {}
    rows = 0
    for number, exchange in enumerate(exchanges):
        moment = (at + timedelta(seconds=number)).astimezone(UTC)
        event_id = str(uuid.uuid4())
        hour = f"{moment:%Y/%m/%d/%H}"
        capture_lines.setdefault(hour, []).append(
            json.dumps(
                {
                    "captureData": {
                        "endpointInput": _captured(exchange.body, exchange.content_type, "INPUT"),
                        "endpointOutput": _captured(exchange.answer, exchange.answer_type, "OUTPUT"),
                    },
                    "eventMetadata": {"eventId": event_id, "inferenceTime": moment.strftime("%Y-%m-%dT%H:%M:%SZ")},
                    "eventVersion": "0",
                }
            )
        )
        if ground_truth_uri is not None and exchange.labels:
            truth_lines.setdefault(hour, []).append(
                json.dumps(
                    {
                        "groundTruthData": {"data": "\n".join(str(int(v)) for v in exchange.labels), "encoding": "CSV"},
                        "eventMetadata": {"eventId": event_id},
                        "eventVersion": "0",
                    }
                )
            )
        rows += len(serve.probabilities_of(exchange.answer, exchange.answer_type))
    capture_keys = _put(s3, capture_uri, capture_lines)
    truth_keys = _put(s3, ground_truth_uri, truth_lines) if ground_truth_uri else []
    return Written(len(exchanges), rows, capture_keys, truth_keys)


def _number(text: str) -> int | float:
    value = float(text)
    return int(value) if value.is_integer() else value


def _captured(data: str, content_type: str, mode: str) -> dict[str, str]:
    """A captured payload, text-encoded as the endpoint config's CaptureContentTypeHeader asks for CSV and JSON."""
    encoding = "JSON" if serve.media_type(content_type) == serve.JSON else "CSV"
    return {"observedContentType": content_type, "mode": mode, "data": data, "encoding": encoding}


def _put(s3: Any, base_uri: str, lines_by_hour: dict[str, list[str]]) -> list[str]:
    bucket, prefix = split_s3(base_uri.rstrip("/") + "/")
    keys = []
    for hour, lines in lines_by_hour.items():
        key = f"{prefix}{hour}/{uuid.uuid4().hex[:12]}.jsonl"
        s3.put_object(Bucket=bucket, Key=key, Body=("\n".join(lines) + "\n").encode())
        keys.append(key)
    return keys
