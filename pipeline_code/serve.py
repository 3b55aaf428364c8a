"""Serving raw records: the inference handlers of the registered model, and how a model is packaged for them.

The model package runs SageMaker's XGBoost framework container in script mode: ``model.tar.gz`` holds the booster,
the feature manifest its training data were encoded with (``metadata/feature_manifest.json``) and this code
(``code/inference.py`` + ``code/pipeline_code/``); the package's environment names the entry point
(``SAGEMAKER_PROGRAM=inference.py``, ``SAGEMAKER_SUBMIT_DIRECTORY=/opt/ml/model/code``) and the decision threshold
the evaluation chose at the configured costs (``MLOPS_DECISION_THRESHOLD``). The container calls:

- `model_fn(model_dir)`: the booster, an `features.Encoder` of the packaged manifest, the threshold;
- `input_fn(body, content_type)`: the request as records, unchecked: ``text/csv`` (lines in the raw files' column
  order, with or without the label column last, ``, `` or ``,`` separators, ``?`` or nothing for missing, header
  lines allowed) or ``application/json`` (``{"instances": [{"age": 39, "workclass": "State-gov", ...}]}``, raw or
  processed column names, ``null`` or ``"?"`` for missing, the label ignored);
- `predict_fn(request, model)`: every field checked and encoded (`features.Encoder.encode_records`, the code
  preprocess encodes training data with), then scored with `train.predict_proba`, as the evaluation scores;
- `output_fn(prediction, accept)`: ``application/json`` (``{"predictions": [{"probability", "decision",
  "label"}], "threshold", "unseen_categories"}``) or ``text/csv`` (``probability,decision`` per line, a header line
  where the request had one, so a batch transform's ``JoinSource=Input`` lines up line for line).

A request that cannot be scored raises `RequestError`, a ``sagemaker_inference`` error whose status (400, 406,
415) the container returns with the message: the record (line or instance) and the field and what is wrong.
An unseen category is scored as missing (`features`), named in the JSON answer and counted (per feature, logged).
Only the standard library, numpy and xgboost (through ``train``) are imported: all are in the container.
"""

from __future__ import annotations

import csv
import gc
import json
import logging
import os
import shutil
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from pipeline_code import features
from pipeline_code.errors import PipelineError

CSV, JSON = "text/csv", "application/json"
THRESHOLD_ENV = "MLOPS_DECISION_THRESHOLD"
MANIFEST_IN_MODEL = f"metadata/{features.MANIFEST_FILE}"  # beside hyperparameters.json, out of the container's way
CODE_DIR = "code"
ENTRY_POINT = "inference.py"
#: What the model package's container environment holds for script mode (with THRESHOLD_ENV).
SCRIPT_MODE_ENV = {"SAGEMAKER_PROGRAM": ENTRY_POINT, "SAGEMAKER_SUBMIT_DIRECTORY": f"/opt/ml/model/{CODE_DIR}"}
MAX_PROBLEMS = 10
PACKAGE_DIR = Path(__file__).resolve().parent

log = logging.getLogger(__name__)


def _toolkit_error() -> type[Exception]:
    """The container's error type that carries an HTTP status to the client; a plain exception elsewhere."""
    try:
        from sagemaker_inference.errors import BaseInferenceToolkitError
    except ImportError:
        return Exception
    return BaseInferenceToolkitError  # type: ignore[no-any-return]


class RequestError(_toolkit_error()):  # type: ignore[misc]  # the toolkit's class when it is there
    """A request the model cannot score: ``status_code`` (4xx) and a ``message`` naming the record and field."""

    def __init__(self, status_code: int, message: str) -> None:
        phrase = {400: "Bad Request", 406: "Not Acceptable", 415: "Unsupported Media Type"}.get(status_code, "Error")
        super().__init__(status_code, message, phrase)
        self.status_code, self.message, self.phrase = status_code, message, phrase

    def __str__(self) -> str:
        return f"{self.status_code} {self.phrase}: {self.message}"


# --------------------------------------------------------------------------------------------- the model


@dataclass
class ServedModel:
    """What `model_fn` loads: the booster, the encoding it was trained with, the decision threshold."""

    booster: Any
    encoder: features.Encoder
    threshold: float
    unseen_counts: Counter[str] = field(default_factory=Counter)  # per raw column, since the model was loaded

    @property
    def manifest(self) -> features.FeatureManifest:
        return self.encoder.manifest


