"""The drift trigger's environment variables (set by CDK from config)."""

from __future__ import annotations

from dataclasses import dataclass, field

from lambdas.shared.settings import TriggerSettings, env


@dataclass(frozen=True, slots=True, kw_only=True)
class DriftSettings(TriggerSettings):
    # <project>-<env>-drift-
    alarm_prefix: str = field(metadata=env("DRIFT_ALARM_PREFIX", {"type": "string", "minLength": 3}))
    reports_uri: str = field(metadata=env("MONITORING_REPORTS_URI", {"type": "string", "pattern": r"^s3://\S+/$"}))
