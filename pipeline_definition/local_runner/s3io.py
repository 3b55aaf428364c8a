"""Moving job data between (moto) S3 and a job's folder, as SageMaker's File mode does."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from pipeline_definition.local_runner.errors import StepFailed


def split_uri(uri: str) -> tuple[str, str]:
    parsed = urlparse(uri)
    if parsed.scheme != "s3" or not parsed.netloc:
        raise StepFailed(f"not an S3 URI: '{uri}'")
    return parsed.netloc, parsed.path.lstrip("/")


def _keys(s3: Any, bucket: str, prefix: str) -> list[str]:
    keys: list[str] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys += [item["Key"] for item in page.get("Contents", []) if not item["Key"].endswith("/")]
    return keys


def download(s3: Any, uri: str, data_type: str, local: Path, what: str) -> list[str]:
    """Fetch an `S3Prefix` or `ManifestFile` input into `local`; returns the S3 URIs it fetched.

    S3Prefix: every object whose key starts with the prefix, at its key relative to the prefix (an object named
    exactly keeps its file name). ManifestFile: `[{"prefix": "s3://b/p/"}, "rel/key", ...]`, each at its relative
    key. Nothing to fetch is an error, as it is for a SageMaker job.
    """
    local.mkdir(parents=True, exist_ok=True)
    if data_type == "S3Prefix":
        bucket, prefix = split_uri(uri)
        keys = _keys(s3, bucket, prefix)
        if not keys:
            raise StepFailed(f"{what}: no S3 objects under {uri}")
        pairs = [(bucket, key, key[len(prefix) :].lstrip("/") or key.rsplit("/", 1)[-1]) for key in keys]
    elif data_type == "ManifestFile":
        pairs = _manifest(s3, uri, what)
    else:
        raise StepFailed(f"{what}: S3DataType '{data_type}' is not supported locally (S3Prefix, ManifestFile)")
    for bucket, key, relative in pairs:
        target = local / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            s3.download_file(bucket, key, str(target))
        except Exception as err:  # botocore raises ClientError for a missing object, named below
            raise StepFailed(f"{what}: cannot download s3://{bucket}/{key}: {err}") from err
    return [f"s3://{bucket}/{key}" for bucket, key, _ in pairs]


def _manifest(s3: Any, uri: str, what: str) -> list[tuple[str, str, str]]:
    bucket, key = split_uri(uri)
    try:
        document = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    except Exception as err:
        raise StepFailed(f"{what}: cannot read the manifest {uri}: {err}") from err
    if not (isinstance(document, list) and document and isinstance(document[0], dict) and "prefix" in document[0]):
        raise StepFailed(f"{what}: {uri} is not a manifest: expected [{{\"prefix\": \"s3://...\"}}, \"key\", ...]")
    base_bucket, base_prefix = split_uri(str(document[0]["prefix"]))
    entries = document[1:]
    if not entries or not all(isinstance(entry, str) and entry for entry in entries):
        raise StepFailed(f"{what}: manifest {uri} must list at least one relative key (strings) after its prefix")
    return [(base_bucket, base_prefix + entry, entry) for entry in entries]


def upload(s3: Any, folder: Path, uri: str) -> list[str]:
    """Every file under `folder` to `uri`/<relative path>; returns the URIs written."""
    bucket, prefix = split_uri(uri)
    prefix = prefix.rstrip("/")
    written = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        key = f"{prefix}/{path.relative_to(folder).as_posix()}" if prefix else path.relative_to(folder).as_posix()
        s3.upload_file(str(path), bucket, key)
        written.append(f"s3://{bucket}/{key}")
    return written


def read_json(s3: Any, uri: str) -> Any:
    bucket, key = split_uri(uri)
    return json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
