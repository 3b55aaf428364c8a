"""The ModelPromotion construct alone, in a bare stack per environment: what its parts are for.

Built from each environment's own config with imported targets (no other unit), read with `aws_cdk.assertions`.
The definition is walked with the fragments that made each state (`construct.node`), so the tests say which part
of the package does what; state-by-state behaviour and the whole app are in `test_model_promotion.py`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, cast

import aws_cdk as cdk
import pytest
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk.assertions import Capture, Match, Template
from constructs import IConstruct

from app import feature_flags
from config import ConfigError, EnvironmentConfig, PlatformConfig
from naming import ResourceNames
from stacks.units.model_promotion import ModelPromotion, PromotionSource, PromotionTargets, autoscaling_enabled
from stacks.units.model_promotion.approval import Approval
from stacks.units.model_promotion.deploy import Deploy
from stacks.units.model_promotion.describe import Describe
from stacks.units.model_promotion.gate import ChampionChallenger
from stacks.units.model_promotion.import_package import ImportPackage
from stacks.units.model_promotion.in_service import AwaitInService
from stacks.units.model_promotion.publish import PublishBaselines
from stacks.units.model_promotion.rejection import Rejection
from stacks.units.model_promotion.retire import RetireSuperseded
from stacks.units.model_promotion.rollback import Rollback
from stacks.units.model_promotion.smoke_test import SmokeTest
from stacks.units.model_promotion.soak import Soak
from stacks.units.model_promotion.steps import FlowFragment
from stacks.units.settings import log_retention, removal_policy, stage_names
from tests.stacks.rendering import as_list, render

ENVIRONMENTS = ("dev", "staging", "prod")
_SDK_CALL = re.compile(r"^arn:<AWS::Partition>:states:::aws-sdk:(?P<service>[a-z0-9]+):(?P<action>\w+)$")
_INTEGRATION = re.compile(r"^arn:<AWS::Partition>:states:::(?P<service>sns|lambda):(?P<action>\w+)")


@dataclass(frozen=True)
class Built:
    name: str
    environment: EnvironmentConfig
    promotion: ModelPromotion
    template: Template

    @property
    def definition(self) -> dict[str, Any]:
        definition = Capture()
        self.template.has_resource_properties("AWS::StepFunctions::StateMachine", {"DefinitionString": definition})
        return dict(json.loads(render(definition.as_object())))

    @property
    def owners(self) -> dict[str, type[FlowFragment]]:
        """State name → the fragment class that made the state."""
        return {
            state.state_id: type(fragment)
            for fragment in self.promotion.node.children
            if isinstance(fragment, FlowFragment)
            for state in fragment.node.find_all()
            if isinstance(state, sfn.State)
        }


def _promotion(
    stack: cdk.Stack, name: str, environment: EnvironmentConfig, source: EnvironmentConfig | None = None
) -> ModelPromotion:
    """The construct with the minimal surroundings: imported bucket, key and topic, the environment's config."""
    return ModelPromotion(
        stack,
        "ModelPromotion",
        names=stage_names("mlops", name, "adult"),
        inference=environment.inference,
        promotion=environment.promotion,
        thresholds=environment.thresholds,
        source=PromotionSource(ResourceNames("mlops", source.name, source.account or "", source.region))
        if source
        else None,
        where=PromotionTargets(
            artifacts_bucket=s3.Bucket.from_bucket_name(stack, "Artifacts", f"mlops-{name}-artifacts"),
            key=kms.Key.from_key_arn(
                stack, "Key", "arn:aws:kms:eu-west-1:111111111111:key/0b7e5a1c-2d3f-4a5b-8c6d-7e8f9a0b1c2d"
            ),
            alerts=sns.Topic.from_topic_arn(stack, "Alerts", "arn:aws:sns:eu-west-1:111111111111:alerts"),
            current_model_parameter=f"/mlops/{name}/current-model-package",
        ),
        log_retention=log_retention(environment),
        removal_policy=removal_policy(environment),
        model_monitor=environment.monitoring.backend == "model-monitor",
    )


