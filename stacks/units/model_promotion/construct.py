"""The ModelPromotion construct: its resources, and the run composed from the fragments in the order they run."""

from __future__ import annotations

from itertools import pairwise

import aws_cdk as cdk
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_logs as logs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from config import InferenceSettings, PromotionSettings
from naming import ResourceNames
from stacks.units.model_promotion import permissions
from stacks.units.model_promotion.approval import Approval
from stacks.units.model_promotion.deploy import Deploy
from stacks.units.model_promotion.describe import Describe, approvals_table
from stacks.units.model_promotion.in_service import AwaitInService
from stacks.units.model_promotion.publish import PublishBaselines
from stacks.units.model_promotion.rejection import Rejection
from stacks.units.model_promotion.retire import RetireSuperseded
from stacks.units.model_promotion.rollback import Rollback
from stacks.units.model_promotion.smoke_test import SmokeTest, smoke_test_function
from stacks.units.model_promotion.steps import (
    Failures,
    Flow,
    FlowFragment,
    PromotionTargets,
    autoscaling_enabled,
)


class ModelPromotion(Construct):
    """State machine `<prefix>-promotion`, its endpoint execution role, smoke-test Lambda, log group and rule.

    Expects the model package group `names.model_package_group` (packages registered by the training pipeline,
    artifacts under `pipeline-runs/` of the artifacts zone) and the alert topic (approvals, results).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        names: ResourceNames,
        inference: InferenceSettings,
        promotion: PromotionSettings,
        where: PromotionTargets,
        log_retention: logs.RetentionDays,
        removal_policy: cdk.RemovalPolicy,
        model_monitor: bool = False,
    ) -> None:
        """`model_monitor`: the environment monitors with Model Monitor (`monitoring.backend: model-monitor`).

        Raises `ConfigError` for an inference config the promotion cannot deploy (see `autoscaling_enabled`)."""
        super().__init__(scope, construct_id)
        flow = Flow(
            stack=cdk.Stack.of(self),
            names=names,
            inference=inference,
            promotion=promotion,
            where=where,
            model_monitor=model_monitor,
            autoscaling=autoscaling_enabled(inference),
        )
        self.state_machine_name = names.promotion_state_machine
        self.endpoint_arn = flow.endpoint_arn
        self.endpoint_role = permissions.endpoint_role(self, flow)
        self.smoke_test = smoke_test_function(self, flow, log_retention, removal_policy)
        self.approvals = approvals_table(self, flow, removal_policy)

        self.log_group = logs.LogGroup(
            self,
            "Logs",
            log_group_name=f"/aws/vendedlogs/states/{self.state_machine_name}",
            encryption_key=where.key,
            retention=log_retention,
            removal_policy=removal_policy,
        )
        self.state_machine = sfn.StateMachine(
            self,
            "StateMachine",
            state_machine_name=self.state_machine_name,
            comment=f"Deploys approved packages of {names.model_package_group} to {names.endpoint}",
            query_language=sfn.QueryLanguage.JSONATA,
            definition_body=sfn.DefinitionBody.from_chainable(self._definition(flow)),
            tracing_enabled=True,
            logs=sfn.LogOptions(destination=self.log_group, level=sfn.LogLevel.ALL, include_execution_data=True),
        )
        permissions.grant_state_machine(
            self.state_machine.role, flow, endpoint_role=self.endpoint_role, smoke_test=self.smoke_test
        )
        self.approver_policy = (
            permissions.approver_policy(self, flow, self.state_machine.state_machine_arn, self.state_machine_name)
            if promotion.manual_approval
            else None
        )

        self.rule = events.Rule(
            self,
            "OnApproved",
            description=f"An approved package of {names.model_package_group} starts {self.state_machine_name}",
            event_pattern=events.EventPattern(
                source=["aws.sagemaker"],
                detail_type=["SageMaker Model Package State Change"],
                detail={"ModelPackageGroupName": [names.model_package_group], "ModelApprovalStatus": ["Approved"]},
            ),
            targets=[
                targets.SfnStateMachine(self.state_machine, role=permissions.start_role(self, self.state_machine_name))
            ],
        )

    def _definition(self, flow: Flow) -> sfn.IChainable:
        """The run, fragment by fragment in the order it executes; then the two ways a failure ends."""
        run: list[FlowFragment] = [Describe(self, "Describe", flow=flow, approvals=self.approvals)]
        if flow.promotion.manual_approval:
            run.append(Approval(self, "Approval", flow=flow))
        run += [
            Deploy(self, "Deploy", flow=flow, endpoint_role=self.endpoint_role),
            AwaitInService(self, "AwaitInService", flow=flow),
            SmokeTest(self, "SmokeTest", function=self.smoke_test),
            PublishBaselines(self, "PublishBaselines", flow=flow),
            RetireSuperseded(self, "RetireSuperseded", flow=flow),
        ]
        for fragment, following in pairwise(run):
            fragment.next(following)

        rejection = Rejection(self, "Rejection", flow=flow)
        rollback = Rollback(self, "Rollback", flow=flow, then=rejection)
        failures = Failures(rejection=rejection, rollback=rollback, restore_scaling=rollback.restore_scaling)
        # Failure transitions are added last, from the end of the run back to its start. CDK writes the states (and
        # the role's statements for them) in the order its walk from Start finds them, and the walk visits each
        # state's incoming transitions in the order they were added: this order renders the definition the flow
        # had when it was built back to front. Another order reorders the States object and the role's policy:
        # no change in behaviour, but a change to every deployed template.
        for fragment in reversed(run):
            fragment.hand_failures(failures)
        return run[0]
