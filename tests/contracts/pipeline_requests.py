"""The API requests SageMaker Pipelines makes for the steps of a generated definition, on one simulated run.

Pipelines evaluates each step's `Arguments` (parameters, `Execution.*` variables, earlier steps' properties,
`Std:Join`, `Std:JsonGet` over property files) and sends the result, plus a job name it generates, as the request
of the step type's Create* operation. `run_requests` does the same with realistic values: deploy-time placeholders
become the names CDK gives them, property files hold what `pipeline_code` writes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pipeline_definition.contract import PLACEHOLDERS
from pipeline_definition.local_runner.expressions import Context, walk
from pipeline_definition.local_runner.runner import render_definition, resolve_parameters
from pipeline_definition.local_runner.steps import evaluate, references

# (service, operation, the member the generated job name goes in) per step type.
OPERATIONS = {
    "Processing": ("CreateProcessingJob", "ProcessingJobName"),
    "Training": ("CreateTrainingJob", "TrainingJobName"),
    "Tuning": ("CreateHyperParameterTuningJob", "HyperParameterTuningJobName"),
    "Transform": ("CreateTransformJob", "TransformJobName"),
    "Model": ("CreateModel", "ModelName"),
    "RegisterModel": ("CreateModelPackage", None),  # a package gets a version, not a name
}


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


class _Evaluator:
    """The runner's expression evaluation (`local_runner.expressions.Context`), with realistic step properties."""

    def __init__(self, definition: Mapping[str, Any], run: Run) -> None:
        self.run = run
        self.requests: dict[str, StepRequest] = {}
        self.context = Context(
            # CDK replaces placeholders in the whole body, parameter defaults included (render_definition did).
            parameters=resolve_parameters(definition["Parameters"], dict(run.parameters)),
            execution={
                "PipelineExecutionId": run.execution_id,
                "PipelineExecutionArn": run.execution_arn,
                "PipelineName": run.pipeline_name,
                "StartDateTime": "2026-12-02T10:15:00.000Z",
            },
            step_property=self._step_property,
            property_file=lambda _step, name: run.property_files[name],
        )

    def value(self, node: Any) -> Any:
        return self.context.resolve(node)

    def _step_property(self, step: str, tokens: list[str | int]) -> Any:
        reference = f"Steps.{step}." + ".".join(str(t) for t in tokens)
        request = self.requests[step].params
        if tokens[:2] == ["ProcessingOutputConfig", "Outputs"]:
            return walk(request, tokens, reference)
        if tokens == ["ModelArtifacts", "S3ModelArtifacts"]:
            return f"{request['OutputDataConfig']['S3OutputPath']}/{request['TrainingJobName']}/output/model.tar.gz"
        if tokens == ["TrainingJobSummaries", 0, "TrainingJobName"]:
            # The tuning job's training jobs are named <tuning job>-<3 digits>-<8 hex characters>.
            return f"{request['HyperParameterTuningJobName']}-007-5f3a9c1e"
        raise KeyError(f"no realistic value for {reference!r}")


@dataclass
class Execution:
    """What one run did: the steps it reached (Condition and Fail steps included) in order, the requests of
    the job-starting ones, and the Fail step that ended it (None when it ran to the end)."""

    reached: list[str]
    requests: list[StepRequest]
    failed_at: str | None


def _dependencies(step: Mapping[str, Any]) -> set[str]:
    """The steps this one waits for: DependsOn and every step whose properties its arguments read."""
    # A Condition's branches are its own, not its inputs: only its conditions' references count.
    read = step["Arguments"]["Conditions"] if step["Type"] == "Condition" else step.get("Arguments", {})
    return set(step.get("DependsOn") or []) | references(read)


def simulate(definition: Mapping[str, Any], run: Run) -> Execution:
    """One execution with `run`'s parameters, in definition order (the builder writes a step after its inputs).

    A step runs once every step it depends on has run; a Condition step runs the branch its conditions select
    (all must hold for the If branch): the other branch's steps, and whatever depends on them, never run. A
    Fail step ends the execution, so nothing after it starts.
    """
    definition = render_definition(dict(definition), dict(run.deployed))
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
            taken = all(evaluate(evaluator.value(c), step["Name"]) for c in arguments["Conditions"])
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
        # Lists (contract.LIST_PLACEHOLDERS), as PipelineDefinition.render writes them: one JSON string per value.
        PLACEHOLDERS.subnet_ids: '","'.join(SUBNETS),
        PLACEHOLDERS.security_group_ids: '","'.join(SECURITY_GROUPS),
    }


# The subnets and the jobs' security group of a VPC environment, as EC2 names them.
SUBNETS = ("subnet-0a1b2c3d4e5f60718", "subnet-0f1e2d3c4b5a69788")
SECURITY_GROUPS = ("sg-0123456789abcdef0",)