@pytest.fixture(scope="module", params=ENVIRONMENTS)
def built(
    request: pytest.FixtureRequest, platform_config: PlatformConfig, tmp_path_factory: pytest.TempPathFactory
) -> Built:
    name = request.param
    environment = platform_config.environment(name)
    # CloudFormation's schema validation would cost more than the whole synth (as in app.create_app: cfn-lint
    # checks the real templates); the assembly goes to a test folder, not a new /tmp/cdk.out* per synth.
    # With cdk.json's feature flags, as the app builds it (minimizePolicies keeps the role's policy in one piece).
    app = cdk.App(
        outdir=str(tmp_path_factory.mktemp(f"promotion-{name}")),
        builtin_cloud_formation_validation=False,
        context=feature_flags(),
    )
    stack = cdk.Stack(app, "Promotion", env=cdk.Environment(account="111111111111", region="eu-west-1"))
    promotion = _promotion(stack, name, environment, platform_config.source_of(name))
    return Built(name, environment, promotion, Template.from_stack(stack))


def _logical_id(construct: IConstruct) -> str:
    return cdk.Stack.of(construct).get_logical_id(cast(cdk.CfnElement, construct.node.default_child))


def _happy_path(states: dict[str, Any], start: str) -> list[str]:
    """Next from `start`, at every Choice its first rule: the one that goes on (baselines present, ready, InService)."""
    path, name = [], start
    while states[name]["Type"] not in ("Succeed", "Fail"):
        path.append(name)
        state = states[name]
        name = state["Choices"][0]["Next"] if state["Type"] == "Choice" else state["Next"]
        assert len(path) < 60, path
    return [*path, name]


def _tasks(states: dict[str, Any]) -> list[dict[str, Any]]:
    """Every Task, those inside a Map's item processor included."""
    found = []
    for state in states.values():
        if state["Type"] == "Task":
            found.append(state)
        if "ItemProcessor" in state:
            found += _tasks(state["ItemProcessor"]["States"])
    return found


def test_an_execution_runs_through_the_fragments_in_the_order_the_package_lists_them(built: Built) -> None:
    definition, owners = built.definition, built.owners
    path = _happy_path(definition["States"], definition["StartAt"])
    fragments = [owners[name] for name in path]
    in_order = [kind for i, kind in enumerate(fragments) if i == 0 or fragments[i - 1] is not kind]
    promotion = built.environment.promotion
    imported = [ImportPackage] if promotion.source != "own" else []
    approval = [Approval] if promotion.manual_approval else []
    soak = [Soak] if promotion.soak_minutes else []
    assert in_order == [
        Describe, *imported, ChampionChallenger, *approval, Deploy, AwaitInService, SmokeTest, *soak,
        PublishBaselines, RetireSuperseded,
    ]  # fmt: skip
    assert (path[0], path[-1]) == ("Start", "Promoted")
    # every state of the definition is one a fragment made (no stray state outside the package's structure)
    assert set(definition["States"]) <= set(owners)


def test_failures_reject_before_the_endpoint_changes_and_roll_back_after(built: Built) -> None:
    states, owners = built.definition["States"], built.owners
    rollback = "Rollback"
    rejection = "BaselinesPublished"  # the rejection's start: restore monitoring/current/ if it changed
    # UpdateEndpoint's failure was rolled back by SageMaker: only autoscaling is registered again, then rejected
    restore = "RestoreScalableTarget" if autoscaling_enabled(built.environment.inference) else rejection
    approval = {rejection} if built.environment.promotion.manual_approval else set()
    promotion = built.environment.promotion
    expected: dict[type[FlowFragment], set[str]] = {
        Describe: {rejection},
        ImportPackage: {rejection} if promotion.source != "own" else set(),
        ChampionChallenger: {rejection},  # the candidate's model exists; the endpoint did not change
        Approval: approval,
        Deploy: {rejection, restore},
        AwaitInService: {rollback},
        SmokeTest: {rollback},
        Soak: {rollback} if promotion.soak_minutes else set(),
        PublishBaselines: {rollback},
        RetireSuperseded: set(),  # deleting old configs never fails a promotion
    }
    handed: dict[type[FlowFragment], set[str]] = {kind: set() for kind in expected}
    for name, state in states.items():
        owner = owners[name]
        if owner in (Rollback, Rejection):
            continue
        targets = [c["Next"] for c in state.get("Catch", []) + state.get("Choices", [])]
        targets += [t for t in (state.get("Next"), state.get("Default")) if t]
        handed[owner] |= {t for t in targets if owners[t] in (Rollback, Rejection)}
    assert handed == expected
    assert owners[rollback] is Rollback
    assert owners[rejection] is Rejection


