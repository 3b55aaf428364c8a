"""The EventBridge envelope as a pydantic model, and a cached validator per event model.

The fields are those of Powertools' parser `EventBridgeModel`; it is declared here, on pydantic directly, because
importing `aws_lambda_powertools.utilities.parser` loads every envelope and model it ships (~40 ms with bytecode,
~130 ms without, on every cold start) for the two event shapes these functions read.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

Event = TypeVar("Event")


class EventBridgeEnvelope(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    version: str
    id: str
    source: str
    account: str
    time: datetime
    region: str
    resources: list[str]
    detail_type: str = Field(alias="detail-type")
    detail: Any
    replay_name: str | None = Field(default=None, alias="replay-name")


class EventParser(Generic[Event]):
    """Validates a raw event into `model` (a model or an annotated union of models); raises pydantic's
    ValidationError, whose `errors()` name each bad field."""

    def __init__(self, model: Any) -> None:
        self._adapter: TypeAdapter[Event] = TypeAdapter(model)

    def parse(self, event: Any) -> Event:
        return self._adapter.validate_python(event)
