"""Monitoring, step 1: gather what the drift check of the deployed model needs, for one time window.

The deployed model is the package whose ARN the promotion wrote to an SSM parameter; from its Model Registry
entry come the model (``model/model.tar.gz``), the train split's baseline (``baseline/baseline.json``) and,
from the same pipeline execution, the processed test split as the labelled reference
(``reference/reference.csv``). The current data is read from one of two sources:

- ``capture``: the endpoint's data capture (``<capture-uri>/yyyy/mm/dd/hh/*.jsonl``). Only the hour prefixes
  that overlap the window [end - window-hours, end) are listed, and only records whose ``inferenceTime`` lies
  in the window are kept. A captured request holds raw records, as clients sent them (``text/csv`` lines or
  ``application/json`` instances; CSV, JSON or BASE64 capture encoding); they are read and encoded exactly as the
  endpoint read them (`serve`, with the manifest inside the deployed ``model.tar.gz``), and the answer's
  probabilities are kept beside them. A request the endpoint would have refused (4xx) is skipped and counted.
  Labels come from Model Monitor's ground-truth layout (``<ground-truth-uri>/yyyy/mm/dd/hh/*``), joined by
  ``eventId``; ground truth may arrive up to ``--ground-truth-delay-hours`` after the window.
- ``batch``: the batch transform's outputs (``join_source=Input``: each raw input line, then the model's
  ``probability,decision``; header lines skipped), the objects under ``--batch-uri`` last modified in the window.
  These lines carry no capture ``eventId``, so ground truth cannot be joined to them: a ``--ground-truth-uri``
  given with ``batch`` is not used, and the summary's ``note`` says so. The pipeline always passes the
  environment's ground-truth prefix, because ``Source`` is a run-time parameter and a definition cannot leave an
  argument out depending on a parameter's value (`plan_of`).

Outputs (each a folder, for a ProcessingOutput): ``current/current.csv`` in processed layout, encoded with the
deployed model's manifest (no header; a leading label column only when every row has a label, so every line has
the same column count and the drift check's label detection cannot guess wrong), ``scores/scores.csv`` (the
served score of each row of ``current.csv``), and ``summary/summary.json`` (``rows`` is what the pipeline's
condition reads; ``unseen_categories`` counts every category word the model did not know, per column and word,
scored as missing; ``refused_requests`` the captured requests the endpoint would refuse). The drift report names
categories by their words, from the baseline. An empty window is not an error: ``rows`` is 0 and ``current.csv``
is empty.

With ``--feedback-uri`` (the raw zone's ``feedback/``), the rows that have ground truth are also written back in
the raw data's layout (``pipeline_code.feedback``): labelled feedback that the next training run learns from.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import csv
import io
import json
import sys
import tarfile
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from pipeline_code import aws, feedback, serve, tabular
from pipeline_code.artifacts import atomic_output, write_json
from pipeline_code.cli import PROCESSING_OUTPUT, run_step
from pipeline_code.errors import DataValidationError, PipelineError
from pipeline_code.features import NUMBER, Encoded, Encoder, FeatureManifest

SOURCES = ("capture", "batch")
MAX_ERRORS = 10
EVALUATION_SUFFIX = "/EvaluateModel/evaluation/evaluation.json"
REFERENCE_SUFFIX = "/Preprocess/test/test.csv"


# ---------------------------------------------------------------- the deployed model and its artifacts


@dataclass(frozen=True)
class DeployedModel:
    """The deployed package and the S3 locations of what the drift check compares against."""

    arn: str
    model_uri: str
    baseline_uri: str
    reference_uri: str


def deployed_package_arn(ssm: Any, parameter: str) -> str:
    """The model package ARN the promotion recorded; a missing parameter means nothing is deployed."""
    from botocore.exceptions import ClientError

    try:
        response = ssm.get_parameter(Name=parameter)
    except ClientError as err:
        if aws.error_code(err) == "ParameterNotFound":
            raise PipelineError(f"no model is deployed: SSM parameter {parameter} not found") from err
        raise PipelineError(f"GetParameter failed: {err}") from err
    return str(response["Parameter"]["Value"])


def reference_uri_of(evaluation_uri: str) -> str:
    """The processed test split of the pipeline execution that wrote ``evaluation_uri``."""
    if not evaluation_uri.endswith(EVALUATION_SUFFIX):
        raise PipelineError(
            f"model quality statistics '{evaluation_uri}' are not a training pipeline's evaluation "
            f"(expected .../<execution id>{EVALUATION_SUFFIX}): cannot locate the test split"
        )
    return evaluation_uri[: -len(EVALUATION_SUFFIX)] + REFERENCE_SUFFIX


def describe_deployed(sagemaker: Any, arn: str) -> DeployedModel:
    """DescribeModelPackage, and the three URIs the check needs, each missing field named."""
    package = aws.call(sagemaker, "DescribeModelPackage", ModelPackageName=arn)
    paths: dict[str, tuple[str | int, ...]] = {
        "InferenceSpecification.Containers[0].ModelDataUrl": (
            "InferenceSpecification", "Containers", 0, "ModelDataUrl",
        ),
        "DriftCheckBaselines.ModelDataQuality.Statistics.S3Uri": (
            "DriftCheckBaselines", "ModelDataQuality", "Statistics", "S3Uri",
        ),
        "ModelMetrics.ModelQuality.Statistics.S3Uri": ("ModelMetrics", "ModelQuality", "Statistics", "S3Uri"),
    }  # fmt: skip
    found: dict[str, str] = {}
    for name, path in paths.items():
        value: Any = package
        for part in path:
            try:
                value = value[part]
            except (KeyError, IndexError, TypeError):
                raise PipelineError(f"model package {arn} has no {name}") from None
        found[name] = str(value)
    evaluation = found["ModelMetrics.ModelQuality.Statistics.S3Uri"]
    return DeployedModel(
        arn=arn,
        model_uri=found["InferenceSpecification.Containers[0].ModelDataUrl"],
        baseline_uri=found["DriftCheckBaselines.ModelDataQuality.Statistics.S3Uri"],
        reference_uri=reference_uri_of(evaluation),
    )


# ---------------------------------------------------------------- the time window


@dataclass(frozen=True)
class Window:
    start: datetime
    end: datetime

    @classmethod
    def ending(cls, end: datetime, hours: float) -> Window:
        if hours <= 0:
            raise PipelineError(f"--window-hours must be > 0, got {hours}")
        return cls(end - timedelta(hours=hours), end)

    def __contains__(self, moment: datetime) -> bool:
        return self.start <= moment < self.end

    def hour_prefixes(self, base: str, extra_hours: float = 0.0) -> list[str]:
        """``base/yyyy/mm/dd/hh/`` for every hour overlapping [start, end + extra_hours)."""
        base = base.rstrip("/") + "/" if base else ""
        hour = self.start.replace(minute=0, second=0, microsecond=0)
        stop = self.end + timedelta(hours=extra_hours)
        prefixes = []
        while hour < stop:
            prefixes.append(f"{base}{hour:%Y/%m/%d/%H}/")
            hour += timedelta(hours=1)
        return prefixes

    def as_json(self) -> dict[str, str]:
        return {"start": _iso(self.start), "end": _iso(self.end)}


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(value: str, what: str) -> datetime:
    """An ISO-8601 time (``Z`` or an offset; naive means UTC)."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise PipelineError(f"{what}: '{value}' is not an ISO-8601 time") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


