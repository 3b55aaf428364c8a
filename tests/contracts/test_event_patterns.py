"""The model-package event AWS sends (documented sample, names of this platform) reaches the synthesized rules."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from moto.events.models import EventPattern

from tests.synthesis import Synthesis

EVENTS = Path(__file__).resolve().parent / "events"


def _rules(synthesis: Synthesis, stage: str) -> list[dict[str, Any]]:
    return [
        resource["Properties"]
        for stack in synthesis.stacks
        if stack.stage == stage
        for resource in stack.template["Resources"].values()
        if resource["Type"] == "AWS::Events::Rule" and "EventPattern" in resource["Properties"]
    ]


def test_an_approved_package_of_the_group_reaches_the_registry_and_promotion_rules(synthesis: Synthesis) -> None:
    event = json.loads((EVENTS / "model_package_state_change.json").read_text())
    matched = [
        rule.get("Description", "")
        for rule in _rules(synthesis, "dev")
        if EventPattern.load(json.dumps(rule["EventPattern"])).matches_event(event)
    ]
    assert any("State changes of model packages" in d for d in matched), matched
    assert len(matched) >= 2, f"the audit rule and the promotion's start rule should both match: {matched}"
    other_group = {**event, "detail": {**event["detail"], "ModelPackageGroupName": "mlops-prod-models"}}
    assert not any(
        EventPattern.load(json.dumps(rule["EventPattern"])).matches_event(other_group)
        for rule in _rules(synthesis, "dev")
    )