def read_manifest(model_dir: Path | str) -> features.FeatureManifest:
    path = Path(model_dir) / MANIFEST_IN_MODEL
    if not path.is_file():
        raise PipelineError(f"{path}: no feature manifest in the model (trained before models carried their encoding?)")
    try:
        document = json.loads(path.read_text())
    except ValueError as err:
        raise PipelineError(f"{path}: not JSON ({err})") from None
    return features.FeatureManifest.from_document(document, str(path))


def load(model_dir: Path | str, threshold: float | str) -> ServedModel:
    """The model in an extracted ``model.tar.gz`` folder, with its decision threshold (a probability)."""
    try:
        value = float(threshold)
    except ValueError:
        raise PipelineError(f"decision threshold {threshold!r} is not a number") from None
    if not 0.0 <= value <= 1.0:
        raise PipelineError(f"decision threshold {value} is not a probability")
    # xgboost comes with the first model (here, and in predict_fn), not with this module: the definitions' builders
    # read its content types and environment names, and importing xgboost (and scikit-learn) is 2 s of CPU
    from pipeline_code import train

    booster = train.load_model(model_dir)
    # One thread (here and for each request's matrix, predict_fn): the container runs one model worker per CPU, and
    # OpenMP threads of several workers fighting for the same cores cost far more than they save on requests of a
    # few rows (building a one-row matrix on every core took 2.4 ms of CPU, on one 0.35 ms). The scores do not
    # depend on it.
    booster.set_param({"nthread": 1})
    return ServedModel(booster, features.Encoder(read_manifest(model_dir)), value)


def model_fn(model_dir: str) -> ServedModel:
    """SageMaker: load the model; the threshold comes from the package's environment (``MLOPS_DECISION_THRESHOLD``).

    Everything loaded so far (the interpreter's modules, numpy, xgboost, pandas) is then frozen out of the garbage
    collector's sight (`gc.freeze`): a full collection otherwise walks that whole heap, and took 80-125 ms of a
    1,000-record request now and then (the p99); requests allocate and free their own objects as before.
    """
    threshold = os.environ.get(THRESHOLD_ENV)
    if threshold is None:
        raise PipelineError(f"{THRESHOLD_ENV} is not set: the model package's environment names the threshold")
    model = load(model_dir, threshold)
    gc.collect()
    gc.freeze()
    return model


# --------------------------------------------------------------------------------------------- requests


@dataclass(frozen=True)
class Request:
    """A request's records before any check: CSV lines (fields as text, with their line numbers) or JSON instances."""

    content_type: str
    lines: list[tuple[int, list[str]]] = field(default_factory=list)  # CSV: (line number, fields)
    instances: list[Any] = field(default_factory=list)  # JSON: the instances array's items


def media_type(header: str | None) -> str:
    return (header or "").split(";", 1)[0].strip().lower()


def input_fn(body: bytes | str, content_type: str) -> Request:
    """SageMaker: the request body as records (checked field by field only by `predict_fn`, which has the model)."""
    kind = media_type(content_type)
    if kind not in (CSV, JSON):
        raise RequestError(415, f"content type {content_type!r} is not served: send {CSV} or {JSON}")
    if isinstance(body, bytes | bytearray):
        try:
            body = bytes(body).decode("utf-8")
        except UnicodeDecodeError as err:
            raise RequestError(400, f"the body is not UTF-8 text ({err.reason} at byte {err.start})") from None
    if kind == CSV:
        rows = csv.reader(body.splitlines(), skipinitialspace=True)
        try:
            # a blank line is [] or one blank field; any line of several fields is a record (or a 400 later)
            lines = [
                (n, fields)
                for n, fields in enumerate(rows, start=1)
                if len(fields) > 1 or (fields and fields[0].strip())
            ]
        except csv.Error as err:
            raise RequestError(400, f"line {rows.line_num}: not CSV ({err})") from None
        if not lines:
            raise RequestError(400, "the request holds no record (no non-blank CSV line)")
        return Request(kind, lines=lines)
    try:
        document = json.loads(body)
    except ValueError as err:
        raise RequestError(400, f"the body is not JSON ({err})") from None
    if not isinstance(document, dict) or not isinstance(document.get("instances"), list):
        raise RequestError(400, 'a JSON request is an object {"instances": [{...}, ...]}: no "instances" array')
    if not document["instances"]:
        raise RequestError(400, "the request holds no record (an empty instances array)")
    return Request(kind, instances=document["instances"])