# ---------------------------------------------------------------- parsing rows


class Problems:
    """Collects malformed-input messages (``key line N: what``) and raises them together."""

    def __init__(self) -> None:
        self.messages: list[str] = []

    def add(self, message: str) -> None:
        self.messages.append(message)

    def raise_if_any(self) -> None:
        if self.messages:
            more = len(self.messages) - MAX_ERRORS
            raise DataValidationError(self.messages[:MAX_ERRORS] + ([f"... and {more} more"] if more > 0 else []))


def model_encoder(archive: bytes, where: str) -> Encoder:
    """The encoder of the deployed model: the feature manifest packed in its ``model.tar.gz``."""
    try:
        with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
            member = next((m for m in tar.getmembers() if m.name.lstrip("./") == serve.MANIFEST_IN_MODEL), None)
            handle = tar.extractfile(member) if member is not None and member.isfile() else None
            if handle is None:
                raise PipelineError(
                    f"{where}: no {serve.MANIFEST_IN_MODEL} in the model (trained before models carried their "
                    "encoding): its captured raw requests cannot be read"
                )
            document = json.loads(handle.read())
    except (tarfile.TarError, OSError, ValueError) as err:
        raise PipelineError(f"{where}: cannot read the model archive ({err})") from None
    return Encoder(FeatureManifest.from_document(document, f"{where}:{serve.MANIFEST_IN_MODEL}"))


