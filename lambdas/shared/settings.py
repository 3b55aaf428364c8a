"""Environment variables, parsed once per cold start into a validated, frozen model.

CDK sets every variable from the environment's config (`stacks/units/retraining_triggers.py`); a missing or
wrong one stops the function at its first invocation with one message naming each variable.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

_RESOURCE_NAME = r"^[a-zA-Z0-9][a-zA-Z0-9-]{0,255}$"


class SettingsError(RuntimeError):
    """The function's environment variables are missing or invalid (a deployment error, not an event error)."""


class TriggerSettings(BaseModel):
    """What both triggers need: the pipeline they start, the state table and the cooldown."""

    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)

    environment: Annotated[str, Field(alias="PLATFORM_ENVIRONMENT", pattern=r"^[a-z][a-z0-9-]{1,40}$")]
    pipeline_name: Annotated[str, Field(alias="TRAINING_PIPELINE_NAME", pattern=_RESOURCE_NAME)]
    state_table: Annotated[str, Field(alias="STATE_TABLE_NAME", pattern=r"^[a-zA-Z0-9_.-]{3,255}$")]
    cooldown_hours: Annotated[int, Field(alias="COOLDOWN_HOURS", ge=0, le=8760)]
    # How long a delivered event is remembered: EventBridge and Lambda retry for up to 24 h.
    idempotency_hours: Annotated[int, Field(alias="IDEMPOTENCY_HOURS", ge=1, le=8760)] = 48


Settings = TypeVar("Settings", bound=TriggerSettings)


def load_settings(model: type[Settings], environ: Mapping[str, str]) -> Settings:
    try:
        return model.model_validate(dict(environ))
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in error['loc'])}: {error['msg']}" for error in exc.errors(include_url=False)
        )
        raise SettingsError(f"invalid environment variables for {model.__name__}: {problems}") from None
