"""The API requests SageMaker Pipelines makes for the steps of a generated definition, on one simulated run.

Pipelines evaluates each step's `Arguments` (parameters, `Execution.*` variables, earlier steps' properties,
`Std:Join`, `Std:JsonGet` over property files) and sends the result, plus a job name it generates, as the request
of the step type's Create* operation. `run_requests` does the same with realistic values: deploy-time placeholders
become the names CDK gives them, property files hold what `pipeline_code` writes.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pipeline_definition.contract import PLACEHOLDERS

# (service, operation, the member the generated job name goes in) per step type.
OPERATIONS = {
    "Processing": ("CreateProcessingJob", "ProcessingJobName"),
    "Training": ("CreateTrainingJob", "TrainingJobName"),
    "Tuning": ("CreateHyperParameterTuningJob", "HyperParameterTuningJobName"),
    "Transform": ("CreateTransformJob", "TransformJobName"),
    "Model": ("CreateModel", "ModelName"),
    "RegisterModel": ("CreateModelPackage", None),  # a package gets a version, not a name
}
_STEP_OUTPUT = re.compile(
    r"Steps\.(?P<step>\w+)\.ProcessingOutputConfig\.Outputs\['(?P<output>\w+)'\]\.S3Output\.S3Uri"
)
_PROPERTY_FILE = re.compile(r"Steps\.(?P<step>\w+)\.PropertyFiles\.(?P<file>\w+)")


@dataclass(frozen=True)
class Run:
    """One simulated execution: who runs it, with which parameter values and property-file contents."""

    account: str
    region: str
    pipeline_name: str
    execution_id: str  # 12 lowercase letters and digits, as Pipelines assigns
    deployed: Mapping[str, str]  # placeholder -> the value CDK deploys
    parameters: Mapping[str, str]  # overrides of the defaults, as StartPipelineExecution passes them (strings)
    property_files: Mapping[str, Any]  # property file name -> its JSON content

    @property
    def execution_arn(self) -> str:
        return (
            f"arn:aws:sagemaker:{self.region}:{self.account}:pipeline/{self.pipeline_name}"
            f"/execution/{self.execution_id}"
        )


@dataclass(frozen=True)
class StepRequest:
    step: str
    step_type: str
    operation: str
    params: dict[str, Any]


def job_name(run: Run, step_type: str, step: str) -> str:
    """The name Pipelines gives a step's job: `pipelines-<execution id>-<step>-<10 characters>`.

    Tuning job names may hold only 32 characters, which `pipelines-` + the id already nearly fills; Pipelines
    names them `<execution id>-<start of the step name>-<10 characters>` within that cap, with no fixed prefix.
    """
    suffix = "a1B2c3D4e5"
    if step_type == "Tuning":
        return f"{run.execution_id}-{step[: 32 - len(run.execution_id) - 12]}-{suffix}"
    return f"pipelines-{run.execution_id}-{step}-{suffix}"[:63]


def _typed(declared: str, value: Any) -> Any:
    if declared == "Integer":
        return int(value)
    if declared == "Float":
        return float(value)
    if declared == "Boolean":
        return value in (True, "true", "True")
    return str(value)


def _text(value: Any) -> str:
    """How Std:Join renders a value: numbers as JSON does."""
    return value if isinstance(value, str) else json.dumps(value)


class _Evaluator:
    def __init__(self, definition: Mapping[str, Any], run: Run) -> None:
        self.run = run
        # CDK replaces placeholders in the whole body, parameter defaults included.
        self.parameters = {
            p["Name"]: _typed(p["Type"], run.parameters.get(p["Name"], self.value(p.get("DefaultValue"))))
            for p in definition["Parameters"]
        }
        self.requests: dict[str, StepRequest] = {}

    def value(self, node: Any) -> Any:
        if isinstance(node, str):
            for placeholder, deployed in self.run.deployed.items():
                node = node.replace(placeholder, deployed)
            return node
        if isinstance(node, list):
            return [self.value(item) for item in node]
        if not isinstance(node, dict):
            return node
        if set(node) == {"Get"}:
            return self.get(node["Get"])
        if set(node) == {"Std:Join"}:
            join = node["Std:Join"]
            return join["On"].join(_text(self.value(v)) for v in join["Values"])
        if set(node) == {"Std:JsonGet"}:
            found = _PROPERTY_FILE.fullmatch(node["Std:JsonGet"]["PropertyFile"]["Get"])
            assert found, node
            content: Any = self.run.property_files[found["file"]]
            for key in node["Std:JsonGet"]["Path"].split("."):
                content = content[key]
            return content
        return {key: self.value(item) for key, item in node.items()}

    def get(self, reference: str) -> Any:
        if reference.startswith("Parameters."):
            return self.parameters[reference.removeprefix("Parameters.")]
        execution = {
            "Execution.PipelineExecutionId": self.run.execution_id,
            "Execution.PipelineExecutionArn": self.run.execution_arn,
            "Execution.PipelineName": self.run.pipeline_name,
            "Execution.StartDateTime": "2026-12-02T10:15:00.000Z",
        }
        if reference in execution:
            return execution[reference]
        if found := _STEP_OUTPUT.fullmatch(reference):
            outputs = self.requests[found["step"]].params["ProcessingOutputConfig"]["Outputs"]
            return next(o["S3Output"]["S3Uri"] for o in outputs if o["OutputName"] == found["output"])
        if reference.endswith(".ModelArtifacts.S3ModelArtifacts"):
            request = self.requests[reference.split(".")[1]]
            name = request.params["TrainingJobName"]
            return f"{request.params['OutputDataConfig']['S3OutputPath']}/{name}/output/model.tar.gz"
        if reference.endswith(".TrainingJobSummaries[0].TrainingJobName"):
            # The tuning job's training jobs are named <tuning job>-<3 digits>-<8 hex characters>.
            tuning = self.requests[reference.split(".")[1]].params["HyperParameterTuningJobName"]
            return f"{tuning}-007-5f3a9c1e"
        raise KeyError(f"no realistic value for {reference!r}")


_REFERENCE = re.compile(r"Steps\.(\w+)")
_COMPARISONS = {
    "Equals": lambda a, b: a == b,
    "GreaterThan": lambda a, b: a > b,
    "GreaterThanOrEqualTo": lambda a, b: a >= b,
    "LessThan": lambda a, b: a < b,
    "LessThanOrEqualTo": lambda a, b: a <= b,
}


def _holds(evaluator: _Evaluator, condition: Mapping[str, Any]) -> bool:
    """One condition of a Condition step, as Pipelines evaluates it (ConditionStep's JSON in the SDK)."""
    kind = condition["Type"]
    if kind in _COMPARISONS:
        left, right = evaluator.value(condition["LeftValue"]), evaluator.value(condition["RightValue"])
        return bool(_COMPARISONS[kind](left, right))
    if kind == "In":
        return evaluator.value(condition["QueryValue"]) in [evaluator.value(v) for v in condition["Values"]]
    if kind == "Not":
        return not _holds(evaluator, condition["Expression"])
    if kind == "Or":
        return any(_holds(evaluator, c) for c in condition["Conditions"])
    raise ValueError(f"condition type {kind!r} is not simulated")


@dataclass
class Execution:
    """What one run did: the steps it reached (Condition and Fail steps included) in order, the requests of
    the job-starting ones, and the Fail step that ended it (None when it ran to the end)."""

    reached: list[str]
    requests: list[StepRequest]
    failed_at: str | None


def _dependencies(step: Mapping[str, Any]) -> set[str]:
    """The steps this one waits for: DependsOn and every step whose properties its arguments read."""
    found = set(step.get("DependsOn") or [])
    if step["Type"] != "Condition":  # a Condition's branches are its own, not its inputs
        found |= set(_REFERENCE.findall(json.dumps(step.get("Arguments", {}))))
    else:
        found |= set(_REFERENCE.findall(json.dumps(step["Arguments"]["Conditions"])))
    return found


def simulate(definition: Mapping[str, Any], run: Run) -> Execution:
    """One execution with `run`'s parameters, in definition order (the builder writes a step after its inputs).

    A step runs once every step it depends on has run; a Condition step runs the branch its conditions select
    (all must hold for the If branch): the other branch's steps, and whatever depends on them, never run. A
    Fail step ends the execution, so nothing after it starts.
    """
    evaluator = _Evaluator(definition, run)
    pending = list(definition["Steps"])
    reached: list[str] = []
    while pending:
        step = pending.pop(0)
        if _dependencies(step) - set(reached):
            continue  # waits on a step of a branch not taken: never runs
        reached.append(step["Name"])
        if step["Type"] == "Fail":
            return Execution(reached, list(evaluator.requests.values()), step["Name"])
        if step["Type"] == "Condition":
            arguments = step["Arguments"]
            taken = all(_holds(evaluator, c) for c in arguments["Conditions"])
            pending[:0] = arguments["IfSteps" if taken else "ElseSteps"]
            continue
        if step["Type"] not in OPERATIONS:
            raise ValueError(f"step {step['Name']!r}: type {step['Type']!r} is not simulated")
        operation, name_member = OPERATIONS[step["Type"]]
        params = evaluator.value(step["Arguments"])
        if name_member:
            params = {name_member: job_name(run, step["Type"], step["Name"]), **params}
        evaluator.requests[step["Name"]] = StepRequest(step["Name"], step["Type"], operation, params)
    return Execution(reached, list(evaluator.requests.values()), None)


def run_requests(definition: Mapping[str, Any], run: Run) -> list[StepRequest]:
    """The Create* request of every job-starting step the run reaches, in order (a step's inputs resolve first)."""
    return simulate(definition, run).requests


def deployed_names(project: str, env: str, account: str, region: str) -> dict[str, str]:
    """What CDK puts in place of each placeholder, shaped as CloudFormation names these resources."""
    prefix = f"{project}-{env}"
    return {
        PLACEHOLDERS.role_arn: f"arn:aws:iam::{account}:role/{prefix}-ml-pipeline-TrainingPipelineExecutionRo-Ab12Cd34",
        PLACEHOLDERS.kms_key_arn: f"arn:aws:kms:{region}:{account}:key/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0",
        PLACEHOLDERS.raw_bucket: f"{prefix}-raw-{account}-{region}",
        PLACEHOLDERS.curated_bucket: f"{prefix}-curated-{account}-{region}",
        PLACEHOLDERS.artifacts_bucket: f"{prefix}-artifacts-{account}-{region}",
        PLACEHOLDERS.feature_group: f"{prefix}-adult",
        PLACEHOLDERS.model_package_group: f"{prefix}-models",
        PLACEHOLDERS.mlflow_tracking_server_arn: f"arn:aws:sagemaker:{region}:{account}:mlflow-tracking-server/"
        f"{prefix}-mlflow",
    }