def _decode(payload: Any, where: str) -> str:
    """The text of a captured ``endpointInput``/``endpointOutput``/``groundTruthData``."""
    if not isinstance(payload, dict) or not isinstance(payload.get("data"), str):
        raise ValueError(f"{where}: no 'data' string")
    encoding = payload.get("encoding")
    if encoding in ("CSV", "JSON"):
        return str(payload["data"])
    if encoding == "BASE64":
        try:
            return base64.b64decode(payload["data"], validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError) as err:
            raise ValueError(f"{where}: invalid BASE64 data ({err})") from None
    raise ValueError(f"{where}: unknown encoding {encoding!r} (expected CSV, JSON or BASE64)")


def _content_type(payload: Any) -> str:
    """A captured payload's ``observedContentType`` (after `_decode` checked that the payload is an object)."""
    return str(payload.get("observedContentType", "")) if isinstance(payload, dict) else ""


def _csv_lines(text: str) -> list[str]:
    return [line for line in text.replace("\r\n", "\n").split("\n") if line.strip()]


@dataclass
class Gathered:
    """Rows gathered so far, in order: features, the served score and (capture) the event id of each row; the
    unseen category words (per raw column and word) and the refused requests (a few messages as examples)."""

    features: list[list[float]] = field(default_factory=list)
    scores: list[float] = field(default_factory=list)
    event_ids: list[str] = field(default_factory=list)
    objects: int = 0
    unseen: Counter[tuple[str, str]] = field(default_factory=Counter)
    refused: int = 0
    refusals: list[str] = field(default_factory=list)

    def add(self, encoded: Encoded, scores: list[float], event_id: str | None = None) -> None:
        self.features += encoded.matrix.tolist()
        self.scores += scores
        if event_id is not None:
            self.event_ids += [event_id] * len(scores)
        self.unseen.update((name, word) for record in encoded.unseen.values() for name, word in record.items())

    def refuse(self, message: str) -> None:
        self.refused += 1
        if len(self.refusals) < MAX_ERRORS:
            self.refusals.append(message)

    def unseen_summary(self) -> dict[str, dict[str, int]]:
        found: dict[str, dict[str, int]] = {}
        for (name, word), count in sorted(self.unseen.items()):
            found.setdefault(name, {})[word] = count
        return found


@dataclass(frozen=True)
class Captured:
    """One captured request in the window: its event id, its encoded records and the probabilities served."""

    event_id: str
    encoded: Encoded | None  # None: a request the endpoint refuses (``refusal`` says why)
    scores: list[float]
    refusal: str = ""


def parse_capture_line(line: str, where: str, window: Window, encoder: Encoder) -> Captured | None:
    """One data-capture record, read as the endpoint read its request, or None when it lies outside the window."""
    try:
        record = json.loads(line)
    except json.JSONDecodeError as err:
        raise ValueError(f"{where}: not JSON ({err.msg})") from None
    if not isinstance(record, dict):
        raise ValueError(f"{where}: not a JSON object")
    meta = record.get("eventMetadata") or {}
    capture = record.get("captureData") or {}
    if not isinstance(meta, dict) or not isinstance(meta.get("inferenceTime"), str):
        raise ValueError(f"{where}: no eventMetadata.inferenceTime")
    try:
        moment = parse_time(meta["inferenceTime"], "inferenceTime")
    except PipelineError as err:
        raise ValueError(f"{where}: {err}") from None
    if moment not in window:
        return None
    if not isinstance(meta.get("eventId"), str) or not meta["eventId"]:
        raise ValueError(f"{where}: no eventMetadata.eventId")
    if not isinstance(capture, dict):
        raise ValueError(f"{where}: captureData is not an object")
    request = capture.get("endpointInput")
    body = _decode(request, f"{where}: captureData.endpointInput")
    try:
        _, encoded = serve.encode(serve.input_fn(body, _content_type(request)), encoder)
    except serve.RequestError as err:
        return Captured(meta["eventId"], None, [], f"{where}: {err}")
    answer = capture.get("endpointOutput")
    output = _decode(answer, f"{where}: captureData.endpointOutput")
    try:
        scores = serve.probabilities_of(output, _content_type(answer))
    except ValueError as err:
        raise ValueError(f"{where}: captureData.endpointOutput: {err}") from None
    if len(scores) != encoded.matrix.shape[0]:
        raise ValueError(
            f"{where}: captureData.endpointOutput: {len(scores)} probabilities for {encoded.matrix.shape[0]} record(s)"
        )
    return Captured(meta["eventId"], encoded, scores)


