"""Every committed pipeline definition, run as each trigger starts it, makes API requests SageMaker accepts.

Each run is simulated (see `pipeline_requests`): Condition steps take the branch the run's values select, and
each job-starting step reached becomes the Create* request SageMaker Pipelines sends, with the parameters each
starter really passes (`runs`: a content-addressed data snapshot, details as the starters write them), realistic
deployed names and the property files `pipeline_code` writes (`conftest`); `validate_request` checks each request
against the published API constraints. A start without a data snapshot must end at NoDataSnapshot.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from config import PlatformConfig, load_config
from naming import EnvironmentNames
from pipeline_code import resolve_model
from pipeline_definition.contract import PLACEHOLDERS, definition_path, pipelines_of, step_calls
from tests.contracts.pipeline_requests import (
    SECURITY_GROUPS,
    SUBNETS,
    Execution,
    Run,
    StepRequest,
    deployed_names,
    job_name,
    simulate,
)
from tests.contracts.runs import EXECUTION_ID, data_snapshot, starter_parameters
from twin.api_contract import validate_request

ROOT = Path(__file__).resolve().parents[2]
ACCOUNT = "123456789012"
CONFIG = load_config(ROOT / "config" / "environments.yaml")
ENVIRONMENTS = list(CONFIG.environments)


def _runs(env: str, pipeline: str) -> dict[str, dict[str, str]]:
    if pipeline != "training":
        return {"default": {}}  # the schedules start them with the defaults
    return starter_parameters(CONFIG.project_name, env, ACCOUNT, CONFIG.environment(env).region)


def _cases(*, with_snapshot: bool) -> list[Any]:
    """(env, pipeline, parameters) of every start: those that pass a data snapshot, or those that do not."""
    return [
        pytest.param(env, pipeline, parameters, id=f"{env}-{pipeline}-{trigger}")
        for env in ENVIRONMENTS
        # the ingestion definition is built for every environment, deployed where `ingestion` is set: check it always
        for pipeline in dict.fromkeys([*pipelines_of(CONFIG.environment(env)), "ingestion"])
        for trigger, parameters in _runs(env, pipeline).items()
        if (pipeline != "training" or "InputManifestUri" in parameters) == with_snapshot
    ]


def _execution(env: str, pipeline: str, parameters: dict[str, str], property_files: dict[str, Any]) -> Execution:
    project, region = CONFIG.project_name, CONFIG.environment(env).region
    names = EnvironmentNames(project, env)
    resolved = {"model_name": resolve_model.model_name(names.model_package_group, 12)}
    run = Run(
        account=ACCOUNT,
        region=region,
        pipeline_name=names.pipeline(pipeline),
        execution_id=EXECUTION_ID,
        deployed=deployed_names(project, env, ACCOUNT, region),
        parameters=parameters,
        property_files={**property_files, "ResolvedModel": resolved},
    )
    return simulate(json.loads(definition_path(env, pipeline).read_text()), run)


@pytest.mark.parametrize(("env", "pipeline", "parameters"), _cases(with_snapshot=True))
def test_every_start_runs_to_the_end_with_requests_that_fit_the_api(
    env: str, pipeline: str, parameters: dict[str, str], property_files: dict[str, Any]
) -> None:
    execution = _execution(env, pipeline, parameters, property_files)
    assert execution.failed_at is None, execution.reached
    if pipeline == "training":  # the sample model passes the default gates: the run registers it
        assert execution.reached[-1] == "RegisterModel", execution.reached
    assert execution.requests, "a pipeline that starts no job"
    problems = sorted(
        f"{r.step} ({r.operation}) {problem}"
        for r in execution.requests
        for problem in validate_request("sagemaker", r.operation, r.params)
    )
    assert problems == []


@pytest.mark.parametrize(("env", "pipeline", "parameters"), _cases(with_snapshot=False))
def test_a_training_start_without_a_data_snapshot_starts_no_job(
    env: str, pipeline: str, parameters: dict[str, str], property_files: dict[str, Any]
) -> None:
    execution = _execution(env, pipeline, parameters, property_files)
    assert execution.reached == ["CheckDataSnapshot", "NoDataSnapshot"]
    assert execution.failed_at == "NoDataSnapshot"
    assert execution.requests == []


def test_a_snapshot_run_reads_the_manifest_the_starters_write(property_files: dict[str, Any]) -> None:
    environment = CONFIG.environment("dev")
    parameters = starter_parameters(CONFIG.project_name, "dev", ACCOUNT, environment.region)["new-data"]
    snapshot = data_snapshot(CONFIG.project_name, "dev", ACCOUNT, environment.region)
    execution = _execution("dev", "training", parameters, property_files)
    for step in ("ValidateData", "Preprocess"):
        (request,) = [r for r in execution.requests if r.step == step]
        manifests = [
            i["S3Input"] for i in request.params["ProcessingInputs"] if i["S3Input"]["S3DataType"] == "ManifestFile"
        ]
        assert [m["S3Uri"] for m in manifests] == [snapshot.uri], step


def test_tuning_job_names_fit_the_32_character_cap_and_keep_no_pipelines_prefix() -> None:
    run = Run(ACCOUNT, "eu-west-1", "mlops-prod-training", "8kq2m1x0v9zt", {}, {}, {})
    name = job_name(run, "Tuning", "TuneModel")
    assert len(name) <= 32
    assert not name.startswith("pipelines-")
    assert validate_request("sagemaker", "DescribeHyperParameterTuningJob", {"HyperParameterTuningJobName": name}) == []
    # pipelines-<id>-<step>-<10 characters> cannot fit even with an empty step name: a policy limited to
    # pipelines-* cannot cover the tuning jobs Pipelines starts.
    assert len(f"pipelines-{run.execution_id}--a1B2c3D4e5") > 32


def test_a_model_package_group_name_from_config_fits(platform_config: PlatformConfig) -> None:
    for env in platform_config.environments:
        name = EnvironmentNames(platform_config.project_name, env).model_package_group
        assert validate_request("sagemaker", "DescribeModelPackageGroup", {"ModelPackageGroupName": name}) == []


# ------------------------------------------------------------------------------------------- networking


def _network_of(request: StepRequest) -> tuple[dict[str, Any] | None, bool | None, bool | None]:
    """(VpcConfig, network isolation, inter-container encryption) of a job request, wherever its API keeps them."""
    params = request.params
    if request.operation == "CreateHyperParameterTuningJob":
        params = params["TrainingJobDefinition"]
    elif request.operation == "CreateProcessingJob":
        params = params.get("NetworkConfig", {})
    return (
        params.get("VpcConfig"),
        params.get("EnableNetworkIsolation"),
        params.get("EnableInterContainerTrafficEncryption"),
    )


@pytest.mark.parametrize(
    ("env", "pipeline"), [(e, p) for e in ENVIRONMENTS for p in pipelines_of(CONFIG.environment(e))]
)
def test_every_job_of_a_vpc_environment_runs_in_its_subnets_and_isolated_unless_it_calls_out(
    env: str, pipeline: str, property_files: dict[str, Any]
) -> None:
    """What Pipelines sends for each job once CDK filled in the subnets and the group: both subnets, the group,
    inter-container encryption, and isolation exactly where `contract.step_calls` says the job calls nothing.
    Transform jobs name no network: their model does (ResolveModel gets the subnets to create it in)."""
    environment = CONFIG.environment(env)
    parameters = _runs(env, pipeline)["manual" if pipeline == "training" else "default"]
    execution = _execution(env, pipeline, parameters, property_files)
    jobs = [r for r in execution.requests if r.operation != "CreateModelPackage"]
    assert jobs
    tracking = environment.experiment_tracking.enabled
    for request in jobs:
        vpc, isolated, encrypted = _network_of(request)
        if not environment.network.enabled or request.operation == "CreateTransformJob":
            assert (vpc, isolated, encrypted) == (None, None, None), request.step
            continue
        assert vpc == {"Subnets": list(SUBNETS), "SecurityGroupIds": list(SECURITY_GROUPS)}, request.step
        assert encrypted is True, request.step
        assert isolated is (not step_calls(request.step, experiment_tracking=tracking)), request.step
    if pipeline == "batch-inference":
        (resolve,) = [r for r in execution.requests if r.step == "ResolveModel"]
        arguments = resolve.params["AppSpecification"]["ContainerArguments"]
        if environment.network.enabled:
            given = resolve_model.parse_args(arguments)
            assert (given.subnets, given.security_group_ids) == (list(SUBNETS), list(SECURITY_GROUPS))
            assert given.network_isolation
        else:
            assert "--subnets" not in arguments


def test_the_shipped_vpc_environments_isolate_the_jobs_that_call_nothing(property_files: dict[str, Any]) -> None:
    """Which jobs of prod run isolated (no network at all) and which reach AWS through the VPC endpoints."""
    isolated = {}
    for pipeline in pipelines_of(CONFIG.environment("prod")):
        parameters = _runs("prod", pipeline)["manual" if pipeline == "training" else "default"]
        for request in _execution("prod", pipeline, parameters, property_files).requests:
            if request.operation not in ("CreateModelPackage", "CreateTransformJob"):
                isolated[request.step] = _network_of(request)[1]
    assert isolated == {
        "ValidateData": True,
        "Preprocess": True,
        "IngestFeatures": False,  # Feature Store's runtime
        "TuneModel": False,  # MLflow (prod tracks experiments)
        "EvaluateModel": False,  # MLflow
        "CheckBiasAndExplain": False,  # MLflow
        "GatherMonitoringInputs": False,  # S3, SSM, SageMaker
        "CheckDrift": False,  # S3, CloudWatch, EventBridge
        "ResolveModel": False,  # SageMaker (CreateModel)
    }


def _job_steps(steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every Processing, Training and Tuning step, those inside Condition branches included."""
    found = []
    for step in steps:
        if step["Type"] == "Condition":
            found += _job_steps(step["Arguments"].get("IfSteps", []) + step["Arguments"].get("ElseSteps", []))
        elif step["Type"] in ("Processing", "Training", "Tuning"):
            found.append(step)
    return found


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_every_job_step_of_the_committed_definitions_names_the_network_of_its_environment(env: str) -> None:
    """Each job step as committed, reached by a run or not: the placeholders CDK fills in, or no network at all."""
    environment = CONFIG.environment(env)
    placeholders = {"SecurityGroupIds": [PLACEHOLDERS.security_group_ids], "Subnets": [PLACEHOLDERS.subnet_ids]}
    for pipeline in pipelines_of(environment):
        steps = _job_steps(json.loads(definition_path(env, pipeline).read_text())["Steps"])
        assert steps
        for step in steps:
            arguments = step["Arguments"]
            network = {
                "Processing": lambda a: a.get("NetworkConfig", {}),
                "Training": lambda a: a,
                "Tuning": lambda a: a["TrainingJobDefinition"],
            }[step["Type"]](arguments)
            if environment.network.enabled:
                assert network.get("VpcConfig") == placeholders, step["Name"]
                assert network.get("EnableInterContainerTrafficEncryption") is True, step["Name"]
            else:
                assert "VpcConfig" not in network, step["Name"]
