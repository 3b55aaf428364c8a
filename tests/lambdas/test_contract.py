"""The contract with the training pipeline: the parameters a trigger sends are declared by every committed
definition (SageMaker rejects an undeclared one), and the values fit SageMaker's limits."""

from __future__ import annotations

import json
from typing import Any

import pytest

from lambdas.retrain_on_drift.logic import TRIGGER as DRIFT
from lambdas.retrain_on_new_data.logic import TRIGGER as NEW_DATA
from lambdas.shared.adapters import TrainingPipeline
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
    TrainingPipeline("p", client=recorder).start(
        trigger=DRIFT, detail="x" * 1024, display_name="drift-20261126061500", token="0" * 64
    )
    (call,) = recorder.calls
    sent = {p["Name"] for p in call["PipelineParameters"]}
    assert sent <= set(declared)
    assert sent == {"Trigger", "TriggerDetail"}
    assert all(declared[name]["Type"] == "String" for name in sent)
    assert len(call["ClientRequestToken"]) >= 32  # SageMaker's minimum
    # The values the triggers use are the documented ones of the Trigger parameter.
    assert {DRIFT, NEW_DATA} <= {"manual", "new-data", "drift", "code-change"}
