"""Traffic for the twin's endpoint: requests scored by the live model, written as SageMaker writes them.

moto's endpoint serves nothing, so the twin plays the endpoint: it scores each request with the model archive
of the package the promotion deployed (`pipeline_code.train`'s own loader, as SageMaker's XGBoost container
would), and writes what data capture writes: JSON lines under `<capture-uri>/yyyy/mm/dd/hh/`, one record per
request with `captureData.endpointInput` / `endpointOutput` (CSV) and `eventMetadata.eventId` /
`inferenceTime`. Labels arrive later in Model Monitor's ground-truth layout (`<uri>/yyyy/mm/dd/hh/*.jsonl`,
`groundTruthData` joined to the capture by `eventMetadata.eventId`), which is what
`pipeline_code.monitoring_inputs` reads.
"""

from __future__ import annotations

import gzip
import json
import tempfile
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from pipeline_code import shifts, tabular
from pipeline_code.train import load_model, predict_proba

ROWS_PER_REQUEST = 5  # a request may carry several CSV rows; the capture keeps them in one record


@dataclass(frozen=True)
class Written:
    records: int
    rows: int
    capture_keys: list[str]
    ground_truth_keys: list[str]


def split_s3(uri: str) -> tuple[str, str]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key


def read_split(s3: Any, uri: str) -> tabular.EncodedBatch:
    """A processed split (label first, then features, as Preprocess writes it) from S3."""
    bucket, key = split_s3(uri)
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "split.csv"
        path.write_bytes(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
        return tabular.read_processed(path)


def unseen_rows(data_file: Path, *, skip: int, count: int) -> tabular.EncodedBatch:
    """Lines `skip`..`skip + count` of a gzipped raw Adult file, encoded as the endpoint receives them: requests
    from the population the model was trained on, none of which it saw (the loop lands only the first lines)."""
    lines = gzip.decompress(data_file.read_bytes()).splitlines(keepends=True)[skip : skip + count]
    if len(lines) < count:
        raise ValueError(f"{data_file} has {len(lines)} line(s) after the first {skip}, {count} wanted")
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / data_file.name.removesuffix(".gz")
        path.write_bytes(b"".join(lines))
        batches = list(tabular.iter_encoded_raw([path]))
    return tabular.EncodedBatch(
        np.concatenate([b.features for b in batches]), tabular.concat_labels([b.label for b in batches])
    )


def shifted(batch: tabular.EncodedBatch, scenario: str | None) -> tabular.EncodedBatch:
    """The batch as a shifted population would send it (`pipeline_code.shifts`), or as it is."""
    return batch if scenario is None else shifts.shift(batch, scenario)


def score(s3: Any, model_uri: str, features: np.ndarray) -> np.ndarray:
    """What the endpoint answers: the deployed model archive's probabilities."""
    bucket, key = split_s3(model_uri)
    with tempfile.TemporaryDirectory() as scratch:
        archive = Path(scratch) / "model.tar.gz"
        archive.write_bytes(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
        return np.asarray(predict_proba(load_model(Path(scratch)), features))


class ModelEndpoint:
    """What the twin's endpoint answers (a `twin.moto_patches.ModelBehaviour`): the CSV rows of a request scored
    by the model archive behind the endpoint, one probability a line, as SageMaker's XGBoost container answers
    text/csv. Each archive is fetched and loaded once."""

    def __init__(self, s3: Any) -> None:
        self.s3 = s3
        self._models: dict[str, Any] = {}

    def __call__(self, model_data_url: str, body: str) -> str:
        model = self._models.get(model_data_url)
        if model is None:
            bucket, key = split_s3(model_data_url)
            with tempfile.TemporaryDirectory() as scratch:
                (Path(scratch) / "model.tar.gz").write_bytes(self.s3.get_object(Bucket=bucket, Key=key)["Body"].read())
                model = self._models[model_data_url] = load_model(Path(scratch))
        rows = [[float(v) if v.strip() else np.nan for v in line.split(",")] for line in body.splitlines() if line]
        scores = np.asarray(predict_proba(model, np.asarray(rows, dtype=np.float64)))
        return "\n".join(f"{score:.6f}" for score in scores)


def write_traffic(
    s3: Any,
    batch: tabular.EncodedBatch,
    scores: np.ndarray,
    *,
    capture_uri: str,
    ground_truth_uri: str | None,
    at: datetime,
) -> Written:
    """Capture records for `batch` (served at `at`, one second apart per request) and, given a URI, its labels."""
    capture_lines: dict[str, list[str]] = {}
    truth_lines: dict[str, list[str]] = {}
    records = 0
    for start in range(0, batch.features.shape[0], ROWS_PER_REQUEST):
        rows = batch.features[start : start + ROWS_PER_REQUEST]
        moment = (at + timedelta(seconds=records)).astimezone(UTC)
        event_id = str(uuid.uuid4())
        hour = f"{moment:%Y/%m/%d/%H}"
        capture_lines.setdefault(hour, []).append(
            json.dumps(
                {
                    "captureData": {
                        "endpointInput": {
                            "observedContentType": "text/csv",
                            "mode": "INPUT",
                            "data": "\n".join(",".join(_number(v) for v in row) for row in rows),
                            "encoding": "CSV",
                        },
                        "endpointOutput": {
                            "observedContentType": "text/csv; charset=utf-8",
                            "mode": "OUTPUT",
                            "data": "\n".join(f"{s:.6f}" for s in scores[start : start + ROWS_PER_REQUEST]),
                            "encoding": "CSV",
                        },
                    },
                    "eventMetadata": {"eventId": event_id, "inferenceTime": moment.strftime("%Y-%m-%dT%H:%M:%SZ")},
                    "eventVersion": "0",
                }
            )
        )
        if ground_truth_uri is not None and batch.label is not None:
            labels = batch.label[start : start + ROWS_PER_REQUEST]
            truth_lines.setdefault(hour, []).append(
                json.dumps(
                    {
                        "groundTruthData": {"data": "\n".join(str(int(v)) for v in labels), "encoding": "CSV"},
                        "eventMetadata": {"eventId": event_id},
                        "eventVersion": "0",
                    }
                )
            )
        records += 1
    capture_keys = _put(s3, capture_uri, capture_lines)
    truth_keys = _put(s3, ground_truth_uri, truth_lines) if ground_truth_uri else []
    return Written(records, int(batch.features.shape[0]), capture_keys, truth_keys)


def _put(s3: Any, base_uri: str, lines_by_hour: dict[str, list[str]]) -> list[str]:
    bucket, prefix = split_s3(base_uri.rstrip("/") + "/")
    keys = []
    for hour, lines in lines_by_hour.items():
        key = f"{prefix}{hour}/{uuid.uuid4().hex[:12]}.jsonl"
        s3.put_object(Bucket=bucket, Key=key, Body=("\n".join(lines) + "\n").encode())
        keys.append(key)
    return keys


def _number(value: float) -> str:
    """Processed-layout values as the endpoint receives them: integers without `.0`, missing as empty."""
    if value != value:
        return ""
    return str(int(value)) if float(value).is_integer() else repr(float(value))
