"""Step 3, feature records: processed rows as SageMaker Feature Store records, written with ``PutRecord``.

Each record carries the record identifier and event time named in ``schema`` plus every feature typed as the
Feature Group declares it (categories as their names, not model codes; a missing value is left out of the
record, which Feature Store stores as null). Records are sent in batches on a small thread pool;
throttling and server errors are retried with exponential backoff; anything else fails the step and names
the record.

Record ids come from each row's content: ``<digest>-<k>``, the digest the first 16 hex digits of the SHA-256 of
the record's features and label as written (``content_digest``: the ``[name, value]`` pairs sorted by name, as
compact JSON in UTF-8; record identifier and event time left out), ``k`` = 0 for the first row of that content in
the input, 1 for the next identical one, ... So a row gets the same id in every split and every file it appears
in (identical rows stay distinct records), and a re-run or a bigger split meets its earlier records instead of
adding copies under new ids. A row whose features or label change (a corrected label) is other content: it gets a
new id, and the old record stays in the store.

With ``--skip-existing`` (the pipeline passes it when the feature group has an online store) the ids are looked
up first with ``BatchGetRecord``, which reads the online store (``batch_get_limit()`` ids per call, only the record
identifier feature asked for, unprocessed identifiers retried), and only the missing records are written; the
summary counts both. Without it every record is written.
``--endpoint-url`` points the client at any compatible endpoint (a VPC endpoint, a local emulator).
A learned column's categories (the contract's ``categories: learn``) are the ones preprocess learned: read from its
feature manifest (``--manifest``).
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import json
import sys
import time
from collections import Counter, deque
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from botocore.exceptions import ClientError
from botocore.exceptions import ConnectionError as BotoConnectionError

from pipeline_code import features, schema, tabular
from pipeline_code.artifacts import atomic_output, read_json, write_json
from pipeline_code.cli import PROCESSING_INPUT, PROCESSING_OUTPUT, run_step
from pipeline_code.errors import PipelineError

Record = list[dict[str, str]]
Categories = Mapping[str, Sequence[str]]  # by feature name: the manifest's, for the learned columns
RETRYABLE_CODES = frozenset(
    {
        "ThrottlingException",
        "ServiceUnavailable",
        "InternalFailure",
        "RequestTimeout",
        "TooManyRequestsException",
    }
)


def _words(col: schema.CategoricalColumn, categories: Categories | None) -> Sequence[str]:
    if categories is not None and col.name in categories:
        return categories[col.name]
    if col.learn:
        raise PipelineError(f"feature '{col.name}' has learned categories: the feature manifest is needed")
    return col.categories


def manifest_categories(path: Path) -> dict[str, tuple[str, ...]]:
    """The learned columns' categories from a feature manifest file."""
    manifest = features.FeatureManifest.from_document(read_json(path), str(path))
    return {f.name: f.categories for f in manifest.features if f.learned and f.categories is not None}


def _format(col: schema.Column, value: float, categories: Categories | None = None) -> str:
    if isinstance(col, schema.CategoricalColumn):
        return _words(col, categories)[int(value)]
    return str(int(value)) if col.feature_store_type == "Integral" else repr(float(value))


def content_digest(features: Record) -> str:
    """First 16 hex digits of the SHA-256 of a record's features and label as written (identifier, time left out).

    The encoding: the ``[FeatureName, ValueAsString]`` pairs sorted by name, as JSON without spaces, in UTF-8.
    """
    pairs = sorted(
        [f["FeatureName"], f["ValueAsString"]]
        for f in features
        if f["FeatureName"] not in (schema.RECORD_IDENTIFIER_NAME, schema.EVENT_TIME_NAME)
    )
    encoded = json.dumps(pairs, separators=(",", ":"), ensure_ascii=False).encode()
    return hashlib.sha256(encoded).hexdigest()[:16]


