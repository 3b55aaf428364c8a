"""The contract with the training pipeline: the parameters a trigger sends are declared by every committed
definition (SageMaker rejects an undeclared one), and the values fit SageMaker's limits."""

from __future__ import annotations

import json
from typing import Any

import pytest

from lambdas.retrain_on_drift.logic import TRIGGER as DRIFT
from lambdas.retrain_on_new_data.logic import TRIGGER as NEW_DATA
from lambdas.shared.adapters import TrainingPipeline
from lambdas.shared.run_request import TRIGGERS, run_parameters
from pipeline_definition import contract


class _Recorder:
    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def start_pipeline_execution(self, **call: Any) -> dict[str, str]:
        self.calls.append(call)
        return {"PipelineExecutionArn": "arn:aws:sagemaker:eu-west-1:123456789012:pipeline/p/execution/x"}


@pytest.mark.parametrize("environment", ["dev", "staging", "prod"])
def test_the_parameters_sent_are_declared_by_the_committed_training_definition(environment: str) -> None:
    definition = json.loads(contract.definition_path(environment, "training").read_text())
    declared = {p["Name"]: p for p in definition["Parameters"]}
    recorder = _Recorder()
    parameters = run_parameters(
        trigger=DRIFT, detail="x" * 1024, manifest_uri="s3://a/data-snapshots/0.manifest", code_version="c0ffee"
    )
    TrainingPipeline("p", client=recorder).start(
        parameters=parameters, description="d", display_name="drift-20261126061500", token="0" * 64
    )
    (call,) = recorder.calls
    sent = {p["Name"] for p in call["PipelineParameters"]}
    assert sent == {"Trigger", "TriggerDetail", "InputManifestUri", "CodeVersion"}
    assert len(call["ClientRequestToken"]) >= 32  # SageMaker's minimum
    assert "InputDataUri" not in declared  # a run must not fall back to reading a whole prefix
    assert sent <= set(declared)
    assert all(declared[name]["Type"] == "String" for name in sent)


def test_the_triggers_use_the_documented_trigger_values() -> None:
    assert {DRIFT, NEW_DATA} <= set(TRIGGERS) == {"manual", "new-data", "drift", "code-change", "schedule"}
