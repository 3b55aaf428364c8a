"""The EventBridge envelope: its JSON Schema, built around each event's own `detail`, and its frozen dataclass.

The fields and rules are those of Powertools' parser `EventBridgeModel` (every field required but `replay-name`,
`time` a timestamp, unknown keys allowed), written as JSON Schema for fastjsonschema instead of pydantic: pydantic
costs ~150 ms of every cold start (import and first model), the schemas ~10 ms (see `lambdas.shared.validation`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from lambdas.shared.validation import moment

STRING: dict[str, Any] = {"type": "string"}
TIMESTAMP: dict[str, Any] = {"type": "string", "format": "date-time"}
NON_EMPTY: dict[str, Any] = {"type": "string", "minLength": 1, "maxLength": 1024}
ENVELOPE_FIELDS = ("version", "id", "source", "account", "time", "region", "resources", "detail-type", "detail")


def envelope_schema(
    *, source: str, detail_type: str, detail: Mapping[str, Any], resources: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The schema of one event shape (Draft-07): the envelope with its `source` and `detail-type` fixed."""
    return {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "type": "object",
        "required": list(ENVELOPE_FIELDS),
        "properties": {
            "detail-type": {"const": detail_type},
            "source": {"const": source},
            "version": STRING,
            "id": STRING,
            "account": STRING,
            "time": TIMESTAMP,
            "region": STRING,
            "resources": dict(resources) if resources is not None else {"type": "array", "items": STRING},
            "replay-name": {"type": ["string", "null"]},
            "detail": dict(detail),
        },
    }


@dataclass(frozen=True, slots=True, kw_only=True)
class EventBridgeEnvelope:
    """What every EventBridge event carries; each event's dataclass adds its typed `detail`."""

    version: str
    id: str
    source: str
    account: str
    time: datetime
    region: str
    resources: tuple[str, ...]
    detail_type: str
    replay_name: str | None = None

    @staticmethod
    def fields_of(event: Mapping[str, Any]) -> dict[str, Any]:
        """The envelope's fields of an event its schema accepted, as keyword arguments of a subclass."""
        return {
            "version": event["version"],
            "id": event["id"],
            "source": event["source"],
            "account": event["account"],
            "time": moment(event["time"], "time"),
            "region": event["region"],
            "resources": tuple(event["resources"]),
            "detail_type": event["detail-type"],
            "replay_name": event.get("replay-name"),
        }
