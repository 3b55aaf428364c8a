"""Step 3, feature records: processed rows as SageMaker Feature Store records, written with ``PutRecord``.

Each record carries the record identifier and event time named in ``schema`` plus every feature typed as the
Feature Group declares it (categories as their names, not model codes; a missing value is left out of the
record, which Feature Store stores as null). Records are sent in batches on a small thread pool;
throttling and server errors are retried with exponential backoff; anything else fails the step and names
the record. Record ids are ``<prefix>-<row number>``; the default prefix is the first 16 hex digits of the SHA-256
of the input files, so the same rows always get the same ids: a re-run on the same split overwrites its records
instead of adding copies, and the training pipeline can cache this step (same split, same records).
``--endpoint-url`` points the client at any compatible endpoint (a VPC endpoint, a local emulator).
A learned column's categories (the contract's ``categories: learn``) are the ones preprocess learned: read from its
feature manifest (``--manifest``).
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import time
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


def to_records(
    batch: tabular.EncodedBatch, id_prefix: str, first_index: int, event_time: str, categories: Categories | None = None
) -> list[Record]:
    """One Feature Store record per row; record ids are ``<prefix>-<row number>``, stable across re-runs."""
    records = []
    for i, row in enumerate(batch.features):
        record = [
            {"FeatureName": schema.RECORD_IDENTIFIER_NAME, "ValueAsString": f"{id_prefix}-{first_index + i}"},
            {"FeatureName": schema.EVENT_TIME_NAME, "ValueAsString": event_time},
        ]
        for col, value in zip(schema.FEATURES, row, strict=True):
            missing = np.isnan(value) or (isinstance(col, schema.CategoricalColumn) and value == tabular.MISSING_CODE)
            if not missing:
                record.append({"FeatureName": col.name, "ValueAsString": _format(col, value, categories)})
        if batch.label is not None:
            record.append({"FeatureName": schema.LABEL, "ValueAsString": str(int(batch.label[i]))})
        records.append(record)
    return records


def content_prefix(data: Path | str) -> str:
    """The record-id prefix of an input: SHA-256 over its data files' names and bytes, first 16 hex digits."""
    digest = hashlib.sha256()
    root = Path(data)
    for file in tabular.data_files(root):
        digest.update(file.relative_to(root).as_posix().encode() if root.is_dir() else file.name.encode())
        with file.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()[:16]


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
        "--record-id-prefix", default=None, help="default: the input's content digest (same rows, same ids)"
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
        summary = {"written": 0, "retries": 0}
        prefix = args.record_id_prefix or content_prefix(args.data)
        categories = manifest_categories(Path(args.manifest)) if schema.learned_features() else None
        for batch in tabular.iter_processed_batches(args.data):
            records = to_records(batch, prefix, summary["written"], event_time, categories)
            result = write_records(
                client, args.feature_group, records, args.batch_size, args.workers, args.max_attempts
            )
            summary = {k: summary[k] + result[k] for k in summary}
        with atomic_output(args.output) as out:
            write_json(
                out / "feature_records.json",
                {"feature_group": args.feature_group, "event_time": event_time, "record_id_prefix": prefix, **summary},
            )
        print(f"feature_records: {summary['written']} records written ({summary['retries']} retries)")

    return run_step(step, "feature_records")


if __name__ == "__main__":
    sys.exit(main())
