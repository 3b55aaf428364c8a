"""The monitoring and batch-inference pipelines in CDK, their role, and the schedules that start pipelines."""

from __future__ import annotations

import json

import pytest

from config import PlatformConfig
from pipeline_definition import contract
from tests.stacks.rendering import as_list, policy_statements, resources
from tests.synthesis import Synthesis

ENVIRONMENTS = ("dev", "staging", "prod")


def _rendered(value: object) -> str:
    return json.dumps(value, sort_keys=True)


@pytest.fixture(params=ENVIRONMENTS)
def operations(request: pytest.FixtureRequest, synthesis: Synthesis, platform_config: PlatformConfig):
    return synthesis.stack(request.param, "Operations").template, platform_config.environment(request.param)


def test_custom_monitoring_and_batch_pipelines_exist_with_every_placeholder_replaced(operations) -> None:
    template, environment = operations
    pipelines = {p["Properties"]["PipelineName"]: p for p in resources(template, "AWS::SageMaker::Pipeline").values()}
    prefix = f"mlops-{environment.name}"
    assert set(pipelines) == {f"{prefix}-monitoring", f"{prefix}-batch-inference"}
    for pipeline in pipelines.values():
        body = json.dumps(pipeline["Properties"]["PipelineDefinition"]["PipelineDefinitionBody"])
        for name, placeholder in contract.PLACEHOLDERS.items():
            if name != "mlflow_tracking_server_arn":
                assert placeholder not in body, name


def test_schedules_start_each_pipeline_on_its_configured_expression(operations) -> None:
    template, environment = operations
    schedules = {
        s["Properties"]["Name"]: s["Properties"] for s in resources(template, "AWS::Scheduler::Schedule").values()
    }
    prefix = f"mlops-{environment.name}"
    expected = {  # not the training pipeline: the retraining schedule invokes a trigger (test_retraining_triggers)
        f"{prefix}-retraining": environment.schedules.retraining,
        f"{prefix}-batch-inference": environment.schedules.batch_inference,
        f"{prefix}-monitoring": environment.monitoring.schedule,
    }
    assert {name: s["ScheduleExpression"] for name, s in schedules.items()} == expected
    del schedules[f"{prefix}-retraining"]
    for name, schedule in schedules.items():
        arn = schedule["Target"]["Arn"]
        rendered = (
            arn if isinstance(arn, str) else "".join(p if isinstance(p, str) else "<>" for p in arn["Fn::Join"][1])
        )
        assert rendered.endswith(f":pipeline/{name}")
        assert schedule["FlexibleTimeWindow"] == {"Mode": "OFF"}
        assert "SageMakerPipelineParameters" not in schedule["Target"]
    starts = policy_statements(template, "OperationsPipelinesSchedulerRole")
    started = _rendered([s["Resource"] for s in starts if s["Action"] == "sagemaker:StartPipelineExecution"])
    assert f"pipeline/{prefix}-batch-inference" in started
    assert f"pipeline/{prefix}-training" not in started  # a training run without a data snapshot stops at once


def test_the_operations_role_publishes_only_monitoring_metrics_and_no_wildcard_action(operations) -> None:
    template, _ = operations
    statements = policy_statements(template, "OperationsPipelinesExecutionRole", effect="Allow")
    assert statements
    for statement in statements:
        actions = as_list(statement["Action"])
        assert not any(a == "*" or a.endswith(":*") for a in actions), actions
        if statement["Resource"] == "*":
            network_interfaces = all(a.startswith("ec2:") for a in actions)  # VPC environments: made at run time
            assert actions in (["cloudwatch:PutMetricData"], ["ecr:GetAuthorizationToken"]) or network_interfaces
            if actions == ["cloudwatch:PutMetricData"]:
                assert statement["Condition"] == {"StringEquals": {"cloudwatch:namespace": "MLOps/Monitoring"}}
    granted = {a for s in statements for a in as_list(s["Action"])}
    assert {"ssm:GetParameter", "sagemaker:CreateTransformJob", "events:PutEvents"} <= granted
    assert "sagemaker:CreateTrainingJob" not in granted  # training is the training pipeline's role's job


def test_model_monitor_accounts_get_no_custom_monitoring_pipeline(
    platform_config: PlatformConfig, tmp_path_factory: pytest.TempPathFactory
) -> None:
    from app import create_app
    from tests.synthesis import read_synthesis

    dev = platform_config.environment("dev")
    native = dev.model_copy(update={"monitoring": dev.monitoring.model_copy(update={"backend": "model-monitor"})})
    config = platform_config.model_copy(update={"environments": {"dev": native}})
    outdir = tmp_path_factory.mktemp("model-monitor")
    create_app(config, outdir=str(outdir)).synth()
    template = read_synthesis(outdir).stack("dev", "Operations").template
    names = {p["Properties"]["PipelineName"] for p in resources(template, "AWS::SageMaker::Pipeline").values()}
    assert names == {"mlops-dev-batch-inference"}
    schedules = {s["Properties"]["Name"] for s in resources(template, "AWS::Scheduler::Schedule").values()}
    assert "mlops-dev-monitoring" not in schedules