@dataclass
class Records:
    """A request's records in manifest order, what each is called in messages, and where CSV header lines were."""

    values: list[Sequence[Any]]
    names: list[str]
    header_lines: list[int]  # CSV: positions, among the output lines, of the request's header lines


def records_of(request: Request, manifest: features.FeatureManifest) -> Records:
    """The request's records laid out as the manifest's features; any layout problem is a 400 naming the record."""
    out, problems = _csv_records(request, manifest) if request.content_type == CSV else _json_records(request, manifest)
    if problems:
        more = f" (and {len(problems) - MAX_PROBLEMS} more)" if len(problems) > MAX_PROBLEMS else ""
        raise RequestError(400, "; ".join(problems[:MAX_PROBLEMS]) + more)
    if not out.values:
        raise RequestError(400, "the request holds no record, only header lines")
    return out


def _csv_records(request: Request, manifest: features.FeatureManifest) -> tuple[Records, list[str]]:
    names = list(manifest.raw_names)
    labelled = [*names, manifest.label_raw_name]
    count = len(names)
    out, problems, record = Records([], [], []), [], 0
    for number, fields in request.lines:
        if fields[0].strip() in labelled:  # a data line starts with an age, never with a column name
            header = [f.strip() for f in fields]
            if header in (names, labelled):  # a header line: echoed in a CSV answer, so lines stay aligned
                out.header_lines.append(len(out.values) + len(out.header_lines))
                continue
            if set(header) <= set(labelled):
                problems.append(
                    f"line {number}: a header with the columns in another order or incomplete; send them in "
                    f"the raw files' order: {', '.join(labelled)} (the label last, optional)"
                )
                continue
        record += 1
        where = f"line {number} (record {record})"
        if len(fields) == count or len(fields) == count + 1:  # the label, if any, is not the model's business
            out.values.append(fields[:count])
            out.names.append(where)
        else:
            problems.append(
                f"{where}: {len(fields)} fields, expected {count} ({', '.join(names)}), or {count + 1} with the "
                f"label '{manifest.label_raw_name}' last"
            )
    return out, problems


def _json_records(request: Request, manifest: features.FeatureManifest) -> tuple[Records, list[str]]:
    position = {name: j for j, f in enumerate(manifest.features) for name in (f.raw_name, f.name)}
    label = {manifest.label_raw_name, manifest.label_name}
    out, problems = Records([], [], []), []
    for index, instance in enumerate(request.instances):
        where = f"instances[{index}] (record {index + 1})"
        if not isinstance(instance, dict):
            problems.append(f"{where}: {features.json_text(instance)}, not an object of field names and values")
            continue
        values: list[Any] = [None] * len(manifest.features)
        given: set[int] = set()
        for key, value in instance.items():
            j = position.get(key)
            if j is None:
                if key not in label:
                    problems.append(f"{where}: unknown field {key!r} (fields: {', '.join(manifest.raw_names)})")
                continue
            if j in given:
                problems.append(f"{where}: field '{manifest.features[j].raw_name}' given twice")
            given.add(j)
            values[j] = value
        absent = [f.raw_name for j, f in enumerate(manifest.features) if j not in given]
        problems += [f"{where}: field '{name}' is missing (send null for a missing value)" for name in absent]
        out.values.append(values)
        out.names.append(where)
    return out, problems


# --------------------------------------------------------------------------------------------- prediction


@dataclass
class Prediction:
    """Per record: the probability of the positive class and the decision at the threshold."""

    probabilities: np.ndarray  # float32, as the booster answers
    decisions: np.ndarray  # 0/1
    threshold: float
    labels: tuple[str, str]  # (negative, positive) words
    unseen: dict[int, dict[str, str]]  # by record index, only the records that have one
    header_lines: list[int] = field(default_factory=list)


def encode(request: Request, encoder: features.Encoder) -> tuple[Records, features.Encoded]:
    """The request's records checked and encoded with a model's manifest (400 naming record and field)."""
    records = records_of(request, encoder.manifest)
    try:
        encoded = encoder.encode_records(records.values, max_problems=MAX_PROBLEMS)
    except features.InvalidRecordsError as err:
        raise RequestError(
            400, "; ".join(f"{records.names[p.record]}: field '{p.field}': {p.problem}" for p in err.problems)
        ) from None
    return records, encoded


