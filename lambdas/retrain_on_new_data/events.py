"""S3's native EventBridge "Object Created" event, narrowed to what the trigger relies on: a JSON Schema
(compiled once, at import), frozen dataclasses and `parse_object_created`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lambdas.shared.events import EventBridgeEnvelope, envelope_schema
from lambdas.shared.validation import Problem, SchemaValidationError, compile_schema

BUCKET_NAME = r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$"
STRING_OR_NULL: dict[str, Any] = {"type": ["string", "null"]}

OBJECT_CREATED_SCHEMA = envelope_schema(
    source="aws.s3",
    detail_type="Object Created",
    detail={
        "type": "object",
        "required": ["bucket", "object"],
        "properties": {
            "bucket": {
                "type": "object",
                "required": ["name"],
                "properties": {"name": {"type": "string", "pattern": BUCKET_NAME}},
            },
            "object": {
                "type": "object",
                "required": ["key", "size", "sequencer"],
                "properties": {
                    "key": {"type": "string", "minLength": 1, "maxLength": 1024},
                    # Bytes; S3 always sends it for Object Created. `integer` takes no bool, but (Draft-06 on)
                    # takes 1.0: `parse_object_created` also requires an int.
                    "size": {"type": "integer", "minimum": 0},
                    "sequencer": {"type": "string", "pattern": r"^[0-9A-Fa-f]{1,64}$"},  # orders the PUTs of one key
                    "etag": STRING_OR_NULL,
                    "version-id": STRING_OR_NULL,
                },
            },
            "reason": STRING_OR_NULL,  # PutObject, CopyObject, CompleteMultipartUpload
        },
    },
)

_validate = compile_schema(OBJECT_CREATED_SCHEMA)


@dataclass(frozen=True, slots=True)
class CreatedObject:
    key: str
    size: int
    sequencer: str
    etag: str | None = None
    version_id: str | None = None


@dataclass(frozen=True, slots=True)
class ObjectCreatedDetail:
    bucket_name: str
    object: CreatedObject
    reason: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ObjectCreated(EventBridgeEnvelope):
    detail: ObjectCreatedDetail


def parse_object_created(event: Any) -> ObjectCreated:
    """The event as a dataclass, or SchemaValidationError naming the first invalid field."""
    _validate(event)
    detail, obj = event["detail"], event["detail"]["object"]
    if not isinstance(obj["size"], int):
        raise SchemaValidationError((Problem("detail.object.size", "type", f"must be integer, not {obj['size']!r}"),))
    return ObjectCreated(
        **EventBridgeEnvelope.fields_of(event),
        detail=ObjectCreatedDetail(
            bucket_name=detail["bucket"]["name"],
            object=CreatedObject(
                key=obj["key"],
                size=obj["size"],
                sequencer=obj["sequencer"],
                etag=obj.get("etag"),
                version_id=obj.get("version-id"),
            ),
            reason=detail.get("reason"),
        ),
    )
