"""Labelled feedback: the monitoring window's captured rows that have ground truth, back in the RAW data's layout.

The endpoint captures raw requests (CSV lines or JSON instances, as clients sent them); monitoring encodes them with
the deployed model's own feature manifest (the one in its ``model.tar.gz``), the code the endpoint used. Training
reads raw Adult files, so each labelled row is written back with the same manifest (`features.Decoder`), in one
canonical layout whatever the request's format was: category words, ``?`` for missing (an unseen category too:
it was scored as missing, and a training run would refuse the word), the label as ``<=50K``/``>50K``, the raw
header and the ``, `` separators that ``adult.data`` uses. The file goes to
``<feedback-uri>/<yyyy>/<mm>/<dd>/<window end>.csv`` in the raw zone, where the next data snapshot of any
retraining trigger lists it and ValidateData checks it like any raw file.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pipeline_code import aws, features

SEPARATOR = ", "  # as adult.data writes its values


def feedback_key(base: str, window_end: datetime) -> str:
    """``<base>/<yyyy>/<mm>/<dd>/<yyyymmddThhmmssZ>.csv``: one file per window, named by its end."""
    return f"{base.rstrip('/')}/{window_end:%Y/%m/%d}/{window_end:%Y%m%dT%H%M%SZ}.csv"


def write_feedback(
    s3: Any,
    *,
    feedback_uri: str,
    manifest: features.FeatureManifest,
    window_end: datetime,
    rows: Sequence[Sequence[float]],
    labels: Sequence[int],
) -> str:
    """Decode the labelled rows with the deployed model's manifest and put them in the raw zone; returns the URI."""
    bucket, base = aws.split_s3_uri(feedback_uri)
    body = features.Decoder(manifest, SEPARATOR).csv(rows, labels)
    key = feedback_key(base, window_end)
    aws.call(s3, "PutObject", Bucket=bucket, Key=key, Body=body, ContentType="text/csv")
    return f"s3://{bucket}/{key}"