def predict_fn(request: Request, model: ServedModel) -> Prediction:
    """SageMaker: check and encode every record, then score them as the evaluation does."""
    from pipeline_code import train  # loaded by `load` already

    records, encoded = encode(request, model.encoder)
    probabilities = np.asarray(train.predict_proba(model.booster, encoded.matrix, nthread=1))
    if encoded.unseen_count:
        found = Counter(name for record in encoded.unseen.values() for name in record)
        model.unseen_counts.update(found)
        log.warning(
            json.dumps(
                {
                    "event": "unseen_categories",
                    "in_request": dict(found),
                    "since_start": dict(model.unseen_counts),
                    "rule": "scored as missing",
                }
            )
        )
    return Prediction(
        probabilities=probabilities,
        decisions=(probabilities >= model.threshold).astype(np.int8),
        threshold=model.threshold,
        labels=model.manifest.label_values,
        unseen=encoded.unseen,
        header_lines=records.header_lines,
    )


def output_fn(prediction: Prediction, accept: str) -> tuple[str, str]:
    """SageMaker: the answer as JSON or CSV, and its content type. Probabilities are written exactly (the float32
    value, shortest round-trip form), so JSON and CSV answers hold the same numbers as the evaluation's."""
    kind = media_type(accept)
    probabilities = prediction.probabilities.astype(np.float64).tolist()
    decisions = prediction.decisions.tolist()
    if kind in (JSON, "*/*", ""):
        answers = []
        for index, (probability, decision) in enumerate(zip(probabilities, decisions, strict=True)):
            answer: dict[str, Any] = {
                "probability": probability,
                "decision": decision,
                "label": prediction.labels[decision],
            }
            if index in prediction.unseen:
                answer["unseen_categories"] = prediction.unseen[index]
            answers.append(answer)
        body = {
            "predictions": answers,
            "threshold": prediction.threshold,
            "unseen_categories": sum(len(u) for u in prediction.unseen.values()),
        }
        return json.dumps(body, separators=(",", ":")), JSON
    if kind == CSV:
        lines = [f"{p!r},{d}" for p, d in zip(probabilities, decisions, strict=True)]
        for position in prediction.header_lines:
            lines.insert(position, "probability,decision")
        return "\n".join(lines) + "\n", CSV
    raise RequestError(406, f"Accept {accept!r} is not served: ask for {JSON} or {CSV}")


def invoke(model: ServedModel, body: bytes | str, content_type: str, accept: str) -> tuple[str, str]:
    """input_fn → predict_fn → output_fn, as the container chains them: (answer, its content type)."""
    return output_fn(predict_fn(input_fn(body, content_type), model), accept)


def probabilities_of(answer: str, content_type: str) -> list[float]:
    """The probabilities of an answer `output_fn` wrote (JSON or CSV; header lines skipped); ValueError when the
    answer is not one."""
    try:
        if media_type(content_type) == JSON:
            return [float(p["probability"]) for p in json.loads(answer)["predictions"]]
        lines = [line for line in answer.splitlines() if line.strip() and not line.startswith("probability")]
        found = [line.split(",")[0] for line in lines]
        if not all(features.NUMBER.fullmatch(p.strip()) for p in found):
            raise ValueError(f"not a probability in {answer[:80]!r}")
        return [float(p) for p in found]
    except (KeyError, TypeError, ValueError) as err:
        raise ValueError(f"not an answer of the model's handlers ({err})") from None


# --------------------------------------------------------------------------------------------- packaging


def package(model_dir: Path, manifest: features.FeatureManifest, code_dir: Path = PACKAGE_DIR) -> None:
    """Make a training job's model folder servable: the manifest and this code beside the booster.

    ``code/inference.py`` is the script-mode entry point; ``code/pipeline_code/`` the package (Python files only:
    no requirements file, so the container installs nothing). The code is the version that trained the model.
    """
    (model_dir / MANIFEST_IN_MODEL).parent.mkdir(parents=True, exist_ok=True)
    (model_dir / MANIFEST_IN_MODEL).write_text(json.dumps(manifest.document(), indent=2, sort_keys=True) + "\n")
    target = model_dir / CODE_DIR / "pipeline_code"
    target.mkdir(parents=True, exist_ok=True)
    for source in sorted(code_dir.glob("*.py")):
        shutil.copyfile(source, target / source.name)
    (target / "datasets").mkdir(exist_ok=True)  # the contracts' renderings, which `schema` reads on import
    for source in sorted((code_dir / "datasets").glob("*.json")):
        shutil.copyfile(source, target / "datasets" / source.name)
    shutil.copyfile(code_dir / ENTRY_POINT, model_dir / CODE_DIR / ENTRY_POINT)
