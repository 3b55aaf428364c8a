"""Every committed pipeline definition, run as each trigger starts it, makes API requests SageMaker accepts.

Each step becomes the Create* request SageMaker Pipelines sends for it (see `pipeline_requests`), with parameter
defaults or the values the triggers pass, realistic deployed names and the property files `pipeline_code` writes
on the Adult data; `validate_request` checks it against the published API constraints.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from config import PlatformConfig, load_config
from pipeline_code import local_run, resolve_model
from pipeline_definition.contract import definition_path, model_package_group_name, pipeline_name, pipelines_of
from tests.contracts.botocore_contract import validate_request
from tests.contracts.pipeline_requests import Run, deployed_names, job_name, run_requests

ROOT = Path(__file__).resolve().parents[2]
ACCOUNT = "123456789012"
CONFIG = load_config(ROOT / "config" / "environments.yaml")
ENVIRONMENTS = list(CONFIG.environments)


def _trigger_runs(project: str, env: str, region: str) -> dict[str, dict[str, str]]:
    """The parameters each starter passes (lambdas/, release/, the schedules), with details as they write them."""
    prefix = f"{project}-{env}"
    reports = f"s3://{prefix}-artifacts-{ACCOUNT}-{region}/monitoring/reports/"
    return {
        "manual": {},
        "schedule": {"Trigger": "schedule"},
        "new-data": {
            "Trigger": "new-data",
            "TriggerDetail": "3 new object(s), 48820 bytes (~401 rows) since 2026-12-01T09:00:00+00:00",
        },
        "drift-alarm": {
            "Trigger": "drift",
            "TriggerDetail": f"alarm {prefix}-drift-violations in ALARM since 2026-12-02T09:00:00+00:00; reports "
            f"under {reports}; reason: Threshold Crossed: 1 datapoint [2.0] was >= the threshold (1.0).",
        },
        "drift-report": {
            "Trigger": "drift",
            "TriggerDetail": f"drift report {reports}8kq2m1x0v9zt/: 1 violation(s): feature_drift age psi 0.31 > 0.2",
        },
        "code-change": {"Trigger": "code-change", "CodeVersion": "4f1c2a9e0b7d6c5a4f3e2d1c0b9a8f7e6d5c4b3a"},
    }


# Known defects of the definitions builder (the defs branch fixes them): the cases flip to passing then.
HYPERPARAMETERS_DEFECT = (
    "defs: CustomerMetadataProperties.hyperparameters joins name=value pairs with ';', which the metadata "
    "pattern [\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]* refuses"
)
EMPTY_DETAIL_DEFECT = (
    "defs: TriggerDetail defaults to '' and CustomerMetadataProperties.trigger_detail must hold 1-256 characters"
)
DETAIL_CHARACTERS_DEFECT = (
    "triggers/defs: the trigger details the Lambdas write hold ';', ',', '(' and '>', which the metadata pattern "
    "refuses"
)
TYPED_HYPERPARAMETERS_DEFECT = (
    "defs: TrainModel's HyperParameters are Integer/Float parameters put into a string-to-string map unconverted "
    "(the tuning branch and SDK v2 wrap them in Std:Join)"
)


def _known_defects(problem: str) -> str | None:
    if problem.startswith("HyperParameters.") and ": expected a string, got" in problem:
        return TYPED_HYPERPARAMETERS_DEFECT
    if problem.startswith("CustomerMetadataProperties.hyperparameters:"):
        return HYPERPARAMETERS_DEFECT
    if problem.startswith("CustomerMetadataProperties.trigger_detail: length 0"):
        return EMPTY_DETAIL_DEFECT
    if problem.startswith("CustomerMetadataProperties.trigger_detail:"):
        return DETAIL_CHARACTERS_DEFECT
    return None


@pytest.fixture(scope="module")
def property_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """What the steps write where the definitions read it: one local run on the Adult data (~5 s)."""
    out = tmp_path_factory.mktemp("property-files")
    local_run.run_pipeline(local_run.DEFAULT_DATA, out, [])
    read = lambda path: json.loads((out / path).read_text())  # noqa: E731
    return {
        "EvaluationReport": read("evaluation/evaluation.json"),
        "BiasReport": read("bias/bias_report.json"),
        "InputLineage": read("preprocess/manifest/lineage.json"),
        "ResolvedModel": {"model_name": resolve_model.model_name("mlops-prod-models", 12)},
        "MonitoringInputs": {"rows": 2400},
    }


def _cases() -> list[Any]:
    cases = []
    for env in ENVIRONMENTS:
        environment = CONFIG.environment(env)
        for pipeline in pipelines_of(environment):
            triggers = _trigger_runs(CONFIG.project_name, env, environment.region) if pipeline == "training" else {}
            for trigger, parameters in (triggers or {"default": {}}).items():
                cases.append(pytest.param(env, pipeline, parameters, id=f"{env}-{pipeline}-{trigger}"))
    return cases


def _requests(env: str, pipeline: str, parameters: dict[str, str], property_files: dict[str, Any]) -> list[Any]:
    project, region = CONFIG.project_name, CONFIG.environment(env).region
    run = Run(
        account=ACCOUNT,
        region=region,
        pipeline_name=pipeline_name(project, env, pipeline),
        execution_id="8kq2m1x0v9zt",
        deployed=deployed_names(project, env, ACCOUNT, region),
        parameters=parameters,
        property_files={**property_files, "ResolvedModel": {"model_name": f"{project}-{env}-models-v12"}},
    )
    definition = json.loads(definition_path(env, pipeline).read_text())
    return run_requests(definition, run)


@pytest.mark.parametrize(("env", "pipeline", "parameters"), _cases())
def test_requests_fit_the_api_apart_from_known_defects(
    env: str, pipeline: str, parameters: dict[str, str], property_files: dict[str, Any]
) -> None:
    requests = _requests(env, pipeline, parameters, property_files)
    assert requests, "a pipeline that starts no job"
    unexpected = {
        f"{r.step} ({r.operation}) {problem}"
        for r in requests
        for problem in validate_request("sagemaker", r.operation, r.params)
        if _known_defects(problem) is None
    }
    assert not unexpected


@pytest.mark.parametrize(("env", "pipeline", "parameters"), _cases())
def test_requests_fit_the_api(
    env: str, pipeline: str, parameters: dict[str, str], property_files: dict[str, Any], request: Any
) -> None:
    requests = _requests(env, pipeline, parameters, property_files)
    problems = {f"{r.step}: {p}" for r in requests for p in validate_request("sagemaker", r.operation, r.params)}
    defects = sorted({d for p in problems if (d := _known_defects(p.split(": ", 1)[1]))})
    if defects:
        request.applymarker(pytest.mark.xfail(strict=True, reason="; ".join(defects)))
    assert not problems


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
        name = model_package_group_name(platform_config.project_name, env)
        assert validate_request("sagemaker", "DescribeModelPackageGroup", {"ModelPackageGroupName": name}) == []