def to_records(
    batch: tabular.EncodedBatch,
    event_time: str,
    categories: Categories | None = None,
    seen: Counter[str] | None = None,
) -> list[Record]:
    """One Feature Store record per row, its id ``<content digest>-<k>`` (``k``: earlier rows of that content).

    ``seen`` counts the digests met so far (updated here): pass the same counter for every batch of one input.
    """
    seen = Counter() if seen is None else seen
    records = []
    for i, row in enumerate(batch.features):
        features: Record = []
        for col, value in zip(schema.FEATURES, row, strict=True):
            missing = np.isnan(value) or (isinstance(col, schema.CategoricalColumn) and value == tabular.MISSING_CODE)
            if not missing:
                features.append({"FeatureName": col.name, "ValueAsString": _format(col, value, categories)})
        if batch.label is not None:
            features.append({"FeatureName": schema.LABEL, "ValueAsString": str(int(batch.label[i]))})
        digest = content_digest(features)
        record_id = f"{digest}-{seen[digest]}"
        seen[digest] += 1
        records.append(
            [
                {"FeatureName": schema.RECORD_IDENTIFIER_NAME, "ValueAsString": record_id},
                {"FeatureName": schema.EVENT_TIME_NAME, "ValueAsString": event_time},
                *features,
            ]
        )
    return records


def from_record(record: Record, categories: Categories | None = None) -> tuple[str, list[float], int | None]:
    """Inverse of ``to_records`` for one record: record id, feature row in processed layout, label."""
    values = {f["FeatureName"]: f["ValueAsString"] for f in record}
    row: list[float] = []
    for col in schema.FEATURES:
        raw = values.get(col.name)
        if isinstance(col, schema.CategoricalColumn):
            words = list(_words(col, categories))
            row.append(float(words.index(raw)) if raw is not None else float(tabular.MISSING_CODE))
        else:
            row.append(float(raw) if raw is not None else float("nan"))
    label = values.get(schema.LABEL)
    return values[schema.RECORD_IDENTIFIER_NAME], row, int(label) if label is not None else None


def _retryable(err: Exception) -> bool:
    if isinstance(err, BotoConnectionError):
        return True
    if isinstance(err, ClientError):
        meta = err.response.get("ResponseMetadata", {})
        return err.response.get("Error", {}).get("Code") in RETRYABLE_CODES or meta.get("HTTPStatusCode", 0) >= 500
    return False


def put_record(client: Any, feature_group: str, record: Record, max_attempts: int, backoff: float) -> int:
    """``PutRecord`` with retries of transient errors; returns the number of attempts it took."""
    for attempt in range(1, max_attempts + 1):
        try:
            client.put_record(FeatureGroupName=feature_group, Record=record)
            return attempt
        except (ClientError, BotoConnectionError) as err:
            if not _retryable(err) or attempt == max_attempts:
                raise PipelineError(f"PutRecord of record '{record[0]['ValueAsString']}' failed: {err}") from err
            time.sleep(backoff * 2 ** (attempt - 1))
    raise AssertionError("unreachable")


def chunks(records: list[Record], size: int) -> Iterator[list[Record]]:
    for start in range(0, len(records), size):
        yield records[start : start + size]


def write_records(
    client: Any,
    feature_group: str,
    records: list[Record],
    batch_size: int = 100,
    workers: int = 4,
    max_attempts: int = 5,
    backoff: float = 0.2,
) -> dict[str, int]:
    """Write records ``batch_size`` at a time over ``workers`` threads; returns write and retry counts."""
    written = retries = 0
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for batch in chunks(records, batch_size):
            attempts = list(pool.map(lambda r: put_record(client, feature_group, r, max_attempts, backoff), batch))
            written += len(attempts)
            retries += sum(attempts) - len(attempts)
    return {"written": written, "retries": retries}


@functools.cache
def batch_get_limit() -> int:
    """How many record ids one ``BatchGetRecord`` call may ask for, per botocore's model of the API.

    One identifier (one feature group) per call: the smaller of the ``Identifiers`` and
    ``RecordIdentifiersValueAsString`` maxima (100 and 100).
    """
    import botocore.session

    model = botocore.session.get_session().get_service_model("sagemaker-featurestore-runtime")
    identifiers = model.operation_model("BatchGetRecord").input_shape.members["Identifiers"]
    ids = identifiers.member.members["RecordIdentifiersValueAsString"]
    return min(int(identifiers.metadata["max"]), int(ids.metadata["max"]))


