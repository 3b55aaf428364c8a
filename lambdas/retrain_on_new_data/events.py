"""S3's native EventBridge "Object Created" event, narrowed to what the trigger relies on."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field

from lambdas.shared.events import EventBridgeEnvelope

BUCKET_NAME = r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$"


class Bucket(BaseModel):
    name: Annotated[str, Field(pattern=BUCKET_NAME)]


class CreatedObject(BaseModel):
    key: Annotated[str, Field(min_length=1, max_length=1024)]
    size: Annotated[int, Field(ge=0, strict=True)]  # bytes; S3 always sends it for Object Created
    sequencer: Annotated[str, Field(pattern=r"^[0-9A-Fa-f]{1,64}$")]  # orders the PUTs of one key
    etag: str | None = None
    version_id: str | None = Field(default=None, alias="version-id")


class ObjectCreatedDetail(BaseModel):
    bucket: Bucket
    object: CreatedObject
    reason: str | None = None  # PutObject, CopyObject, CompleteMultipartUpload


class ObjectCreated(EventBridgeEnvelope):
    source: Literal["aws.s3"]
    detail_type: Literal["Object Created"] = Field(alias="detail-type")
    detail: ObjectCreatedDetail
