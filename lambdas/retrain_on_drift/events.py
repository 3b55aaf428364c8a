"""The two events that mean "the live model drifted", as pydantic models (Powertools parser style).

- `CloudWatch Alarm State Change` (source `aws.cloudwatch`) of a `<project>-<env>-drift-*` alarm going to ALARM.
- `Drift Violations Report` (source `mlops.monitoring`), put by the monitoring pipeline: the report's S3 URI and
  the violations it lists (the items of `violations.json` written by `pipeline_code.drift`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from lambdas.shared.events import EventBridgeEnvelope

ALARM_ARN = r"^arn:aws[a-z-]*:cloudwatch:[a-z0-9-]+:\d{12}:alarm:.+$"
S3_URI = r"^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]/\S+$"
NonEmpty = Annotated[str, Field(min_length=1, max_length=1024)]


class AlarmState(BaseModel):
    value: Literal["ALARM"]  # the rule matches only transitions into ALARM; anything else is misrouted
    timestamp: datetime  # when the alarm entered this state: with the alarm ARN, the episode's identity
    reason: str = ""


class PreviousAlarmState(BaseModel):
    value: str
    timestamp: datetime | None = None


class AlarmDetail(BaseModel):
    alarmName: NonEmpty  # noqa: N815 (the event's own field names)
    state: AlarmState
    previousState: PreviousAlarmState | None = None  # noqa: N815


class AlarmStateChange(EventBridgeEnvelope):
    source: Literal["aws.cloudwatch"]
    detail_type: Literal["CloudWatch Alarm State Change"] = Field(alias="detail-type")
    resources: Annotated[list[Annotated[str, Field(pattern=ALARM_ARN)]], Field(min_length=1)]
    detail: AlarmDetail


class Violation(BaseModel):
    """One item of `violations.json`: a check over its threshold (extra keys such as `method` are kept)."""

    model_config = ConfigDict(extra="allow")

    check: NonEmpty
    value: float | None  # None where a statistic could not be computed (e.g. the AUC of a one-class window)
    threshold: float | None
    feature: str | None = None


class ViolationsDetail(BaseModel):
    environment: NonEmpty  # <project>-<env>; the rule matches only this environment's reports
    reportUri: Annotated[str, Field(pattern=S3_URI, max_length=1024)]  # noqa: N815
    violations: Annotated[list[Violation], Field(min_length=1)]


class ViolationsReport(EventBridgeEnvelope):
    source: Literal["mlops.monitoring"]
    detail_type: Literal["Drift Violations Report"] = Field(alias="detail-type")
    detail: ViolationsDetail


DriftEvent = Annotated[AlarmStateChange | ViolationsReport, Field(discriminator="detail_type")]