def gather_capture(s3: Any, capture_uri: str, window: Window, encoder: Encoder) -> Gathered:
    """The window's captured rows, from the hour prefixes overlapping it only."""
    bucket, base = aws.split_s3_uri(capture_uri)
    gathered, problems = Gathered(), Problems()
    for prefix in window.hour_prefixes(base):
        for obj in aws.list_objects(s3, bucket, prefix):
            gathered.objects += 1
            text = aws.read_object(s3, bucket, obj["Key"]).decode("utf-8", errors="replace")
            for number, line in enumerate(text.splitlines(), start=1):
                if not line.strip():
                    continue
                try:
                    captured = parse_capture_line(line, f"s3://{bucket}/{obj['Key']} line {number}", window, encoder)
                except ValueError as err:
                    problems.add(str(err))
                    continue
                if captured is None:
                    continue
                if captured.encoded is None:
                    gathered.refuse(captured.refusal)
                else:
                    gathered.add(captured.encoded, captured.scores, captured.event_id)
    problems.raise_if_any()
    return gathered


def _ground_truth_line(line: str, where: str) -> tuple[str, list[int]]:
    """One ground-truth record: (event id, its label or labels, one per row of a multi-row request)."""
    try:
        record = json.loads(line)
        event_id = record["eventMetadata"]["eventId"]
    except (json.JSONDecodeError, KeyError, TypeError):
        raise ValueError(f"{where}: not a ground-truth record (JSON with eventMetadata.eventId)") from None
    values = [v.strip() for row in _csv_lines(_decode(record.get("groundTruthData"), f"{where}: groundTruthData"))
              for v in row.split(",")]  # fmt: skip
    if not values or any(v not in ("0", "1") for v in values):
        raise ValueError(f"{where}: groundTruthData {values[:5]} is not 0 or 1")
    return str(event_id), [int(v) for v in values]


def gather_ground_truth(s3: Any, uri: str, window: Window, delay_hours: float) -> dict[str, list[int]]:
    """Labels by event id from Model Monitor's ground-truth layout, up to ``delay_hours`` after the window."""
    bucket, base = aws.split_s3_uri(uri)
    labels: dict[str, list[int]] = {}
    problems = Problems()
    for prefix in window.hour_prefixes(base, delay_hours):
        for obj in aws.list_objects(s3, bucket, prefix):
            text = aws.read_object(s3, bucket, obj["Key"]).decode("utf-8", errors="replace")
            for number, line in enumerate(text.splitlines(), start=1):
                if not line.strip():
                    continue
                where = f"s3://{bucket}/{obj['Key']} line {number}"
                try:
                    event_id, found = _ground_truth_line(line, where)
                except ValueError as err:
                    problems.add(str(err))
                    continue
                if labels.setdefault(event_id, found) != found:
                    problems.add(f"{where}: event {event_id} has conflicting ground truth")
    problems.raise_if_any()
    return labels


def join_labels(gathered: Gathered, truth: dict[str, list[int]]) -> tuple[np.ndarray | None, int]:
    """One label per gathered row and the number of labelled rows; the labels are None unless every row has
    one (a partly labelled window is checked as unlabelled, never with a column that is partly empty)."""
    labels = row_labels(gathered, truth)
    known = [label for label in labels if label is not None]
    if gathered.event_ids and len(known) == len(labels):
        return np.asarray(known, dtype=np.int8), len(known)
    return None, len(known)


