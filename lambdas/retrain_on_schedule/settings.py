"""The scheduled trigger's environment variables (set by CDK from config)."""

from __future__ import annotations

from dataclasses import dataclass, field

from lambdas.shared.settings import TriggerSettings, env


@dataclass(frozen=True, slots=True, kw_only=True)
class ScheduleSettings(TriggerSettings):
    # <project>-<env>-retraining: the one schedule whose invocations this function accepts
    schedule_name: str = field(
        metadata=env("RETRAINING_SCHEDULE_NAME", {"type": "string", "pattern": r"^[0-9a-zA-Z_.-]{1,64}$"})
    )