def existing_ids(
    client: Any, feature_group: str, record_ids: Sequence[str], max_attempts: int = 5, backoff: float = 0.2
) -> tuple[set[str], int]:
    """Which of ``record_ids`` the feature group's online store holds (``BatchGetRecord``), and the retries it took.

    Asks for the record identifier feature only, ``batch_get_limit()`` ids per call. Unprocessed identifiers and
    throttled or failed calls are retried with backoff, ``max_attempts`` attempts in all; a per-record
    ``ResourceNotFound`` error counts as absent, any other per-record error fails the step and names the record.
    """
    found: set[str] = set()
    retries = 0
    limit = batch_get_limit()
    pending = deque((list(record_ids[i : i + limit]), 1) for i in range(0, len(record_ids), limit))
    while pending:
        chunk, attempt = pending.popleft()
        identifier = {
            "FeatureGroupName": feature_group,
            "RecordIdentifiersValueAsString": chunk,
            "FeatureNames": [schema.RECORD_IDENTIFIER_NAME],
        }
        try:
            response = client.batch_get_record(Identifiers=[identifier])
        except (ClientError, BotoConnectionError) as err:
            if not _retryable(err) or attempt == max_attempts:
                raise PipelineError(
                    f"BatchGetRecord of {len(chunk)} records of '{feature_group}' (first: '{chunk[0]}') failed: {err}"
                ) from err
            retries += 1
            time.sleep(backoff * 2 ** (attempt - 1))
            pending.append((chunk, attempt + 1))
            continue
        found.update(r["RecordIdentifierValueAsString"] for r in response.get("Records", []))
        for error in response.get("Errors", []):
            if error["ErrorCode"] != "ResourceNotFound":
                raise PipelineError(
                    f"BatchGetRecord of record '{error['RecordIdentifierValueAsString']}' of '{feature_group}' "
                    f"failed: {error['ErrorCode']}: {error['ErrorMessage']}"
                )
        left = [i for u in response.get("UnprocessedIdentifiers", []) for i in u["RecordIdentifiersValueAsString"]]
        if left:
            if attempt == max_attempts:
                raise PipelineError(
                    f"BatchGetRecord left {len(left)} records of '{feature_group}' unprocessed after {max_attempts} "
                    f"attempts (first: '{left[0]}')"
                )
            retries += 1
            time.sleep(backoff * 2 ** (attempt - 1))
            pending.append((left, attempt + 1))
    return found, retries


def make_client(endpoint_url: str | None, region: str | None) -> Any:
    """A Feature Store runtime client; retries are done here, per record, so botocore's are turned off."""
    import boto3
    from botocore.config import Config

    config = Config(retries={"max_attempts": 1, "mode": "standard"})
    return boto3.client("sagemaker-featurestore-runtime", endpoint_url=endpoint_url, region_name=region, config=config)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=f"{PROCESSING_INPUT}/train", help="processed CSV file or folder")
    parser.add_argument("--feature-group", required=True)
    parser.add_argument(
        "--manifest",
        default=f"{PROCESSING_INPUT}/manifest/feature_manifest.json",
        help="preprocess's feature manifest: the learned columns' categories (read only if the data set has one)",
    )
    parser.add_argument("--output", default=f"{PROCESSING_OUTPUT}/feature_records", help="summary folder")
    parser.add_argument(
        "--skip-existing",
        action="store_true",
        help="write only the records whose ids the online store lacks (BatchGetRecord: needs an online store)",
    )
    parser.add_argument("--event-time", default=None, help="ISO-8601 UTC; default: now")
    parser.add_argument("--endpoint-url", default=None)
    parser.add_argument("--region", default=None)
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--max-attempts", type=int, default=5)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)

    def step() -> None:
        event_time = args.event_time or datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        client = make_client(args.endpoint_url, args.region)
        summary = {"records": 0, "written": 0, "already_present": 0, "retries": 0}
        categories = manifest_categories(Path(args.manifest)) if schema.learned_features() else None
        seen: Counter[str] = Counter()
        for batch in tabular.iter_processed_batches(args.data):
            records = to_records(batch, event_time, categories, seen)
            summary["records"] += len(records)
            if args.skip_existing:
                ids = [r[0]["ValueAsString"] for r in records]
                present, lookup_retries = existing_ids(client, args.feature_group, ids, args.max_attempts)
                missing = [r for r in records if r[0]["ValueAsString"] not in present]
                summary["already_present"] += len(records) - len(missing)
                records = missing
                summary["retries"] += lookup_retries
            result = write_records(
                client, args.feature_group, records, args.batch_size, args.workers, args.max_attempts
            )
            summary["written"] += result["written"]
            summary["retries"] += result["retries"]
        with atomic_output(args.output) as out:
            write_json(
                out / "feature_records.json",
                {"feature_group": args.feature_group, "event_time": event_time, **summary},
            )
        print(
            f"feature_records: {summary['records']} records: {summary['written']} written, "
            f"{summary['already_present']} already present ({summary['retries']} retries)"
        )

    return run_step(step, "feature_records")


if __name__ == "__main__":
    sys.exit(main())
