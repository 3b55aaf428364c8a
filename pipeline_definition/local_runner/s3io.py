"""Moving job data between (moto) S3 and a job's folder, as SageMaker's File mode does."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlparse

from pipeline_definition.local_runner.errors import StepFailed

T = TypeVar("T")


def split_uri(uri: str) -> tuple[str, str]:
    parsed = urlparse(uri)
    if parsed.scheme != "s3" or not parsed.netloc:
        raise StepFailed(f"not an S3 URI: '{uri}'")
    return parsed.netloc, parsed.path.lstrip("/")


def _keys(s3: Any, bucket: str, prefix: str) -> dict[str, str]:
    """Key -> ETag of every object under the prefix."""
    keys: dict[str, str] = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys |= {item["Key"]: item["ETag"] for item in page.get("Contents", []) if not item["Key"].endswith("/")}
    return keys


def _fetch(s3: Any, bucket: str, key: str, etag: str | None, target: Path, blobs: Path | None) -> None:
    """One object into `target`; with `blobs`, an object whose ETag (its content's digest) was fetched before is
    copied from there instead of fetched again (every job of a run downloads the same step code)."""
    blob = blobs / etag.strip('"') if blobs is not None and etag else None
    if blob is not None and blob.is_file():
        shutil.copyfile(blob, target)
        return
    target.write_bytes(s3.get_object(Bucket=bucket, Key=key)["Body"].read())  # one GET: no transfer-manager threads
    if blob is not None:
        blob.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=blob.parent, delete=False) as handle:  # atomic: parallel runs share it
            handle.write(target.read_bytes())
        os.replace(handle.name, blob)


def download(
    s3: Any,
    uri: str,
    data_type: str,
    local: Path,
    what: str,
    *,
    blobs: Path | None = None,
    shard: tuple[int, int] | None = None,
) -> list[str]:
    """Fetch an `S3Prefix` or `ManifestFile` input into `local`; returns the S3 URIs it fetched.

    S3Prefix: every object whose key starts with the prefix, at its key relative to the prefix (an object named
    exactly keeps its file name). ManifestFile: `[{"prefix": "s3://b/p/"}, "rel/key", ...]`, each at its relative
    key. Nothing to fetch is an error, as it is for a SageMaker job. ``shard`` (index, count): `ShardedByS3Key`,
    this host's share only: the objects, in key order, dealt round-robin to the hosts; a host may get none.
    """
    local.mkdir(parents=True, exist_ok=True)
    pairs: list[tuple[str, str, str, str | None]]  # bucket, key, path under `local`, ETag
    if data_type == "S3Prefix":
        bucket, prefix = split_uri(uri)
        keys = _keys(s3, bucket, prefix)
        if not keys:
            raise StepFailed(f"{what}: no S3 objects under {uri}")
        pairs = [
            (bucket, key, key[len(prefix) :].lstrip("/") or key.rsplit("/", 1)[-1], etag) for key, etag in keys.items()
        ]
    elif data_type == "ManifestFile":
        pairs = _manifest(s3, uri, what)
    else:
        raise StepFailed(f"{what}: S3DataType '{data_type}' is not supported locally (S3Prefix, ManifestFile)")
    if shard is not None:
        pairs = host_share(sorted(pairs, key=lambda pair: (pair[0], pair[1])), *shard)
    for bucket, key, relative, etag in pairs:
        target = local / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            _fetch(s3, bucket, key, etag, target, blobs)
        except Exception as err:  # botocore raises ClientError for a missing object, named below
            raise StepFailed(f"{what}: cannot download s3://{bucket}/{key}: {err}") from err
    return [f"s3://{bucket}/{key}" for bucket, key, _, _ in pairs]


def host_share(objects: Sequence[T], index: int, count: int) -> list[T]:
    """`ShardedByS3Key`: host `index` of `count` gets the objects (given in key order) dealt round-robin to the
    hosts; a host may get none. The one rule, for the runner's downloads and for tests and benchmarks that lay out
    hosts' inputs themselves (`deal_files`)."""
    return list(objects[index::count])


def deal_files(source: Path, into: Path, hosts: int, *, link: bool = False) -> list[Path]:
    """The files of `source`, in name order, dealt as `ShardedByS3Key` deals objects to `into/algo-<n>` (one folder
    per host, as the runner's hosts are named): copies, or symbolic links with `link`."""
    names = sorted(p.name for p in source.iterdir())
    folders = []
    for index in range(hosts):
        folder = into / f"algo-{index + 1}"
        folder.mkdir(parents=True)
        for name in host_share(names, index, hosts):
            if link:
                (folder / name).symlink_to(source / name)
            else:
                shutil.copy(source / name, folder / name)
        folders.append(folder)
    return folders


def _manifest(s3: Any, uri: str, what: str) -> list[tuple[str, str, str, str | None]]:
    bucket, key = split_uri(uri)
    try:
        document = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    except Exception as err:
        raise StepFailed(f"{what}: cannot read the manifest {uri}: {err}") from err
    if not (isinstance(document, list) and document and isinstance(document[0], dict) and "prefix" in document[0]):
        raise StepFailed(f'{what}: {uri} is not a manifest: expected [{{"prefix": "s3://..."}}, "key", ...]')
    base_bucket, base_prefix = split_uri(str(document[0]["prefix"]))
    entries = document[1:]
    if not entries or not all(isinstance(entry, str) and entry for entry in entries):
        raise StepFailed(f"{what}: manifest {uri} must list at least one relative key (strings) after its prefix")
    return [(base_bucket, base_prefix + entry, entry, None) for entry in entries]  # no ETag known: always fetched


def upload(s3: Any, folder: Path, uri: str) -> list[str]:
    """Every file under `folder` to `uri`/<relative path>; returns the URIs written."""
    bucket, prefix = split_uri(uri)
    prefix = prefix.rstrip("/")
    written = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        key = f"{prefix}/{path.relative_to(folder).as_posix()}" if prefix else path.relative_to(folder).as_posix()
        s3.put_object(Bucket=bucket, Key=key, Body=path.read_bytes())  # one PUT: job outputs are small
        written.append(f"s3://{bucket}/{key}")
    return written


def read_json(s3: Any, uri: str) -> Any:
    bucket, key = split_uri(uri)
    return json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
