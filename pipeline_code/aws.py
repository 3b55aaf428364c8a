"""The small boto3 adapter the monitoring, batch and publishing steps share.

Every client takes ``endpoint_url`` and ``region`` (a VPC endpoint, or a local emulator in the tests) and uses
botocore's standard retry mode, so throttling and server errors are retried; ``AWS_MAX_ATTEMPTS`` sets the
attempts (default 3). Every call goes through ``call``, which turns an AWS error into a ``PipelineError`` that
names the API, so a failed step says which request failed and why.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from pipeline_code.errors import PipelineError


def make_client(service: str, endpoint_url: str | None = None, region: str | None = None) -> Any:
    """A boto3 client with standard retries (attempts from ``AWS_MAX_ATTEMPTS``)."""
    import boto3
    from botocore.config import Config

    config = Config(retries={"mode": "standard"}, connect_timeout=10, read_timeout=60)
    return boto3.client(service, endpoint_url=endpoint_url, region_name=region, config=config)


def error_code(err: Exception) -> str:
    """The AWS error code of a ``ClientError`` (empty for other errors)."""
    response = getattr(err, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


def call(client: Any, api: str, **kwargs: Any) -> Any:
    """``client.<api>(**kwargs)``; any AWS or connection error becomes a ``PipelineError`` naming the API."""
    from botocore.exceptions import BotoCoreError, ClientError

    method = getattr(client, _snake(api))
    try:
        return method(**kwargs)
    except (ClientError, BotoCoreError) as err:
        raise PipelineError(f"{api} failed: {err}") from err


def _snake(api: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() and i else c.lower() for i, c in enumerate(api))


def split_s3_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/key`` as (bucket, key); anything else is an error naming the value."""
    parsed = urlparse(uri)
    if parsed.scheme != "s3" or not parsed.netloc:
        raise PipelineError(f"not an S3 URI: '{uri}' (expected s3://bucket/key)")
    return parsed.netloc, parsed.path.lstrip("/")


def list_objects(s3: Any, bucket: str, prefix: str) -> Iterator[dict[str, Any]]:
    """Every object under ``prefix`` (ListObjectsV2, all pages), in key order."""
    token: str | None = None
    while True:
        page = call(
            s3, "ListObjectsV2", Bucket=bucket, Prefix=prefix, **({"ContinuationToken": token} if token else {})
        )
        yield from page.get("Contents", [])
        if not page.get("IsTruncated"):
            return
        token = page["NextContinuationToken"]


def read_object(s3: Any, bucket: str, key: str) -> bytes:
    """The bytes of one object."""
    body: bytes = call(s3, "GetObject", Bucket=bucket, Key=key)["Body"].read()
    return body


def download(s3: Any, uri: str, path: Path) -> Path:
    """Copy ``uri`` to ``path`` (parents created); a missing object is an error naming the URI."""
    bucket, key = split_s3_uri(uri)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        path.write_bytes(read_object(s3, bucket, key))
    except PipelineError as err:
        raise PipelineError(f"cannot download {uri}: {err}") from err
    return path