def row_labels(gathered: Gathered, truth: dict[str, list[int]]) -> list[int | None]:
    """The label of each gathered row (its request's ground truth, row for row), None where there is none."""
    rows_of = Counter(gathered.event_ids)
    mismatched = [
        f"ground truth of event {event_id}: {len(truth[event_id])} label(s) for {count} captured row(s)"
        for event_id, count in rows_of.items()
        if event_id in truth and len(truth[event_id]) != count
    ]
    if mismatched:
        raise DataValidationError(mismatched[:MAX_ERRORS])
    seen: Counter[str] = Counter()
    labels: list[int | None] = []
    for event_id in gathered.event_ids:
        if event_id in truth:
            labels.append(truth[event_id][seen[event_id]])
            seen[event_id] += 1
        else:
            labels.append(None)
    return labels


def gather_batch(s3: Any, batch_uri: str, window: Window, encoder: Encoder) -> Gathered:
    """Transform outputs (each raw input line, then ``probability,decision``) last modified in the window."""
    bucket, prefix = aws.split_s3_uri(batch_uri)
    gathered, problems = Gathered(), Problems()
    header = encoder.manifest.raw_names[0]
    for obj in aws.list_objects(s3, bucket, prefix):
        if obj["LastModified"] not in window or obj["Key"].endswith("/"):
            continue
        gathered.objects += 1
        where = f"s3://{bucket}/{obj['Key']}"
        text = aws.read_object(s3, bucket, obj["Key"]).decode("utf-8", errors="replace")
        lines: list[tuple[int, list[str]]] = []
        scores: list[float] = []
        try:
            for number, fields in enumerate(csv.reader(text.splitlines(), skipinitialspace=True), start=1):
                if not fields or fields[0].strip() == header:  # blank, or a header line
                    continue
                if len(fields) < 3 or not NUMBER.fullmatch(fields[-2].strip()):
                    problems.add(f"{where} line {number}: not a raw line followed by the model's probability,decision")
                    continue
                lines.append((number, fields[:-2]))
                scores.append(float(fields[-2]))
        except csv.Error as err:
            problems.add(f"{where}: not CSV ({err})")
            continue
        if not lines:
            continue
        try:
            _, encoded = serve.encode(serve.Request(serve.CSV, lines=lines), encoder)
        except serve.RequestError as err:
            problems.add(f"{where}: {err.message}")
            continue
        gathered.add(encoded, scores)
    problems.raise_if_any()
    return gathered


# ---------------------------------------------------------------- the step


def write_current(out: Path, gathered: Gathered, labels: np.ndarray | None) -> None:
    """``current/current.csv`` (processed layout) and ``scores/scores.csv``, row for row."""
    path = out / "current" / "current.csv"
    if gathered.features:
        features = np.asarray(gathered.features, dtype=np.float64)
        tabular.save_processed(path, tabular.EncodedBatch(np.asfortranarray(features), labels))
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"")
    scores = out / "scores" / "scores.csv"
    scores.parent.mkdir(parents=True, exist_ok=True)
    scores.write_text("".join(f"{s!r}\n" for s in gathered.scores))


@dataclass(frozen=True)
class Plan:
    """What one run reads, from its arguments: the source and its URI, the ground truth to join (None when none
    was given or the source has nothing to join it by), where feedback goes, and the summary's note."""

    source: str
    source_uri: str
    ground_truth_uri: str | None
    feedback_uri: str | None
    note: str


