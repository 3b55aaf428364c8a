"""Labelled feedback on moto: captured raw requests with ground truth come back as the raw rows clients sent."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from pipeline_code import features, feedback, tabular
from pipeline_code.artifacts import read_json
from pipeline_code.errors import PipelineError
from tests.pipeline_code.test_monitoring_inputs import (
    BUCKET,
    END,
    WINDOW,
    capture_line,
    client,
    deployed,  # noqa: F401  (module fixtures the gather needs)
    endpoint,  # noqa: F401
    gather,
    requests_of,
    upload_by_hour,
)

RAW_BUCKET = "mlops-dev-raw-123456789012-us-east-1"
CAPTURE = f"s3://{BUCKET}/data-capture/mlops-dev-feedback/AllTraffic"
GROUND_TRUTH = f"s3://{BUCKET}/ground-truth/mlops-dev-feedback"
FEEDBACK = f"s3://{RAW_BUCKET}/feedback/"


def _encoded(lines: list[str], tmp_path: Path) -> tabular.EncodedBatch:
    """The raw lines encoded exactly as Preprocess encodes raw files (what the endpoint is sent)."""
    path = tmp_path / "raw.csv"
    path.write_text("\n".join(lines) + "\n")
    (batch,) = [tabular.encode_raw_batch(b, path.name) for b in tabular.iter_raw_batches(path)]
    return batch


def test_labelled_rows_are_written_back_in_the_raw_layout(
    endpoint: str,  # noqa: F811
    deployed: str,  # noqa: F811
    adult_lines: list[str],
    tmp_path: Path,
) -> None:
    header, rows = adult_lines[0], adult_lines[1:401]
    assert any("?" in row for row in rows)  # missing categories travel too
    batch = _encoded([header, *rows], tmp_path)
    requests = requests_of(batch, rows, np.zeros(len(rows), dtype=np.float32), "fb")
    s3 = client("s3", endpoint)
    s3.create_bucket(Bucket=RAW_BUCKET)
    upload_by_hour(s3, CAPTURE, [(r.time, capture_line(r, i)) for i, r in enumerate(requests)])
    unlabelled = {r.event_id for r in requests[::3]}  # a third of the requests have no ground truth yet
    truth = [
        (
            r.time + timedelta(minutes=30),
            json.dumps(
                {
                    "groundTruthData": {"data": "\n".join(str(int(v)) for v in r.labels), "encoding": "CSV"},
                    "eventMetadata": {"eventId": r.event_id},
                }
            ),
        )
        for r in requests
        if r.event_id not in unlabelled
    ]
    upload_by_hour(s3, GROUND_TRUTH, truth)

    out = tmp_path / "out"
    arguments = ("--ground-truth-uri", GROUND_TRUTH, "--feedback-uri", FEEDBACK)
    assert gather(endpoint, out, *arguments, capture=CAPTURE) == 0

    # Then the labelled rows of the window are in the raw zone, named by the window's end ...
    summary = read_json(out / "summary" / "summary.json")
    key = "feedback/2026/11/26/20261126T123000Z.csv"
    assert summary["feedback_uri"] == f"s3://{RAW_BUCKET}/{key}"
    text = s3.get_object(Bucket=RAW_BUCKET, Key=key)["Body"].read().decode()
    # ... exactly as the raw file had them: header, values, separators, missing tokens and label words
    offsets = np.cumsum([0, *(len(r.rows) for r in requests)])
    expected = [
        line
        for r, start in zip(requests, offsets, strict=False)
        if r.time in WINDOW and r.event_id not in unlabelled
        for line in rows[start : start + len(r.rows)]
    ]
    assert 0 < len(expected) < len(rows)
    assert text.splitlines() == [header, *expected]
    assert summary["feedback_rows"] == len(expected) == summary["labelled_rows"]
    assert summary["labelled"] is False  # partly labelled: the drift check still sees no label column
    # and the file reads back like any raw file (what ValidateData and Preprocess do with it)
    written = tmp_path / "feedback.csv"
    written.write_text(text)
    (decoded,) = [tabular.encode_raw_batch(b, written.name) for b in tabular.iter_raw_batches(written)]
    original = _encoded([header, *expected], tmp_path)
    np.testing.assert_array_equal(decoded.features, original.features)
    np.testing.assert_array_equal(decoded.label, original.label)


def test_no_feedback_without_ground_truth(endpoint: str, deployed: str, tmp_path: Path) -> None:  # noqa: F811
    assert gather(endpoint, tmp_path, "--feedback-uri", FEEDBACK, "--window-hours", "1") == 0
    summary = read_json(tmp_path / "summary" / "summary.json")
    assert (summary["feedback_uri"], summary["feedback_rows"]) == (None, 0)


@pytest.mark.parametrize(
    ("manifest", "message"),
    [
        ({"features": []}, "not a feature manifest"),
        (
            {
                "features": [],
                "label": {"name": "y", "raw_name": "Y", "positive": "rich", "values": ["a", "b"]},
                "missing_category_code": -1,
                "missing_token": "?",
            },
            "positive label 'rich'",
        ),
    ],
)
def test_a_bad_manifest_is_named(manifest: dict[str, Any], message: str) -> None:
    with pytest.raises(PipelineError, match=message):
        features.FeatureManifest.from_document(manifest, "s3://a/m.json")


def test_a_code_outside_the_deployed_categories_is_an_error(run_dir: Path) -> None:
    manifest = read_json(run_dir / "preprocess/manifest/feature_manifest.json")
    decoder = features.Decoder(features.FeatureManifest.from_document(manifest, "m"))
    row = [39.0, 99.0, *([0.0] * 12)]  # workclass has 8 categories
    with pytest.raises(PipelineError, match=r"code 99\.0 is not a category"):
        decoder.line(row, 1)


def test_the_window_end_names_the_file() -> None:
    assert feedback.feedback_key("feedback/", END) == "feedback/2026/11/26/20261126T123000Z.csv"
