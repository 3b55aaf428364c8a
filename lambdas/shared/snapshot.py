"""A training run's input: an immutable, content-addressed manifest of the raw zone's data objects.

Pure (standard library only): a listing of the raw zone in, the manifest document and its URI out. The boto3
side (ListObjectsV2, PutObject) is `lambdas.shared.adapters.DataSnapshots`. Every starter of the training
pipeline uses it: both retraining Lambdas, the release's code-change trigger and `python -m release.start_training`.

The manifest is SageMaker's ManifestFile format: `[{"prefix": "s3://<raw>/"}, "adult/adult.data", ...]`, keys
relative to the prefix, sorted. Its name is the first 16 hex of a SHA-256 over the bucket and every listed
object's key, ETag and VersionId (when the listing has one), so unchanged data gives the same URI (the pipeline's
step cache hits) and a new or rewritten object a new one (a cache miss). Writing a snapshot that exists already
rewrites the same bytes. A manifest names keys, not versions (SageMaker reads the current version): the raw zone
is meant to be append-only, a key rewritten in place gets a new ETag and so a new snapshot, and Preprocess
records the SHA-256 of every file it actually read.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

# The raw files the ML steps read (pipeline_code.tabular.RAW_SUFFIXES; a test keeps the two equal). Anything
# else under the prefixes (a README, a _SUCCESS marker) is not training data and stays out of the manifest.
DATA_SUFFIXES = (".csv", ".data", ".test", ".gz")
MANIFEST_SUFFIX = ".manifest"
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_PREFIX = re.compile(r"^[\w!.*'()/-]+/$")


class EmptySnapshotError(ValueError):
    """No data object under the snapshot's prefixes: a run would train on nothing, so none is started."""


@dataclass(frozen=True, slots=True)
class ListedObject:
    """One object of a ListObjectsV2 (or ListObjectVersions) page: what identifies its content."""

    key: str
    etag: str
    size: int
    version_id: str | None = None


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The manifest of one set of data objects: where it goes, what it holds, and its document's bytes."""

    uri: str  # s3://<artifacts>/data-snapshots/<16 hex>.manifest
    digest: str  # the full SHA-256 (hex) the name is cut from
    source: str  # s3://<raw>/
    keys: tuple[str, ...]
    size: int  # bytes of data the manifest lists
    document: bytes

    @property
    def bucket_and_key(self) -> tuple[str, str]:
        return split_s3_uri(self.uri)


def split_s3_uri(uri: str) -> tuple[str, str]:
    """`s3://bucket/key` as (bucket, key); anything else is a ValueError naming the URI."""
    if not uri.startswith("s3://"):
        raise ValueError(f"{uri!r} is not an s3:// URI")
    bucket, _, key = uri[5:].partition("/")
    if not _BUCKET.match(bucket):
        raise ValueError(f"{uri!r} does not name a valid bucket")
    return bucket, key


def parse_prefixes(text: str | Sequence[str]) -> tuple[str, ...]:
    """Snapshot prefixes from a list or comma-separated text (`adult/,feedback/`): each a folder (`.../`)."""
    items = [p.strip() for p in (text.split(",") if isinstance(text, str) else text)]
    bad = [p for p in items if not _PREFIX.match(p)]
    if not items or bad:
        raise ValueError(f"snapshot prefixes must be non-empty folders ending in '/', got {list(items)!r}")
    return tuple(dict.fromkeys(items))  # duplicates would list the same objects twice


def is_data(obj: ListedObject) -> bool:
    """A data file: not a zero-byte "folder" marker, and named like the raw files the steps read."""
    return obj.size > 0 and not obj.key.endswith("/") and obj.key.lower().endswith(DATA_SUFFIXES)


def build_snapshot(
    *, raw_bucket: str, prefixes: Sequence[str], objects: Iterable[ListedObject], snapshots_uri: str
) -> Snapshot:
    """The manifest of the data objects under `prefixes`, or EmptySnapshotError naming where it looked."""
    if not _BUCKET.match(raw_bucket):
        raise ValueError(f"raw bucket {raw_bucket!r} is not a valid bucket name")
    split_s3_uri(snapshots_uri)
    prefixes = parse_prefixes(prefixes)
    chosen = {o.key: o for o in objects if is_data(o) and o.key.startswith(prefixes)}
    source = f"s3://{raw_bucket}/"
    if not chosen:
        where = ", ".join(source + p for p in prefixes)
        raise EmptySnapshotError(
            f"no data objects ({', '.join(DATA_SUFFIXES)}, non-empty) under {where}: no training run started"
        )
    listed = [chosen[key] for key in sorted(chosen)]
    # One JSON line for the bucket, then one per object: no key, ETag or version id can run into the next one.
    digest = hashlib.sha256(json.dumps(["s3", raw_bucket]).encode() + b"\n")
    for obj in listed:
        line = [obj.key, obj.etag.strip('"'), obj.version_id or ""]
        digest.update(json.dumps(line, ensure_ascii=False).encode() + b"\n")
    hexdigest = digest.hexdigest()
    document = json.dumps([{"prefix": source}, *(o.key for o in listed)], indent=0, ensure_ascii=False).encode()
    return Snapshot(
        uri=f"{snapshots_uri.rstrip('/')}/{hexdigest[:16]}{MANIFEST_SUFFIX}",
        digest=hexdigest,
        source=source,
        keys=tuple(o.key for o in listed),
        size=sum(o.size for o in listed),
        document=document + b"\n",
    )
