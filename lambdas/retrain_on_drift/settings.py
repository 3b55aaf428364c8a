"""The drift trigger's environment variables (set by CDK from config)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from lambdas.shared.settings import TriggerSettings


class DriftSettings(TriggerSettings):
    alarm_prefix: Annotated[str, Field(alias="DRIFT_ALARM_PREFIX", min_length=3)]  # <project>-<env>-drift-
    reports_uri: Annotated[str, Field(alias="MONITORING_REPORTS_URI", pattern=r"^s3://\S+/$")]
