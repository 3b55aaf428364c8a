"""The raw-zone side of the PostgreSQL ingestion: one object per batch, written so that it appears whole or never.

A batch's rows stream into an S3 multipart upload: S3 shows the object only when `CompleteMultipartUpload`
succeeds, so a job that dies mid-extract leaves nothing the new-data trigger (or a data snapshot) can see; the
upload is aborted on any error (and the raw zone's lifecycle rule removes uploads abandoned by a killed job). Parts
go up on a background thread while the next part is read, and memory holds a few parts (the one filling, one
queued, one uploading) whatever the batch size. The SHA-256 of the whole object is computed on the way and
recorded in the batch's manifest.

Keys are deterministic per batch: `<raw prefix>postgres/<source>/batch-<n>.csv` and
`ingest-manifests/<source>/batch-<n>.json`, where n is the number of batches committed before it. A run that died
after writing (before the watermark moved) rewrites or adopts the same keys, so a row never lands twice.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import queue
import threading
from dataclasses import dataclass
from typing import Any

from pipeline_code.aws import call, error_code
from pipeline_code.errors import PipelineError

PART_BYTES = 8 << 20  # S3 parts: 5 MiB at least (but the last), 10,000 at most: up to 80 GiB per batch object
MANIFEST_PREFIX = "ingest-manifests"
MANIFEST_FORMAT = "mlops-postgres-ingest/1"


def batch_name(number: int) -> str:
    return f"batch-{number:08d}"


@dataclass(frozen=True)
class WrittenObject:
    bucket: str
    key: str
    size: int
    sha256: str
    etag: str

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


class MultipartObject:
    """A file-like sink whose bytes become one S3 object at `complete()`, or none at `abort()`."""

    def __init__(self, s3: Any, bucket: str, key: str, *, part_bytes: int = PART_BYTES) -> None:
        self.s3, self.bucket, self.key, self.part_bytes = s3, bucket, key, part_bytes
        created = call(s3, "CreateMultipartUpload", Bucket=bucket, Key=key, ContentType="text/csv")
        self.upload_id: str = created["UploadId"]
        self._buffer = bytearray()
        self._digest = hashlib.sha256()
        self._size = 0
        self._parts: list[dict[str, Any]] = []
        self._next_part = 1
        self._queue: queue.Queue[tuple[int, bytearray] | None] = queue.Queue(maxsize=1)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._upload_parts, name="upload-parts", daemon=True)
        self._thread.start()
        self._closed = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self._buffer += data
        if len(self._buffer) >= self.part_bytes:
            self._flush()

    def _flush(self) -> None:
        if self._error is not None:
            raise PipelineError(f"uploading s3://{self.bucket}/{self.key} failed: {self._error}")
        part, self._buffer = self._buffer, bytearray()  # handed over, not copied
        self._digest.update(part)
        self._size += len(part)
        self._queue.put((self._next_part, part))  # blocks while the uploader still holds a part: two in memory
        self._next_part += 1

    def _upload_parts(self) -> None:
        while (item := self._queue.get()) is not None:
            number, body = item
            if self._error is not None:
                continue
            try:
                response = call(
                    self.s3, "UploadPart", Bucket=self.bucket, Key=self.key, UploadId=self.upload_id,
                    PartNumber=number, Body=body,
                )  # fmt: skip
                self._parts.append({"PartNumber": number, "ETag": response["ETag"]})
            except BaseException as err:  # handed to the writer thread, which raises it
                self._error = err

    def _join(self) -> None:
        self._queue.put(None)
        self._thread.join()

    def complete(self) -> WrittenObject:
        """Upload what is left and make the object visible; returns its size, SHA-256 and ETag."""
        if self._buffer:
            self._flush()
        self._join()
        self._closed = True
        if self._error is not None:
            self._abort()
            raise PipelineError(f"uploading s3://{self.bucket}/{self.key} failed: {self._error}")
        parts = sorted(self._parts, key=lambda p: p["PartNumber"])
        done = call(
            self.s3, "CompleteMultipartUpload", Bucket=self.bucket, Key=self.key, UploadId=self.upload_id,
            MultipartUpload={"Parts": parts},
        )  # fmt: skip
        return WrittenObject(self.bucket, self.key, self._size, self._digest.hexdigest(), str(done.get("ETag", "")))

    def abort(self) -> None:
        """Drop the upload: no object appears (idempotent)."""
        if not self._closed:
            self._closed = True
            self._join()
            self._abort()

    def _abort(self) -> None:
        with contextlib.suppress(Exception):  # else the raw zone's lifecycle rule removes the abandoned upload
            self.s3.abort_multipart_upload(Bucket=self.bucket, Key=self.key, UploadId=self.upload_id)


class RawZone:
    """Where one source's batches and manifests go in the raw zone."""

    def __init__(self, s3: Any, bucket: str, raw_prefix: str, source_name: str, *, part_bytes: int = PART_BYTES):
        if not raw_prefix.endswith("/"):
            raise PipelineError(f"raw prefix {raw_prefix!r} must end with '/'")
        self.s3, self.bucket, self.part_bytes = s3, bucket, part_bytes
        self.data_prefix = f"{raw_prefix}postgres/{source_name}/"
        self.manifest_prefix = f"{MANIFEST_PREFIX}/{source_name}/"

    def data_key(self, number: int) -> str:
        return f"{self.data_prefix}{batch_name(number)}.csv"

    def manifest_key(self, number: int) -> str:
        return f"{self.manifest_prefix}{batch_name(number)}.json"

    def open_batch(self, number: int) -> MultipartObject:
        return MultipartObject(self.s3, self.bucket, self.data_key(number), part_bytes=self.part_bytes)

    def read_manifest(self, number: int) -> dict[str, Any] | None:
        """A batch's manifest, or None if that batch was never completed."""
        try:
            body = self.s3.get_object(Bucket=self.bucket, Key=self.manifest_key(number))["Body"].read()
        except Exception as err:
            if error_code(err) in ("NoSuchKey", "404"):
                return None
            raise PipelineError(f"GetObject s3://{self.bucket}/{self.manifest_key(number)} failed: {err}") from err
        document: dict[str, Any] = json.loads(body)
        return document

    def object_size(self, key: str) -> int | None:
        try:
            return int(self.s3.head_object(Bucket=self.bucket, Key=key)["ContentLength"])
        except Exception as err:
            if error_code(err) in ("NoSuchKey", "404", "NotFound"):
                return None
            raise PipelineError(f"HeadObject s3://{self.bucket}/{key} failed: {err}") from err

    def write_manifest(self, number: int, document: dict[str, Any]) -> str:
        """One PutObject: a manifest is whole or absent."""
        key = self.manifest_key(number)
        body = (json.dumps(document, indent=1, sort_keys=True) + "\n").encode()
        call(self.s3, "PutObject", Bucket=self.bucket, Key=key, Body=body, ContentType="application/json")
        return f"s3://{self.bucket}/{key}"
