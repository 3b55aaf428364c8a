"""The promotion state machine, state by state: the happy path, the rollback path and the approval wait.

The synthesized DefinitionString is an Fn::Join of text and CloudFormation references; it is rendered to one JSON
document with `<LogicalId>` / `<Output>` placeholders for the references, then walked like Step Functions would.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from aws_cdk.assertions import Match, Template

from config import PlatformConfig
from stacks.units.model_promotion import autoscaling_enabled
from stacks.units.native_monitoring import PACKAGE_BASELINES
from tests.stacks.rendering import as_list, policy_statements
from tests.stacks.rendering import render as _render
from tests.stacks.rendering import resources as _resources
from tests.synthesis import Synthesis

STAGES = ("dev", "staging", "prod")


def _only(template: dict[str, Any], kind: str) -> dict[str, Any]:
    """The one resource of `kind` that the ModelPromotion unit owns (other units share the stack)."""
    found = {k: r for k, r in _resources(template, kind).items() if k.startswith("ModelPromotion")}
    assert len(found) == 1, f"{kind}: {list(found)}"
    return next(iter(found.values()))


@pytest.fixture(scope="module")
def operations(synthesis: Synthesis) -> dict[str, dict[str, Any]]:
    return {stage: synthesis.stack(stage, "Operations").template for stage in STAGES}


@pytest.fixture(scope="module")
def templates(operations: dict[str, dict[str, Any]]) -> dict[str, Template]:
    """The same templates for `aws_cdk.assertions`, handed to jsii once per module (not once per test case)."""
    return {stage: Template.from_json(template) for stage, template in operations.items()}


@pytest.fixture(scope="module")
def definitions(operations: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    rendered = {}
    for stage, template in operations.items():
        machine = _only(template, "AWS::StepFunctions::StateMachine")
        rendered[stage] = json.loads(_render(machine["Properties"]["DefinitionString"]))
    return rendered


def _path(states: dict[str, Any], start: str, choose: dict[str, int]) -> list[str]:
    """Follow Next from `start`; at a Choice take rule `choose[name]` (index) or Default (-1, the default)."""
    path, name = [], start
    while True:
        path.append(name)
        state = states[name]
        if state["Type"] in ("Succeed", "Fail"):
            return path
        if state["Type"] == "Choice":
            index = choose.get(name, -1)
            name = state["Choices"][index]["Next"] if index >= 0 else state["Default"]
        else:
            name = state["Next"]
        assert len(path) < 60, path


def _resources_by_action(statements: list[dict[str, Any]]) -> dict[str, list[str]]:
    """Each action (lower case) of the IAM statements, with the rendered resources it is allowed on."""
    by_action: dict[str, list[str]] = {}
    for statement in statements:
        for action in as_list(statement["Action"]):
            by_action.setdefault(action.lower(), []).extend(_render(r) for r in as_list(statement["Resource"]))
    return by_action


def _catch(state: dict[str, Any]) -> str:
    (handler,) = [c["Next"] for c in state["Catch"] if c["ErrorEquals"] == ["States.ALL"]]
    return str(handler)


@pytest.mark.parametrize("stage", STAGES)
def test_an_approved_package_of_the_environment_group_starts_the_state_machine(
    templates: dict[str, Template], stage: str
) -> None:
    template = templates[stage]
    machine = template.get_resource_id(
        "AWS::StepFunctions::StateMachine", {"Properties": {"StateMachineName": f"mlops-{stage}-promotion"}}
    )
    # dev promotes its own packages; staging dev's, prod staging's: forwarded from the source's account
    group, account = {"dev": ("dev", None), "staging": ("dev", "111111111111"), "prod": ("staging", "222222222222")}[
        stage
    ]
    template.has_resource_properties(
        "AWS::Events::Rule",
        {
            "EventPattern": Match.exact(
                {
                    "source": ["aws.sagemaker"],
                    "detail-type": ["SageMaker Model Package State Change"],
                    "detail": {
                        "ModelPackageGroupName": [f"mlops-{group}-models"],
                        "ModelApprovalStatus": ["Approved"],
                    },
                    **({"account": [account]} if account else {}),
                }
            ),
            "Targets": [Match.object_like({"Arn": {"Ref": machine}})],  # a literal list: that one target only
        },
    )


@pytest.mark.parametrize("stage", STAGES)
def test_the_state_machine_is_traced_and_logs_everything_to_an_encrypted_group(
    templates: dict[str, Template], platform_config: PlatformConfig, stage: str
) -> None:
    template = templates[stage]
    template.has_resource_properties(
        "AWS::StepFunctions::StateMachine",
        {
            "StateMachineName": f"mlops-{stage}-promotion",
            "TracingConfiguration": Match.exact({"Enabled": True}),
            "LoggingConfiguration": {"Level": "ALL", "IncludeExecutionData": True},
        },
    )
    group_name = f"/aws/vendedlogs/states/mlops-{stage}-promotion"
    template.resource_properties_count_is("AWS::Logs::LogGroup", {"LogGroupName": group_name}, 1)
    template.has_resource_properties(
        "AWS::Logs::LogGroup",
        {
            "LogGroupName": group_name,
            "KmsKeyId": Match.any_value(),
            "RetentionInDays": platform_config.environment(stage).log_retention_days,
        },
    )


# The states a promotion passes when everything works (the endpoint exists and takes the new config)
_GATE = [
    "CreateModel",
    "FindChampion",
    "HasChampion",
    "DescribeChampionConfig",
    "ScoreModels",
    "CompareModels",
    "GateVerdict",
]
_IMPORT = [
    "ImportModel", "ImportTestSplit", "ImportRawTestSplit", "ImportEvaluation", "ImportBaseline", "CheckDigest",
    "RegisterImported",
]  # fmt: skip
_HAPPY_PATHS = {
    # dev: its own packages, serverless, automatic
    "dev": [
        "Start", "ClaimApproval", "DescribePackage", *_GATE, "CreateEndpointConfig", "FindEndpoint",
        "EndpointReady",
        "UpdateEndpoint", "WaitForEndpoint", "CheckEndpoint", "EndpointState", "SmokeTest",
        "CopyBaseline", "CopyModel", "RecordCurrentPackage", "ListEndpointConfigs", "DeleteSuperseded",
        "NotifyPromoted", "Promoted",
    ],
    # staging: dev's packages imported, an instance endpoint like prod's, a soak, then the record Approved
    "staging": [
        "Start", "ClaimApproval", "DescribePackage", *_IMPORT, *_GATE, "CreateEndpointConfig", "FindEndpoint",
        "EndpointReady", "DeregisterScaling", "UpdateEndpoint", "WaitForEndpoint", "CheckEndpoint",
        "EndpointState", "SmokeTest", "Soak", "CheckRollbackAlarms", "SoakVerdict", "RegisterScalableTarget",
        "RegisterScalingPolicy", "CopyBaseline", "CopyModel", "RecordCurrentPackage", "ApproveRecord",
        "ListEndpointConfigs", "DeleteSuperseded", "NotifyPromoted", "Promoted",
    ],
    # prod: what staging validated, behind a person's approval, autoscaling re-registered once it is live
    "prod": [
        "Start", "ClaimApproval", "DescribePackage", *_IMPORT, *_GATE, "WaitForApproval", "CreateEndpointConfig",
        "FindEndpoint",
        "EndpointReady", "DeregisterScaling", "UpdateEndpoint", "WaitForEndpoint", "CheckEndpoint",
        "EndpointState", "SmokeTest", "RegisterScalableTarget", "RegisterScalingPolicy", "CopyBaseline",
        "CopyModel", "RecordCurrentPackage", "ApproveRecord", "ListEndpointConfigs", "DeleteSuperseded",
        "NotifyPromoted", "Promoted",
    ],
}  # fmt: skip


@pytest.mark.parametrize("stage", STAGES)
def test_the_happy_path_deploys_tests_and_publishes_the_model_state_by_state(definitions, stage: str) -> None:
    states = definitions[stage]["States"]
    assert definitions[stage]["QueryLanguage"] == "JSONata"
    assert definitions[stage]["StartAt"] == "Start"
    choose = {"EndpointReady": 0, "EndpointState": 0, "HasChampion": 0, "GateVerdict": 0, "SoakVerdict": 0}
    assert _path(states, "Start", choose) == _HAPPY_PATHS[stage]


def test_a_first_promotion_creates_the_endpoint_instead(definitions) -> None:
    states = definitions["dev"]["States"]
    assert _catch(states["FindEndpoint"]) == "EndpointMissing"
    missing = states["EndpointMissing"]["Choices"][0]
    assert "Could not find endpoint" in missing["Condition"]
    assert missing["Next"] == "CreateEndpoint"
    assert states["CreateEndpoint"]["Assign"]["firstDeploy"] is True
    assert states["CreateEndpoint"]["Next"] == "WaitForEndpoint"


def test_each_step_calls_the_api_the_contract_names(definitions) -> None:
    states = definitions["prod"]["States"]
    resources = {name: s.get("Resource") for name, s in states.items() if s["Type"] == "Task"}
    assert resources["DescribePackage"] == "arn:<AWS::Partition>:states:::aws-sdk:sagemaker:describeModelPackage"
    assert resources["CreateModel"] == "arn:<AWS::Partition>:states:::aws-sdk:sagemaker:createModel"
    assert resources["UpdateEndpoint"] == "arn:<AWS::Partition>:states:::aws-sdk:sagemaker:updateEndpoint"
    assert resources["CopyBaseline"] == "arn:<AWS::Partition>:states:::aws-sdk:s3:copyObject"
    assert resources["RecordCurrentPackage"] == "arn:<AWS::Partition>:states:::aws-sdk:ssm:putParameter"
    assert (
        resources["RegisterScalableTarget"]
        == "arn:<AWS::Partition>:states:::aws-sdk:applicationautoscaling:registerScalableTarget"
    )
    assert resources["RejectPackage"] == "arn:<AWS::Partition>:states:::aws-sdk:sagemaker:updateModelPackage"

    described = states["DescribePackage"]["Assign"]["package"]
    assert described["baselineUri"] == "{% $states.result.DriftCheckBaselines.ModelDataQuality.Statistics.S3Uri %}"
    assert described["modelDataUrl"] == "{% $states.result.InferenceSpecification.Containers[0].ModelDataUrl %}"
    copies = {name: states[name]["Arguments"] for name in ("CopyBaseline", "CopyModel")}
    assert copies["CopyBaseline"]["Key"] == "monitoring/current/baseline.json"
    assert copies["CopyModel"]["Key"] == "monitoring/current/model.tar.gz"
    assert copies["CopyBaseline"]["CopySource"] == "{% $substringAfter($package.baselineUri, 's3://') %}"
    assert all(c["ServerSideEncryption"] == "aws:kms" for c in copies.values())
    assert states["RecordCurrentPackage"]["Arguments"] == {
        "Name": "/mlops/prod/current-model-package",
        "Value": "{% $package.arn %}",
        "Type": "String",
        "Overwrite": True,
    }
    model = states["CreateModel"]["Arguments"]
    assert model["PrimaryContainer"] == {
        "Image": "{% $package.image %}",
        "ModelDataUrl": "{% $package.modelDataUrl %}",
        "Environment": "{% $package.environment %}",  # the package's: script mode, the decision threshold
    }
    assert model["ExecutionRoleArn"].startswith("<ModelPromotionEndpointRole")
    # the endpoint is found by name, never by a CloudFormation reference
    assert states["UpdateEndpoint"]["Arguments"]["EndpointName"] == "mlops-prod-endpoint"
    # the new endpoint must be InService *on the new config*: SageMaker's own rollback is a failure too
    ok = states["EndpointState"]["Choices"][0]["Condition"]
    assert ok == "{% $endpointStatus = 'InService' and $liveConfig = $endpointConfigName %}"


def test_the_endpoint_config_comes_from_config(definitions, platform_config: PlatformConfig) -> None:
    prod = platform_config.environment("prod").inference
    config = definitions["prod"]["States"]["CreateEndpointConfig"]["Arguments"]
    (variant,) = config["ProductionVariants"]
    assert variant == {
        "VariantName": "AllTraffic",
        "ModelName": "{% $modelName %}",
        "InstanceType": prod.instance_type,
        "InitialInstanceCount": prod.initial_instance_count,
    }
    capture = config["DataCaptureConfig"]
    assert capture["EnableCapture"] is True
    assert capture["InitialSamplingPercentage"] == prod.data_capture_sampling_percent
    assert capture["DestinationS3Uri"] == "s3://mlops-prod-artifacts-<AWS::AccountId>-<AWS::Region>/data-capture"
    # raw CSV and JSON requests captured as text, which monitoring reads as the endpoint read them
    assert capture["CaptureContentTypeHeader"] == {
        "CsvContentTypes": ["text/csv"],
        "JsonContentTypes": ["application/json"],
    }
    assert capture["KmsKeyId"].startswith("<")
    assert config["KmsKeyId"] == capture["KmsKeyId"]

    dev = platform_config.environment("dev").inference
    config = definitions["dev"]["States"]["CreateEndpointConfig"]["Arguments"]
    (variant,) = config["ProductionVariants"]
    assert variant["ServerlessConfig"] == {
        "MemorySizeInMB": dev.serverless_memory_mb,
        "MaxConcurrency": dev.serverless_max_concurrency,
    }
    # SageMaker refuses data capture and a volume key on serverless endpoints
    assert "DataCaptureConfig" not in config
    assert "KmsKeyId" not in config
    assert "InstanceType" not in variant


def test_instance_endpoints_get_target_tracking_autoscaling_between_the_configured_bounds(
    definitions, platform_config: PlatformConfig
) -> None:
    prod = platform_config.environment("prod").inference
    states = definitions["prod"]["States"]
    target = states["RegisterScalableTarget"]["Arguments"]
    assert target == {
        "ServiceNamespace": "sagemaker",
        "ResourceId": "endpoint/mlops-prod-endpoint/variant/AllTraffic",
        "ScalableDimension": "sagemaker:variant:DesiredInstanceCount",
        "MinCapacity": prod.min_capacity,
        "MaxCapacity": prod.max_capacity,
    }
    policy = states["RegisterScalingPolicy"]["Arguments"]
    assert policy["PolicyType"] == "TargetTrackingScaling"
    tracking = policy["TargetTrackingScalingPolicyConfiguration"]
    assert tracking["TargetValue"] == prod.target_invocations_per_instance
    assert tracking["PredefinedMetricSpecification"] == {
        "PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"
    }
    assert not [n for n in definitions["dev"]["States"] if "Scal" in n]  # serverless: no autoscaling at all


@pytest.mark.parametrize("stage", STAGES)
def test_the_wait_for_in_service_is_bounded_by_config(definitions, platform_config: PlatformConfig, stage: str) -> None:
    minutes = platform_config.environment(stage).promotion.in_service_timeout_minutes
    states = definitions[stage]["States"]
    for start in ("CreateEndpoint", "UpdateEndpoint"):
        assert states[start]["Assign"]["deadline"] == f"{{% $millis() + {minutes * 60_000} %}}"
    timed_out = states["EndpointState"]["Choices"][2]
    assert timed_out["Condition"] == "{% $millis() > $deadline %}"
    assert timed_out["Next"] == "Rollback"
    assert f"not InService within {minutes} minutes" in timed_out["Assign"]["reason"]
    assert states["EndpointState"]["Default"] == "WaitForEndpoint"
    assert states["WaitForEndpoint"]["Seconds"] == 30


@pytest.mark.parametrize("stage", STAGES)
def test_any_failure_after_the_endpoint_changed_rolls_back_and_rejects_the_package(
    definitions, platform_config: PlatformConfig, stage: str
) -> None:
    states = definitions[stage]["States"]
    live = [n for n in ("CheckEndpoint", "SmokeTest", "CopyBaseline", "CopyModel", "RecordCurrentPackage")]
    live += [n for n in ("RegisterScalableTarget", "RegisterScalingPolicy") if n in states]
    for name in live:
        assert _catch(states[name]) == "Rollback", name
        assert "reason" in states[name]["Catch"][0]["Assign"]
    assert states["EndpointState"]["Choices"][1]["Next"] == "Rollback"  # Failed, or SageMaker rolled back

    rollback = states["Rollback"]
    assert rollback["Choices"][0] == {"Condition": "{% $firstDeploy %}", "Next": "DeleteNewEndpoint"}
    assert states["DeleteNewEndpoint"]["Arguments"] == {"EndpointName": f"mlops-{stage}-endpoint"}
    assert rollback["Default"] == "RevertEndpoint"
    assert states["RevertEndpoint"]["Arguments"] == {
        "EndpointName": f"mlops-{stage}-endpoint",
        "EndpointConfigName": "{% $previousConfig %}",  # kept by FindEndpoint before the update
    }
    assert states["FindEndpoint"]["Assign"]["previousConfig"] == "{% $states.result.EndpointConfigName %}"
    # the revert is waited for (InService on the previous config) before scaling is registered again; then
    # monitoring/current/ back to the live package (when it changed) and this promotion's model discarded
    scaled = autoscaling_enabled(platform_config.environment(stage).inference)
    restore = ["RestoreScalableTarget", "RestoreScalingPolicy"] if scaled else []
    imported = stage != "dev"
    # an imported package is rejected in this environment's record of it, once the record exists
    recorded = ["Recorded"] if imported else []
    choose = {"RevertState": 0, "BaselinesPublished": 0, "NewModelUnused": 0, "Recorded": 0}
    assert _path(states, "Rollback", choose) == [
        "Rollback", "RevertEndpoint", "WaitForRevert", "CheckRevert", "RevertState", *restore,
        "BaselinesPublished", "ReadLivePackage", "DescribeLivePackage", "RestoreBaseline", "RestoreModel",
        "NewModelUnused", "DiscardNewConfig", "DiscardNewModel", *recorded, "RejectPackage", "NotifyFailure",
        "PromotionFailed",
    ]  # fmt: skip
    assert _path(states, "Rollback", {"Rollback": 0, "Recorded": 0}) == [
        "Rollback", "DeleteNewEndpoint", "BaselinesPublished", "NewModelUnused", *recorded, "RejectPackage",
        "NotifyFailure", "PromotionFailed",
    ]  # fmt: skip
    if imported:
        assert states["Recorded"]["Default"] == "NotifyFailure"  # the source's registry is not this account's
    reject = states["RejectPackage"]["Arguments"]
    assert reject == {
        "ModelPackageArn": "{% $package.arn %}"
        if imported
        else "{% $states.context.Execution.Input.detail.ModelPackageArn %}",
        "ModelApprovalStatus": "Rejected",
        "ApprovalDescription": "{% $substring($reason, 0, 1000) %}",
    }
    assert states["PromotionFailed"]["Cause"] == "{% $reason %}"
    # failures before anything changed reject without touching the endpoint
    for name in ("DescribePackage", "CreateModel", "CreateEndpointConfig", "CreateEndpoint"):
        assert _catch(states[name]) == "BaselinesPublished", name  # the clean-up, then RejectPackage


@pytest.mark.parametrize("stage", STAGES)
def test_every_task_catches_and_every_transition_lands_on_a_state(definitions, stage: str) -> None:
    definition = definitions[stage]
    states = definition["States"]
    for name, state in states.items():
        targets = [state.get("Next"), state.get("Default")]
        targets += [c["Next"] for c in state.get("Catch", []) + state.get("Choices", [])]
        assert all(t in states for t in targets if t), name
        if state["Type"] == "Task":
            assert state.get("Catch"), f"{name} has no Catch: a failure there would skip rollback and rejection"
    reachable, todo = set(), [definition["StartAt"]]
    while todo:
        name = todo.pop()
        if name in reachable:
            continue
        reachable.add(name)
        state = states[name]
        todo += [t for t in [state.get("Next"), state.get("Default")] if t]
        todo += [c["Next"] for c in state.get("Catch", []) + state.get("Choices", [])]
    assert reachable == set(states)


def test_prod_waits_for_a_person_with_a_task_token_and_staging_does_not(
    definitions, platform_config: PlatformConfig
) -> None:
    assert "WaitForApproval" not in definitions["staging"]["States"]
    assert "WaitForApproval" not in definitions["dev"]["States"]
    states = definitions["prod"]["States"]
    wait = states["WaitForApproval"]
    hours = platform_config.environment("prod").promotion.approval_timeout_hours
    assert wait["Resource"] == "arn:<AWS::Partition>:states:::sns:publish.waitForTaskToken"
    assert wait["TimeoutSeconds"] == hours * 3600
    assert wait["Arguments"]["TopicArn"].startswith("<Alerts")
    message = wait["Arguments"]["Message"]
    assert message.count("$states.context.Task.Token") == 2
    assert "aws stepfunctions send-task-success --task-token" in message
    assert "aws stepfunctions send-task-failure --task-token" in message
    assert """--task-output '{\\"approved\\": true, \\"approver\\": \\"<your name>\\"}'""" in message
    assert "'Champion/challenger: ' & $gate.summary" in message  # the evidence is in front of the person
    assert f"within {hours} hours" in message
    # approved -> deploy; refused or timed out -> Rejected, with the reason
    assert wait["Next"] == "CreateEndpointConfig"
    timeout, refused = wait["Catch"]
    assert timeout["ErrorEquals"] == ["States.Timeout"]
    assert timeout["Next"] == "BaselinesPublished"  # the clean-up, then RejectPackage
    assert timeout["Assign"]["reason"] == f"no decision within {hours} hours of approval"
    assert refused["ErrorEquals"] == ["States.ALL"]
    assert refused["Next"] == "BaselinesPublished"
    assert "refused by a person" in refused["Assign"]["reason"]
    # the gate's verdict is known before the decision; nothing of the endpoint is created before it
    assert states["GateVerdict"]["Choices"][0]["Next"] == "WaitForApproval"
    assert "approver" in wait["Assign"]


def test_the_state_machine_role_is_least_privilege(operations) -> None:
    template = operations["prod"]
    statements = policy_statements(template, "ModelPromotionStateMachineRole", effect="Allow")
    assert statements
    for statement in statements:
        actions = as_list(statement["Action"])
        assert not any(a == "*" or a.endswith(":*") for a in actions), actions
    by_action = _resources_by_action(statements)
    sagemaker = {a: r for a, r in by_action.items() if a.startswith("sagemaker:")}
    assert sagemaker["sagemaker:createmodel"] == ["arn:aws:sagemaker:eu-west-1:333333333333:model/mlops-prod-*"]
    assert sagemaker["sagemaker:updatemodelpackage"] == [
        "arn:aws:sagemaker:eu-west-1:333333333333:model-package/mlops-prod-models/*"
    ]
    for action in ("sagemaker:updateendpoint", "sagemaker:describeendpoint", "sagemaker:deleteendpoint"):
        assert "arn:aws:sagemaker:eu-west-1:333333333333:endpoint/mlops-prod-endpoint" in sagemaker[action]
        assert all(
            r.endswith(("endpoint/mlops-prod-endpoint", "endpoint-config/mlops-prod-*")) for r in sagemaker[action]
        )
    (passed,) = [s for s in statements if s["Action"] == "iam:PassRole"]
    assert passed["Condition"] == {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}
    assert _render(passed["Resource"]).startswith("<ModelPromotionEndpointRole")
    assert [r.split(":parameter")[1] for r in by_action["ssm:putparameter"]] == ["/mlops/prod/current-model-package"]
    written = sorted(r.rsplit("/", 2)[-2] + "/" + r.rsplit("/", 1)[-1] for r in by_action["s3:putobject"])
    assert written == ["current/baseline.json", "current/model.tar.gz", "imported/*"]
    # its own runs, and staging's (the source's) through staging's bucket policy
    assert sorted(by_action["s3:getobject"]) == [
        "arn:<AWS::Partition>:s3:::mlops-staging-artifacts-222222222222-eu-west-1/pipeline-runs/*",
        "arn:aws:s3:::mlops-prod-artifacts-<AWS::AccountId>-<AWS::Region>/pipeline-runs/*",
    ]
    assert "arn:aws:sagemaker:eu-west-1:222222222222:model-package/mlops-staging-models/*" in [
        r.replace("<AWS::Partition>", "aws") for r in sagemaker["sagemaker:describemodelpackage"]
    ]
    (source_key,) = [s for s in statements if s.get("Sid") == "SourceLakeKeyForImports"]
    assert _render(source_key["Resource"]) == "arn:<AWS::Partition>:kms:eu-west-1:222222222222:key/*"
    assert source_key["Condition"] == {"StringEquals": {"kms:ViaService": "s3.eu-west-1.amazonaws.com"}}


def test_the_endpoint_role_reads_models_and_writes_data_capture_only(operations) -> None:
    statements = policy_statements(operations["prod"], "ModelPromotionEndpointRole")
    s3 = {
        s["Sid"]: (s["Action"], _render(s["Resource"]))
        for s in statements
        if s["Sid"] in ("ReadModels", "WriteDataCapture")
    }
    assert s3["ReadModels"][0] == "s3:GetObject"
    assert s3["ReadModels"][1].endswith("/pipeline-runs/*")
    assert s3["WriteDataCapture"][0] == "s3:PutObject"
    assert s3["WriteDataCapture"][1].endswith("/data-capture/*")
    role = _resources(operations["prod"], "AWS::IAM::Role")
    (endpoint_role,) = [r for k, r in role.items() if k.startswith("ModelPromotionEndpointRole")]
    principal = endpoint_role["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]["Principal"]
    assert principal == {"Service": "sagemaker.amazonaws.com"}


def test_the_smoke_test_function_reads_test_splits_and_invokes_the_one_endpoint(
    operations, templates: dict[str, Template], platform_config: PlatformConfig
) -> None:
    template = operations["prod"]
    templates["prod"].has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Handler": "handler.handler",
            "Environment": {
                "Variables": Match.exact(
                    {
                        "ENDPOINT_NAME": "mlops-prod-endpoint",
                        "SMOKE_TEST_ROWS": str(platform_config.environment("prod").promotion.smoke_test_rows),
                    }
                )
            },
        },
    )
    statements = {s["Sid"]: s for s in policy_statements(template, "ModelPromotionSmokeTestRole") if "Sid" in s}
    assert _render(statements["ReadTestSplit"]["Resource"]).endswith("/pipeline-runs/*/Preprocess/raw_test/test.csv")
    assert _render(statements["Invoke"]["Resource"]).endswith(":endpoint/mlops-prod-endpoint")


def test_autoscaling_only_where_capacity_may_vary_and_never_on_burstable_instances(
    platform_config: PlatformConfig,
) -> None:
    prod = platform_config.environment("prod").inference
    assert autoscaling_enabled(prod) is True
    assert autoscaling_enabled(platform_config.environment("dev").inference) is False  # serverless
    assert autoscaling_enabled(prod.model_copy(update={"min_capacity": 2, "max_capacity": 2})) is False
    with pytest.raises(ValueError, match="does not autoscale burstable"):
        autoscaling_enabled(prod.model_copy(update={"instance_type": "ml.t3.large"}))


# ------------------------------------------------------------------------------- model-monitor backend (prod)


@pytest.fixture(scope="module")
def model_monitor_states(model_monitor_synthesis: Synthesis) -> dict[str, Any]:
    template = model_monitor_synthesis.stack("prod", "Operations").template
    machine = _only(template, "AWS::StepFunctions::StateMachine")
    return dict(json.loads(_render(machine["Properties"]["DefinitionString"]))["States"])


def test_with_model_monitor_a_promotion_writes_every_baseline_the_schedules_read(
    model_monitor_states: dict[str, Any], model_monitor_synthesis: Synthesis
) -> None:
    states = model_monitor_states
    path = _path(
        states,
        "Start",
        {"HasModelMonitorBaselines": 0, "EndpointReady": 0, "EndpointState": 0, "HasChampion": 0, "GateVerdict": 0},
    )
    tail = path[path.index("CopyModel") + 1 :]
    assert tail == [
        "CopyDataQualityStatistics", "CopyDataQualityConstraints", "CopyShapBaseline",
        "WriteBiasAnalysisConfig", "WriteExplainabilityAnalysisConfig", "RecordCurrentPackage", "ListEndpointConfigs",
        "DeleteSuperseded", "NotifyPromoted", "Promoted",
    ]  # fmt: skip
    # each copy reads the URI the package's metadata records and writes the key the schedules read
    describe = states["DescribePackage"]["Assign"]["package"]
    for key, (state, file) in PACKAGE_BASELINES.items():
        assert describe[key] == (
            f"{{% $exists($states.result.CustomerMetadataProperties.{key}) ? "
            f"$states.result.CustomerMetadataProperties.{key} : '' %}}"
        )
        arguments = states[state]["Arguments"]
        assert arguments["Key"] == f"monitoring/current/model-monitor/{file}"
        assert arguments["CopySource"] == f"{{% $substringAfter($package.{key}, 's3://') %}}"
        assert _catch(states[state]) == "Rollback"  # a failed copy rolls the endpoint back, like the others
    operations = model_monitor_synthesis.stack("prod", "Operations").template
    read_by_schedules = set()
    for kind in ("DataQuality", "ModelBias", "ModelExplainability"):
        (definition,) = _resources(operations, f"AWS::SageMaker::{kind}JobDefinition").values()
        read_by_schedules |= set(
            re.findall(r"monitoring/current/model-monitor/([\w./-]+)", json.dumps(definition["Properties"]))
        )
    written = {
        states[state]["Arguments"]["Key"].split("monitoring/current/model-monitor/")[1]
        for state in tail
        if state.startswith(("Copy", "Write"))
    }
    assert read_by_schedules <= written
    assert written - read_by_schedules == {"model-explainability/shap_baseline.csv"}  # read through the config


def test_the_clarify_analysis_configs_are_what_the_sagemaker_sdk_would_write(
    model_monitor_states: dict[str, Any],
) -> None:
    from sagemaker.core.clarify import BiasConfig, ModelConfig, SHAPConfig
    from sagemaker.core.model_monitor.clarify_model_monitoring import BiasAnalysisConfig, ExplainabilityAnalysisConfig

    from pipeline_code import schema

    bias = json.loads(model_monitor_states["WriteBiasAnalysisConfig"]["Arguments"]["Body"])
    expected_bias = BiasAnalysisConfig(
        BiasConfig(label_values_or_threshold=[1], facet_name="sex", facet_values_or_threshold=[0]),
        headers=[schema.LABEL, *schema.FEATURE_NAMES],
        label=schema.LABEL,
    )._to_dict()
    assert bias == expected_bias
    assert (
        schema.column("sex").categories[bias["facet"][0]["value_or_threshold"][0]] == "Female"
    )  # the facet the bias gate checks
    explain = json.loads(model_monitor_states["WriteExplainabilityAnalysisConfig"]["Arguments"]["Body"])
    shap_baseline = explain["methods"]["shap"]["baseline"]
    assert shap_baseline.startswith("s3://mlops-prod-artifacts-")
    assert shap_baseline.endswith("/monitoring/current/model-monitor/model-explainability/shap_baseline.csv")
    expected_explain = ExplainabilityAnalysisConfig(
        SHAPConfig(baseline=shap_baseline, num_samples=100, agg_method="mean_abs", save_local_shap_values=False),
        ModelConfig(endpoint_name="mlops-prod-endpoint", content_type="text/csv", accept_type="text/csv"),
        headers=list(schema.FEATURE_NAMES),
    )._to_dict()
    assert explain == expected_explain
    for state in ("WriteBiasAnalysisConfig", "WriteExplainabilityAnalysisConfig"):
        arguments = model_monitor_states[state]["Arguments"]
        assert arguments["ServerSideEncryption"] == "aws:kms"
        assert _catch(model_monitor_states[state]) == "Rollback"


def test_with_model_monitor_a_package_without_baselines_is_rejected_before_anything_is_deployed(
    model_monitor_states: dict[str, Any],
) -> None:
    states = model_monitor_states
    assert states["DescribePackage"]["Next"] == "HasModelMonitorBaselines"
    choice = states["HasModelMonitorBaselines"]
    (present,) = choice["Choices"]
    for key in PACKAGE_BASELINES:
        assert f"$package.{key} != ''" in present["Condition"]
    assert present["Next"] == "CreateModel"  # then the gate, a person's decision (prod), the deploy
    path = _path(states, "Start", {})
    assert path[: path.index("RejectPackage") + 1] == [
        "Start", "ClaimApproval", "DescribePackage", "HasModelMonitorBaselines", "NoModelMonitorBaselines",
        "BaselinesPublished", "NewModelUnused", "RejectPackage",
    ]  # fmt: skip
    reason = states["NoModelMonitorBaselines"]["Assign"]["reason"]
    assert "pipeline.native_checks" in reason
    assert "has no Model Monitor baselines" in reason


def test_with_model_monitor_the_state_machine_writes_only_the_baseline_keys(model_monitor_synthesis) -> None:
    template = model_monitor_synthesis.stack("prod", "Operations").template
    written = sorted(
        _render(r).split("/monitoring/")[1]
        for statement in policy_statements(template, "ModelPromotionStateMachineRole")
        if "s3:PutObject" in as_list(statement["Action"])
        for r in as_list(statement["Resource"])
    )
    assert written == [
        "current/baseline.json",
        "current/model-monitor/data-quality/constraints.json",
        "current/model-monitor/data-quality/statistics.json",
        "current/model-monitor/model-bias/analysis_config.json",
        "current/model-monitor/model-explainability/analysis_config.json",
        "current/model-monitor/model-explainability/shap_baseline.csv",
        "current/model.tar.gz",
    ]


@pytest.mark.parametrize("stage", STAGES)
def test_after_a_promotion_superseded_configs_and_models_are_deleted_without_risking_it(
    definitions, stage: str
) -> None:
    states = definitions[stage]["States"]
    listed = states["ListEndpointConfigs"]
    assert listed["Arguments"]["NameContains"] == f"mlops-{stage}-v"
    assert (listed["Arguments"]["SortBy"], listed["Arguments"]["SortOrder"]) == ("CreationTime", "Descending")
    each = states["DeleteSuperseded"]
    assert each["Type"] == "Map"
    assert each["Items"] == "{% $superseded %}"
    assert each["MaxConcurrency"] == 1
    # a failure anywhere in the clean-up goes on to the success message: the model is live
    assert _catch(listed) == "NotifyPromoted"
    assert _catch(each) == "NotifyPromoted"
    assert each["Next"] == "NotifyPromoted"
    inner = each["ItemProcessor"]["States"]
    assert each["ItemProcessor"]["StartAt"] == "DeleteSupersededConfig"
    assert inner["DeleteSupersededConfig"]["Arguments"] == {"EndpointConfigName": "{% $states.input %}"}
    assert inner["DeleteSupersededModel"]["Arguments"] == {"ModelName": "{% $states.input %}"}
    assert _catch(inner["DeleteSupersededConfig"]) == "DeleteSupersededModel"
    assert _catch(inner["DeleteSupersededModel"]) == "SupersededDeleted"


def test_the_state_machine_may_delete_only_its_own_environment_s_configs_and_models(operations) -> None:
    by_action = _resources_by_action(policy_statements(operations["prod"], "ModelPromotionStateMachineRole"))
    assert by_action["sagemaker:deleteendpointconfig"] == [
        "arn:aws:sagemaker:eu-west-1:333333333333:endpoint-config/mlops-prod-*"
    ]
    assert by_action["sagemaker:deletemodel"] == ["arn:aws:sagemaker:eu-west-1:333333333333:model/mlops-prod-*"]
    assert by_action["sagemaker:listendpointconfigs"] == ["*"]  # no resource type in IAM


@pytest.mark.parametrize("stage", STAGES)
def test_where_a_person_approves_an_approver_policy_scoped_to_the_state_machine_ships(
    operations, platform_config: PlatformConfig, stage: str
) -> None:
    """f: whoever approves prod models needs SendTaskSuccess/SendTaskFailure: a managed policy to attach (and
    an environment promoted automatically has no approval to answer, so no such policy)."""
    template = operations[stage]
    policies = _resources(template, "AWS::IAM::ManagedPolicy")
    approver = {k: p for k, p in policies.items() if k.startswith("ModelPromotionApproverPolicy")}
    if not platform_config.environment(stage).promotion.manual_approval:
        assert approver == {}
        return
    ((_, policy),) = approver.items()
    assert policy["Properties"]["ManagedPolicyName"] == f"mlops-{stage}-promotion-approver"
    machines = _resources(template, "AWS::StepFunctions::StateMachine")
    machine = next(k for k in machines if k.startswith("ModelPromotion"))
    statements = {s["Sid"]: s for s in policy["Properties"]["PolicyDocument"]["Statement"]}
    answer = statements["AnswerTheApproval"]
    assert answer["Action"] == ["states:SendTaskFailure", "states:SendTaskSuccess"]
    assert answer["Resource"] == {"Ref": machine}
    read = statements["ReadTheTaskToken"]
    assert read["Action"] == ["states:DescribeExecution", "states:GetExecutionHistory"]
    assert f":execution:mlops-{stage}-promotion:*" in json.dumps(read["Resource"])
    assert all(s["Effect"] == "Allow" and s["Resource"] != "*" for s in statements.values())
