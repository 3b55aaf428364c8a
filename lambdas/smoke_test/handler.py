"""Smoke test of a freshly deployed endpoint: a few real rows of the model's own test split, scored live.

Invoked by the promotion state machine with `{"evaluation_uri": "s3://.../EvaluateModel/evaluation/evaluation.json"}`
(the package's ModelMetrics.ModelQuality.Statistics.S3Uri). The test split of the same pipeline execution sits at
`.../Preprocess/test/test.csv` (no header, label first, features encoded as the model expects). The first
`SMOKE_TEST_ROWS` rows, label stripped, go to `ENDPOINT_NAME` as text/csv; every row must come back as a
probability. Anything else raises `SmokeTestError`, whose message becomes the package's rejection reason.
Standard library and boto3 only (the Lambda runtime's).
"""

from __future__ import annotations

import math
import os
import re
from typing import Any

import boto3

_EVALUATION = re.compile(r"^s3://(?P<bucket>[a-z0-9.-]+)/(?P<run>.+)/EvaluateModel/evaluation/evaluation\.json$")
_RANGE_BYTES = 64 * 1024  # 100 Adult rows, the most config allows, take ~6 KiB


class SmokeTestError(Exception):
    """The endpoint did not score real rows correctly; the state machine rolls back."""


def test_split_location(evaluation_uri: str) -> tuple[str, str]:
    """(bucket, key) of the test split written by the same pipeline execution as `evaluation_uri`."""
    match = _EVALUATION.match(evaluation_uri)
    if not match:
        raise SmokeTestError(f"cannot find the test split: unexpected evaluation report location {evaluation_uri!r}")
    return match["bucket"], f"{match['run']}/Preprocess/test/test.csv"


def feature_rows(head: str, rows: int, *, complete: bool) -> list[str]:
    """The first `rows` rows of a label-first CSV head, without the label. A cut last line is not a row."""
    lines = head.split("\n")
    if not complete:
        lines = lines[:-1]
    found = [line.split(",", 1)[1] for line in lines if "," in line.strip()][:rows]
    if len(found) < rows:
        raise SmokeTestError(f"the test split has {len(found)} complete rows, the smoke test needs {rows}")
    return found


def probabilities(body: str, rows: int) -> list[float]:
    """Parse the XGBoost container's text/csv answer (one score per row, by line or comma) and check it."""
    values = [v for v in re.split(r"[,\n]", body.strip()) if v.strip()]
    if len(values) != rows:
        raise SmokeTestError(f"sent {rows} rows, the endpoint answered {len(values)} values: {body[:200]!r}")
    try:
        scores = [float(v) for v in values]
    except ValueError:
        raise SmokeTestError(f"the endpoint answered something other than numbers: {body[:200]!r}") from None
    bad = [s for s in scores if math.isnan(s) or not 0.0 <= s <= 1.0]
    if bad:
        raise SmokeTestError(f"scores outside [0, 1]: {bad[:5]}")
    return scores


def run(evaluation_uri: str, *, endpoint_name: str, rows: int, s3: Any, runtime: Any) -> dict[str, Any]:
    bucket, key = test_split_location(evaluation_uri)
    response = s3.get_object(Bucket=bucket, Key=key, Range=f"bytes=0-{_RANGE_BYTES - 1}")
    head = response["Body"].read().decode("utf-8")
    complete = len(head.encode("utf-8")) < _RANGE_BYTES  # the whole file fitted in the range
    features = feature_rows(head, rows, complete=complete)
    answer = runtime.invoke_endpoint(
        EndpointName=endpoint_name, ContentType="text/csv", Accept="text/csv", Body="\n".join(features)
    )
    scores = probabilities(answer["Body"].read().decode("utf-8"), rows)
    return {"endpoint": endpoint_name, "test_split": f"s3://{bucket}/{key}", "rows": rows, "scores": scores}


def handler(event: dict[str, Any], context: object) -> dict[str, Any]:
    return run(
        str(event["evaluation_uri"]),
        endpoint_name=os.environ["ENDPOINT_NAME"],
        rows=int(os.environ["SMOKE_TEST_ROWS"]),
        s3=boto3.client("s3"),
        runtime=boto3.client("sagemaker-runtime"),
    )
