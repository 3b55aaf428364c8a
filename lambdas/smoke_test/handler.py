"""Smoke test of a freshly deployed endpoint: a few real raw rows of the model's own test split, scored live.

Invoked by the promotion state machine with `{"evaluation_uri": "s3://.../EvaluateModel/evaluation/evaluation.json"}`
(the package's ModelMetrics.ModelQuality.Statistics.S3Uri). The same pipeline execution keeps its test split as raw
records at `.../Preprocess/raw_test/test.csv` (no header, the raw columns with the label last): what a client
sends. The first `SMOKE_TEST_ROWS` rows, label stripped, go to `ENDPOINT_NAME` as text/csv, asking for JSON; every
row must come back with a probability and the decision at the answer's threshold. Anything else raises
`SmokeTestError`, whose message becomes the package's rejection reason. Standard library and boto3 only (the
Lambda runtime's).
"""

from __future__ import annotations

import json
import math
import os
import re
from typing import Any

import boto3

_EVALUATION = re.compile(r"^s3://(?P<bucket>[a-z0-9.-]+)/(?P<run>.+)/EvaluateModel/evaluation/evaluation\.json$")
_RANGE_BYTES = 64 * 1024  # 100 Adult rows, the most config allows, take ~10 KiB


class SmokeTestError(Exception):
    """The endpoint did not score real rows correctly; the state machine rolls back."""


def test_split_location(evaluation_uri: str) -> tuple[str, str]:
    """(bucket, key) of the raw test split written by the same pipeline execution as `evaluation_uri`."""
    match = _EVALUATION.match(evaluation_uri)
    if not match:
        raise SmokeTestError(f"cannot find the test split: unexpected evaluation report location {evaluation_uri!r}")
    return match["bucket"], f"{match['run']}/Preprocess/raw_test/test.csv"


def feature_rows(head: str, rows: int, *, complete: bool) -> list[str]:
    """The first `rows` raw records of a CSV head whose last column is the label, without it. A cut last line is
    not a row."""
    lines = head.split("\n")
    if not complete:
        lines = lines[:-1]
    found = [line.rsplit(",", 1)[0] for line in lines if "," in line.strip()][:rows]
    if len(found) < rows:
        raise SmokeTestError(f"the test split has {len(found)} complete rows, the smoke test needs {rows}")
    return found


def predictions(body: str, rows: int) -> tuple[list[float], list[int], float]:
    """Parse the handlers' JSON answer (`{"predictions": [{"probability", "decision"}], "threshold"}`) and check
    it: one prediction per row, probabilities, and each decision the one its probability makes at the threshold."""
    try:
        answer = json.loads(body)
        found = answer["predictions"]
        threshold = float(answer["threshold"])
        scores = [float(p["probability"]) for p in found]
        decisions = [p["decision"] for p in found]
    except (ValueError, KeyError, TypeError):
        raise SmokeTestError(f"the endpoint answered something other than predictions: {body[:200]!r}") from None
    if len(scores) != rows:
        raise SmokeTestError(f"sent {rows} rows, the endpoint answered {len(scores)} predictions: {body[:200]!r}")
    bad = [s for s in [*scores, threshold] if math.isnan(s) or not 0.0 <= s <= 1.0]
    if bad:
        raise SmokeTestError(f"probabilities or threshold outside [0, 1]: {bad[:5]}")
    wrong = [i for i, (s, d) in enumerate(zip(scores, decisions, strict=True)) if d != int(s >= threshold)]
    if wrong:
        raise SmokeTestError(f"rows {wrong[:5]}: the decision is not the probability's at threshold {threshold}")
    return scores, decisions, threshold


def run(evaluation_uri: str, *, endpoint_name: str, rows: int, s3: Any, runtime: Any) -> dict[str, Any]:
    bucket, key = test_split_location(evaluation_uri)
    response = s3.get_object(Bucket=bucket, Key=key, Range=f"bytes=0-{_RANGE_BYTES - 1}")
    head = response["Body"].read().decode("utf-8")
    complete = len(head.encode("utf-8")) < _RANGE_BYTES  # the whole file fitted in the range
    records = feature_rows(head, rows, complete=complete)
    answer = runtime.invoke_endpoint(
        EndpointName=endpoint_name, ContentType="text/csv", Accept="application/json", Body="\n".join(records)
    )
    scores, decisions, threshold = predictions(answer["Body"].read().decode("utf-8"), rows)
    return {
        "endpoint": endpoint_name,
        "test_split": f"s3://{bucket}/{key}",
        "rows": rows,
        "scores": scores,
        "decisions": decisions,
        "threshold": threshold,
    }


def handler(event: dict[str, Any], context: object) -> dict[str, Any]:
    return run(
        str(event["evaluation_uri"]),
        endpoint_name=os.environ["ENDPOINT_NAME"],
        rows=int(os.environ["SMOKE_TEST_ROWS"]),
        s3=boto3.client("s3"),
        runtime=boto3.client("sagemaker-runtime"),
    )
