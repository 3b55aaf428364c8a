"""Labelled feedback: the monitoring window's captured rows that have ground truth, back in the RAW data's layout.

The endpoint captures rows as the model saw them (processed layout: categories as codes). Training reads raw
Adult files, so each labelled row is decoded with the deployed model's own feature manifest
(``<execution>/Preprocess/manifest/feature_manifest.json``, written by ``preprocess.feature_manifest``): codes
back to category words, -1 and missing numbers back to ``?``, the label back to ``<=50K``/``>50K``, with the raw
header and the ``, `` separators that ``adult.data`` uses. The file goes to
``<feedback-uri>/<yyyy>/<mm>/<dd>/<window end>.csv`` in the raw zone, where the next data snapshot of any
retraining trigger lists it and ValidateData checks it like any raw file.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pipeline_code import aws, schema
from pipeline_code.errors import PipelineError

SEPARATOR = ", "  # as adult.data writes its values
MANIFEST_SUFFIX = "/Preprocess/manifest/feature_manifest.json"


def manifest_uri_of(reference_uri: str, reference_suffix: str) -> str:
    """The feature manifest written by the same Preprocess as the reference (test) split."""
    if not reference_uri.endswith(reference_suffix):
        raise PipelineError(f"reference '{reference_uri}' is not a Preprocess output: cannot locate the manifest")
    return reference_uri[: -len(reference_suffix)] + MANIFEST_SUFFIX


class Decoder:
    """Turns processed-layout rows into raw CSV lines, as one feature manifest describes them."""

    def __init__(self, manifest: Any, where: str) -> None:
        try:
            features = manifest["features"]
            self.header = [str(f["raw_name"]) for f in features] + [str(manifest["label"]["raw_name"])]
            self.categories: list[list[str] | None] = [
                [str(c) for c in f["categories"]] if f["kind"] == "categorical" else None for f in features
            ]
            self.missing_code = int(manifest["missing_category_code"])
            positive = str(manifest["label"]["positive"])
        except (KeyError, TypeError, ValueError) as err:
            raise PipelineError(f"{where}: not a feature manifest ({err!r} missing or malformed)") from None
        if positive not in schema.LABEL_VALUES:
            raise PipelineError(f"{where}: positive label {positive!r} is not one of {list(schema.LABEL_VALUES)}")
        # The manifest names the positive class; the raw format has exactly two tokens.
        negative = next(v for v in schema.LABEL_VALUES if v != positive)
        self.labels = (negative, positive)
        self.where = where

    def line(self, row: Sequence[float], label: int) -> str:
        if len(row) != len(self.categories):
            raise PipelineError(f"{self.where}: a row has {len(row)} values for {len(self.categories)} features")
        return SEPARATOR.join(
            [*(self._value(v, c) for v, c in zip(row, self.categories, strict=True)), self.labels[label]]
        )

    def _value(self, value: float, categories: list[str] | None) -> str:
        if categories is None:
            if math.isnan(value):
                return schema.MISSING_TOKEN
            return str(int(value)) if value.is_integer() else repr(value)
        if value == self.missing_code:
            return schema.MISSING_TOKEN
        if not (value.is_integer() and 0 <= value < len(categories)):
            raise PipelineError(f"{self.where}: code {value!r} is not a category of the deployed model")
        return categories[int(value)]

    def csv(self, rows: Sequence[Sequence[float]], labels: Sequence[int]) -> bytes:
        lines = [SEPARATOR.join(self.header), *(self.line(r, y) for r, y in zip(rows, labels, strict=True))]
        return ("\n".join(lines) + "\n").encode()


def feedback_key(base: str, window_end: datetime) -> str:
    """``<base>/<yyyy>/<mm>/<dd>/<yyyymmddThhmmssZ>.csv``: one file per window, named by its end."""
    return f"{base.rstrip('/')}/{window_end:%Y/%m/%d}/{window_end:%Y%m%dT%H%M%SZ}.csv"


def write_feedback(
    s3: Any,
    *,
    feedback_uri: str,
    manifest_uri: str,
    window_end: datetime,
    rows: Sequence[Sequence[float]],
    labels: Sequence[int],
) -> str:
    """Decode the labelled rows with the deployed model's manifest and put them in the raw zone; returns the URI."""
    bucket, base = aws.split_s3_uri(feedback_uri)
    manifest_bucket, manifest_key = aws.split_s3_uri(manifest_uri)
    try:
        manifest = json.loads(aws.read_object(s3, manifest_bucket, manifest_key))
    except (PipelineError, ValueError) as err:
        raise PipelineError(f"cannot read the deployed model's feature manifest {manifest_uri}: {err}") from err
    body = Decoder(manifest, manifest_uri).csv(rows, labels)
    key = feedback_key(base, window_end)
    aws.call(s3, "PutObject", Bucket=bucket, Key=key, Body=body, ContentType="text/csv")
    return f"s3://{bucket}/{key}"
