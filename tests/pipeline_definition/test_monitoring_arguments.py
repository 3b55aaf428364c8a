"""The monitoring step accepts what its committed definitions pass: every monitoring definition's ContainerArguments
of GatherMonitoringInputs, parameter defaults substituted (and every value of the `Source` enum), go through
`monitoring_inputs`' own argument parsing and validation. A definition that passes what the step refuses fails
here, before a scheduled run would fail in SageMaker."""

from __future__ import annotations

import json
from typing import Any

import pytest

from pipeline_code import monitoring_inputs
from pipeline_definition import contract
from pipeline_definition.references import all_steps

MONITORED = [path.name for path in sorted(contract.GENERATED_DIR.glob("*-monitoring.json"))]
STEP = "GatherMonitoringInputs"
START = "2026-11-26T06:00:00.000Z"  # what Execution.StartDateTime resolves to


def _arguments(definition: dict[str, Any], values: dict[str, Any]) -> list[str]:
    """The step's ContainerArguments as the container would receive them for a run with `values`."""

    def resolve(node: Any) -> str:
        if isinstance(node, (str, int, float)):
            return str(node)
        if set(node) == {"Std:Join"}:
            return str(node["Std:Join"]["On"]).join(resolve(v) for v in node["Std:Join"]["Values"])
        if set(node) == {"Get"}:
            kind, _, name = node["Get"].partition(".")
            if kind == "Parameters":
                return resolve(values[name])
            if node["Get"] == "Execution.StartDateTime":
                return START
        raise AssertionError(f"{STEP} passes {node!r}: teach this test what it resolves to")

    (step,) = [s for s in all_steps(definition) if s["Name"] == STEP]
    return [resolve(node) for node in step["Arguments"]["AppSpecification"]["ContainerArguments"]]


def _runs(definition: dict[str, Any]) -> list[dict[str, Any]]:
    """The defaults, then the defaults with each other value of every enum parameter (Source)."""
    defaults = {p["Name"]: p.get("DefaultValue") for p in definition["Parameters"]}
    runs = [defaults]
    for parameter in definition["Parameters"]:
        for value in parameter.get("EnumValues", []):
            if value != parameter.get("DefaultValue"):
                runs.append(defaults | {parameter["Name"]: value})
    return runs


def test_every_environment_has_a_committed_monitoring_definition() -> None:
    assert MONITORED == ["dev-monitoring.json", "prod-monitoring.json", "staging-monitoring.json"]


@pytest.mark.parametrize("name", MONITORED)
def test_the_monitoring_step_accepts_its_definitions_arguments(name: str) -> None:
    definition = json.loads((contract.GENERATED_DIR / name).read_text())
    runs = _runs(definition)
    assert {run["Source"] for run in runs} == {"capture", "batch"}
    for values in runs:
        args = monitoring_inputs.parse_args(_arguments(definition, values))
        plan = monitoring_inputs.plan_of(args)  # raises PipelineError on what the step would refuse
        assert plan.source == values["Source"]
        if plan.source == "capture":
            assert (plan.source_uri, plan.ground_truth_uri) == (values["CaptureUri"], values["GroundTruthUri"])
        else:
            assert (plan.source_uri, plan.ground_truth_uri) == (values["BatchPredictionsUri"], None)
            assert "not used" in plan.note
        assert plan.feedback_uri == f"s3://{contract.PLACEHOLDERS.raw_bucket}/{contract.FEEDBACK_PREFIX}"
        assert args.window_hours == values["WindowHours"]