def plan_of(args: argparse.Namespace) -> Plan:
    """The run's plan, or PipelineError naming the missing or invalid argument (nothing is read before this)."""
    source_uri = args.capture_uri if args.source == "capture" else args.batch_uri
    if not source_uri:
        raise PipelineError(f"--source {args.source} needs --{args.source}-uri")
    aws.split_s3_uri(source_uri)
    for uri in (args.ground_truth_uri, args.feedback_uri):
        if uri:
            aws.split_s3_uri(uri)
    ground_truth, note = args.ground_truth_uri, "no ground truth given: features only"
    if args.source == "batch" and ground_truth:
        # Ground truth is keyed by the capture's eventId; batch predictions have none (module docstring).
        ground_truth = None
        note = f"ground truth {args.ground_truth_uri} not used: batch predictions carry no capture eventId to join"
    return Plan(
        source=args.source,
        source_uri=source_uri,
        ground_truth_uri=ground_truth,
        feedback_uri=args.feedback_uri or None,
        note=note,
    )


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-package-parameter", required=True, help="SSM parameter holding the package ARN")
    parser.add_argument("--source", required=True, choices=SOURCES)
    parser.add_argument("--capture-uri", help="s3://bucket/data-capture/<endpoint>/AllTraffic")
    parser.add_argument("--batch-uri", help="s3://bucket/prefix of the batch transform outputs")
    parser.add_argument("--ground-truth-uri", help="Model Monitor ground-truth prefix (capture only)")
    parser.add_argument("--ground-truth-delay-hours", type=float, default=24.0)
    parser.add_argument("--feedback-uri", help="s3://<raw>/feedback/: write the labelled rows there, raw layout")
    parser.add_argument("--window-hours", type=float, required=True)
    parser.add_argument("--end", default=None, help="ISO-8601 end of the window (exclusive); default: now")
    parser.add_argument("--region", default=None)
    parser.add_argument("--endpoint-url", default=None)
    parser.add_argument("--output", default=PROCESSING_OUTPUT)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)

    def step() -> None:
        plan = plan_of(args)
        end = parse_time(args.end, "--end") if args.end else datetime.now(UTC)
        window = Window.ending(end, args.window_hours)
        s3 = aws.make_client("s3", args.endpoint_url, args.region)
        ssm = aws.make_client("ssm", args.endpoint_url, args.region)
        sagemaker = aws.make_client("sagemaker", args.endpoint_url, args.region)
        deployed = describe_deployed(sagemaker, deployed_package_arn(ssm, args.model_package_parameter))
        model_bucket, model_key = aws.split_s3_uri(deployed.model_uri)
        archive = aws.read_object(s3, model_bucket, model_key)
        encoder = model_encoder(archive, deployed.model_uri)
        if plan.source == "capture":
            gathered = gather_capture(s3, plan.source_uri, window, encoder)
        else:
            gathered = gather_batch(s3, plan.source_uri, window, encoder)
        labels, labelled, note = None, 0, plan.note
        feedback_uri: str | None = None
        if plan.ground_truth_uri:
            truth = gather_ground_truth(s3, plan.ground_truth_uri, window, args.ground_truth_delay_hours)
            labels, labelled = join_labels(gathered, truth)
            note = (
                "every row labelled: label column written"
                if labels is not None
                else f"{labelled} of {len(gathered.features)} row(s) have ground truth: features only, no label column"
            )
            if plan.feedback_uri and labelled:
                pairs = [(row, y) for row, y in zip(gathered.features, row_labels(gathered, truth), strict=True)
                         if y is not None]  # fmt: skip
                feedback_uri = feedback.write_feedback(
                    s3,
                    feedback_uri=plan.feedback_uri,
                    manifest=encoder.manifest,
                    window_end=window.end,
                    rows=[row for row, _ in pairs],
                    labels=[y for _, y in pairs],
                )
        with atomic_output(args.output) as out:
            aws.download(s3, deployed.baseline_uri, out / "baseline" / "baseline.json")
            (out / "model").mkdir(parents=True, exist_ok=True)
            (out / "model" / "model.tar.gz").write_bytes(archive)
            aws.download(s3, deployed.reference_uri, out / "reference" / "reference.csv")
            write_current(out, gathered, labels)
            summary = {
                "rows": len(gathered.features),
                "labelled": labels is not None,
                "labelled_rows": labelled,
                "note": note,
                "window": window.as_json(),
                "source": plan.source,
                "source_uri": plan.source_uri,
                "objects_read": gathered.objects,
                "unseen_categories": gathered.unseen_summary(),
                "refused_requests": gathered.refused,
                "refused_examples": gathered.refusals,
                "feedback_uri": feedback_uri,  # None: no labelled row, or no --feedback-uri
                "feedback_rows": labelled if feedback_uri else 0,
                "model_package_arn": deployed.arn,
                "model_data_url": deployed.model_uri,
                "baseline_uri": deployed.baseline_uri,
                "reference_uri": deployed.reference_uri,
            }
            write_json(out / "summary" / "summary.json", summary)
        print(f"monitoring_inputs: {summary['rows']} row(s) from {plan.source} in {window.as_json()}; {note}")

    return run_step(step, "monitoring_inputs")


if __name__ == "__main__":
    sys.exit(main())