def test_the_state_machine_role_may_do_exactly_what_the_flow_calls(built: Built) -> None:
    called: set[str] = set()
    for task in _tasks(built.definition["States"]):
        if sdk := _SDK_CALL.match(task["Resource"]):
            service = {"applicationautoscaling": "application-autoscaling"}.get(sdk["service"], sdk["service"])
            action = f"{service}:{sdk['action']}".lower()
            # CopyObject is authorized as PutObject on the copy and GetObject on its source
            called |= {"s3:putobject", "s3:getobject"} if action == "s3:copyobject" else {action}
        else:
            integration = _INTEGRATION.match(task["Resource"])
            assert integration, task["Resource"]
            called.add({"sns": "sns:publish", "lambda": "lambda:invokefunction"}[integration["service"]])

    role = _logical_id(built.promotion.state_machine.role)
    (policy,) = built.template.find_resources("AWS::IAM::Policy", {"Properties": {"Roles": [{"Ref": role}]}}).values()
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    allowed = {action.lower() for statement in statements for action in as_list(statement["Action"])}
    assert all(statement["Effect"] == "Allow" for statement in statements)

    # beyond the calls: pass the endpoint its role, use the lake key (endpoint volumes, copies, the alert topic)
    extra = {"iam:passrole", "kms:creategrant", "kms:describekey", "kms:decrypt", "kms:generatedatakey"}
    if autoscaling_enabled(built.environment.inference):
        # Application Auto Scaling's side effects: its service-linked role, target tracking's alarms, the variant
        extra |= {"iam:createservicelinkedrole", "sagemaker:updateendpointweightsandcapacities"}
        extra |= {"cloudwatch:putmetricalarm", "cloudwatch:describealarms", "cloudwatch:deletealarms"}
    # CDK's grants for tracing (X-Ray) and for logging to the log group (log delivery): no other services
    cdk_grants = {action for action in allowed if action.startswith(("xray:", "logs:"))}
    assert allowed - cdk_grants == called | extra


def test_a_person_approves_in_prod_only_through_the_approver_policy(built: Built) -> None:
    manual = built.environment.promotion.manual_approval
    assert manual is (built.name == "prod")
    states = built.definition["States"]
    assert ("WaitForApproval" in states) is manual
    built.template.resource_count_is("AWS::IAM::ManagedPolicy", 1 if manual else 0)
    if not manual:
        return
    assert states["WaitForApproval"]["Resource"].endswith(":states:::sns:publish.waitForTaskToken")
    machine = _logical_id(built.promotion.state_machine)
    built.template.has_resource_properties(
        "AWS::IAM::ManagedPolicy",
        {
            "ManagedPolicyName": "mlops-prod-promotion-approver",
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Action": [
                                    "states:SendTaskFailure",
                                    "states:SendTaskSuccess",
                                ],  # sorted (minimizePolicies)
                                "Resource": {"Ref": machine},
                            }
                        )
                    ]
                )
            },
        },
    )


def test_an_approved_package_of_the_environment_starts_the_machine_through_a_role_that_may_only_start_it(
    built: Built,
) -> None:
    machine = _logical_id(built.promotion.state_machine)
    start_role = Capture()
    source = built.environment.promotion.source
    # staging and prod start on their source's approvals, forwarded from its account (the source's config)
    from_account = {"account": [{"dev": "111111111111", "staging": "222222222222"}[source]]} if source != "own" else {}
    built.template.has_resource_properties(
        "AWS::Events::Rule",
        {
            "EventPattern": {
                "source": ["aws.sagemaker"],
                "detail-type": ["SageMaker Model Package State Change"],
                "detail": {
                    "ModelPackageGroupName": [f"mlops-{built.name if source == 'own' else source}-models"],
                    "ModelApprovalStatus": ["Approved"],
                },
                **from_account,
            },
            "Targets": [
                {"Arn": {"Ref": machine}, "Id": Match.any_value(), "RoleArn": {"Fn::GetAtt": [start_role, "Arn"]}}
            ],
        },
    )
    built.template.has_resource_properties(
        "AWS::IAM::Policy",
        {
            "Roles": [{"Ref": start_role.as_string()}],
            "PolicyDocument": {
                "Statement": [{"Action": "states:StartExecution", "Effect": "Allow", "Resource": {"Ref": machine}}]
            },
        },
    )


def test_autoscaling_a_burstable_instance_is_a_config_error(platform_config: PlatformConfig) -> None:
    prod = platform_config.environment("prod")
    burstable = prod.model_copy(
        update={"inference": prod.inference.model_copy(update={"instance_type": "ml.t3.large"})}
    )
    with pytest.raises(ConfigError, match=r"inference\.instance_type ml\.t3\.large: SageMaker does not autoscale"):
        _promotion(cdk.Stack(cdk.App(), "Promotion"), "prod", burstable)
