"""The events AWS (and the drift check) really send, as fixtures, reach the synthesized rules and their consumers.

Fixtures start from AWS's documented samples (SageMaker model package state change, CloudWatch "Alarm State
Change" for a single-metric alarm, S3 "Object Created") with the names this platform creates: the alarm's name,
metric, dimensions and description are those of a synthesized alarm; the violations report is what
`pipeline_code.drift.violations_event` puts, with the report URI the monitoring definition passes it. Each is
matched with moto's EventBridge pattern matcher and parsed by the handler that consumes it.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from moto.events.models import EventPattern

from lambdas.retrain_on_drift.events import AlarmStateChange, ViolationsReport, parse_drift_event
from lambdas.retrain_on_new_data.events import parse_object_created
from pipeline_code import drift
from pipeline_definition.contract import definition_path
from tests.contracts.iam_policy import Resolver
from tests.contracts.pipeline_requests import Run, deployed_names, simulate
from tests.synthesis import Synthesis

EVENTS = Path(__file__).resolve().parent / "events"
HANDLER_EVENTS = Path(__file__).resolve().parents[1] / "lambdas" / "events"
ACCOUNT, REGION = "123456789012", "eu-west-1"  # the fixtures' account; dev's region


def _load(folder: Path, name: str) -> dict[str, Any]:
    return json.loads((folder / f"{name}.json").read_text())


def _resources(synthesis: Synthesis, stage: str, kind: str) -> list[dict[str, Any]]:
    """Properties of every resource of `kind` in the stage, intrinsics resolved in the fixtures' account."""
    stacks = [s for s in synthesis.stacks if s.stage == stage]
    resolver = Resolver(stacks, ACCOUNT, REGION)
    return [
        resolver.resolve(resource["Properties"], stack)
        for stack in stacks
        for resource in stack.template["Resources"].values()
        if resource["Type"] == kind
    ]


def _matching(synthesis: Synthesis, event: dict[str, Any]) -> list[str]:
    return [
        rule.get("Description", "")
        for rule in _resources(synthesis, "dev", "AWS::Events::Rule")
        if "EventPattern" in rule and EventPattern.load(json.dumps(rule["EventPattern"])).matches_event(event)
    ]


def test_an_approved_package_of_the_group_reaches_the_registry_and_promotion_rules(synthesis: Synthesis) -> None:
    event = _load(EVENTS, "model_package_state_change")
    matched = _matching(synthesis, event)
    assert any("State changes of model packages" in d for d in matched), matched
    assert len(matched) >= 2, f"the audit rule and the promotion's start rule should both match: {matched}"
    other_group = {**event, "detail": {**event["detail"], "ModelPackageGroupName": "mlops-prod-models"}}
    assert _matching(synthesis, other_group) == []


@pytest.mark.parametrize("fixture", ["alarm_state_change", "drift_violations_report", "object_created"])
def test_each_trigger_fixture_reaches_exactly_one_retraining_rule(synthesis: Synthesis, fixture: str) -> None:
    assert len(_matching(synthesis, _load(HANDLER_EVENTS, fixture))) == 1


def test_the_alarm_fixture_names_a_synthesized_drift_alarm_and_parses(synthesis: Synthesis) -> None:
    event = _load(HANDLER_EVENTS, "alarm_state_change")
    alarms = {a["AlarmName"]: a for a in _resources(synthesis, "dev", "AWS::CloudWatch::Alarm")}
    detail = event["detail"]
    alarm = alarms[detail["alarmName"]]
    (metric,) = detail["configuration"]["metrics"]
    stat = metric["metricStat"]
    assert detail["configuration"]["description"] == alarm["AlarmDescription"]
    assert (stat["metric"]["name"], stat["metric"]["namespace"]) == (alarm["MetricName"], alarm["Namespace"])
    assert stat["metric"]["dimensions"] == {d["Name"]: d["Value"] for d in alarm["Dimensions"]}
    assert (stat["period"], stat["stat"]) == (alarm["Period"], alarm["Statistic"])
    assert event["resources"] == [f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{alarm['AlarmName']}"]
    assert f"threshold ({alarm['Threshold']:.1f})" in detail["state"]["reason"]
    parsed = parse_drift_event(event)
    assert isinstance(parsed, AlarmStateChange)
    assert parsed.detail.alarm_name == alarm["AlarmName"]
    # An alarm the platform does not create under that prefix would not reach the rule.
    renamed = {**event, "detail": {**detail, "alarmName": "mlops-dev-retraining-dead-letters"}}
    assert _matching(synthesis, renamed) == []


def test_the_violations_fixture_is_what_the_drift_check_puts_for_a_monitoring_run() -> None:
    event = _load(HANDLER_EVENTS, "drift_violations_report")
    detail = event["detail"]
    execution_id = re.search(r"/monitoring/reports/(\w{12})/", detail["reportUri"])
    assert execution_id, detail["reportUri"]
    run = Run(
        ACCOUNT,
        REGION,
        "mlops-dev-monitoring",
        execution_id[1],
        deployed_names("mlops", "dev", ACCOUNT, REGION),
        {},
        {"MonitoringInputs": {"rows": 2400}},
    )
    (check,) = [
        r
        for r in simulate(json.loads(definition_path("dev", "monitoring").read_text()), run).requests
        if r.step == "CheckDrift"
    ]
    arguments = check.params["AppSpecification"]["ContainerArguments"]
    option = lambda name: arguments[arguments.index(name) + 1]  # noqa: E731
    entry = drift.violations_event(option("--environment"), option("--report-uri"), detail["violations"])
    assert (event["source"], event["detail-type"]) == (entry["Source"], entry["DetailType"])
    assert detail == json.loads(entry["Detail"])
    assert event["resources"] == []  # PutEvents with no Resources
    parsed = parse_drift_event(event)
    assert isinstance(parsed, ViolationsReport)
    assert parsed.detail.report_uri == detail["reportUri"]


def test_the_object_created_fixture_names_the_raw_zone_and_parses() -> None:
    event = _load(HANDLER_EVENTS, "object_created")
    parsed = parse_object_created(event)
    assert parsed.detail.bucket_name == f"mlops-dev-raw-{ACCOUNT}-{REGION}"
