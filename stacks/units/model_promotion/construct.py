"""The ModelPromotion construct: its resources, and the run composed from the fragments in the order they run."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise

import aws_cdk as cdk
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from config import InferenceSettings, PromotionSettings, ReservedConcurrency, Thresholds
from naming import ResourceNames
from stacks.units.compliance import acknowledge_grant_policy, justify_scan
from stacks.units.model_promotion import permissions
from stacks.units.model_promotion.approval import Approval
from stacks.units.model_promotion.deploy import Deploy
from stacks.units.model_promotion.describe import Describe, approvals_table
from stacks.units.model_promotion.gate import ChampionChallenger, checks_function
from stacks.units.model_promotion.import_package import ImportPackage
from stacks.units.model_promotion.in_service import AwaitInService
from stacks.units.model_promotion.publish import PublishBaselines
from stacks.units.model_promotion.rejection import Rejection
from stacks.units.model_promotion.retire import RetireSuperseded
from stacks.units.model_promotion.rollback import Rollback
from stacks.units.model_promotion.smoke_test import SmokeTest, smoke_test_function
from stacks.units.model_promotion.soak import Soak, rollback_alarms
from stacks.units.model_promotion.steps import (
    Failures,
    Flow,
    FlowFragment,
    PromotionSource,
    PromotionTargets,
    autoscaling_enabled,
)
from stacks.units.network import NetworkRefs, deny_compute_outside, grant_sagemaker_network_interfaces


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
        thresholds: Thresholds,
        where: PromotionTargets,
        log_retention: logs.RetentionDays,
        removal_policy: cdk.RemovalPolicy,
        model_monitor: bool = False,
        source: PromotionSource | None = None,
        consumers: Sequence[ResourceNames] = (),
        network: NetworkRefs | None = None,
        reserved_concurrency: ReservedConcurrency | None = None,
    ) -> None:
        """`model_monitor`: the environment monitors with Model Monitor (`monitoring.backend: model-monitor`).
        `source`: the environment whose packages this one promotes (`promotion.source`), None for its own.
        `consumers`: the environments that promote this one's packages: its Approved packages are sent to their
        accounts' default event buses. `network`: the subnets the models and the functions run in (None: no VPC);
        the state machine then cannot create a model outside them. `reserved_concurrency`: the functions'
        (`functions.reserved_concurrency`; None: 1 each).

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
            thresholds=thresholds,
            source=source,
            network=network,
        )
        self.state_machine_name = names.promotion_state_machine
        self.endpoint_arn = flow.endpoint_arn
        self.endpoint_role = permissions.endpoint_role(self, flow)
        concurrency = reserved_concurrency or ReservedConcurrency(
            retrain_on_drift=1, retrain_on_new_data=1, retrain_on_schedule=1, promotion_checks=1, smoke_test=1
        )
        self.smoke_test = smoke_test_function(self, flow, log_retention, removal_policy, concurrency.smoke_test)
        self.checks = checks_function(self, flow, log_retention, removal_policy, concurrency.promotion_checks)
        self.approvals = approvals_table(self, flow, removal_policy)
        self.rollback_alarms = rollback_alarms(self, flow)

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
            self.state_machine.role,
            flow,
            endpoint_role=self.endpoint_role,
            smoke_test=self.smoke_test,
            checks=self.checks,
        )
        justify_scan(
            self.state_machine.role.node.find_child("DefaultPolicy"),
            "CKV_AWS_111",
            "The one Resource * statement holds actions IAM gives no resource type (X-Ray, CloudWatch Logs "
            "delivery for the state machine's logging, Application Auto Scaling registration, "
            "ListEndpointConfigs); every SageMaker, S3, SSM and KMS call names its resources.",
        )
        justify_scan(
            self.state_machine.role.node.find_child("DefaultPolicy"),
            "CKV_AWS_108",
            "Reads name their resources (the environment's and its source's packages, artifacts and parameter); "
            "the Resource * statement holds only actions without a resource type (X-Ray, log delivery, autoscaling).",
        )
        if network:
            # The state machine creates the candidate's model; SageMaker runs it (endpoint, gate transforms) as the
            # endpoint role, in the subnets.
            deny_compute_outside(self.state_machine.role, network, ["sagemaker:CreateModel"])
            grant_sagemaker_network_interfaces(self.endpoint_role)
        self.approver_policy = (
            permissions.approver_policy(self, flow, self.state_machine.state_machine_arn, self.state_machine_name)
            if promotion.manual_approval
            else None
        )

        self.rule = events.Rule(
            self,
            "OnApproved",
            description=f"An approved package of {(source.names if source else names).model_package_group} starts "
            f"{self.state_machine_name}",
            event_pattern=approved_packages(source.names if source else names),
            targets=[
                targets.SfnStateMachine(self.state_machine, role=permissions.start_role(self, self.state_machine_name))
            ],
        )
        if source:
            # The source's forwarding rule puts its approvals on this account's default bus.
            events.CfnEventBusPolicy(
                self,
                "AcceptApprovals",
                event_bus_name="default",
                statement_id=f"{names.prefix}-approvals-from-{source.environment}",
                statement={
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:{cdk.Aws.PARTITION}:iam::{source.account}:root"},
                    "Action": "events:PutEvents",
                    "Resource": flow.stack.format_arn(service="events", resource="event-bus", resource_name="default"),
                },
            )
        self.forwarding = [self._forward_approvals(names, consumer) for consumer in consumers]

    def _forward_approvals(self, names: ResourceNames, consumer: ResourceNames) -> events.Rule:
        """This environment's Approved packages, sent to the default event bus of an environment promoting them."""
        bus = events.EventBus.from_event_bus_arn(
            self,
            f"{consumer.environment.capitalize()}Bus",
            f"arn:{cdk.Aws.PARTITION}:events:{consumer.region}:{consumer.account}:event-bus/default",
        )
        title = consumer.environment.capitalize()
        role = iam.Role(
            self,
            f"ForwardTo{title}Role",
            assumed_by=iam.ServicePrincipal("events.amazonaws.com"),
            description=f"Lets EventBridge put approvals of {names.model_package_group} on {consumer.prefix}'s bus",
        )
        acknowledge_grant_policy(role)
        return events.Rule(
            self,
            f"ForwardTo{title}",
            description=f"Approved packages of {names.model_package_group} to {consumer.prefix}'s promotion",
            event_pattern=approved_packages(names),
            targets=[targets.EventBus(bus, role=role)],
        )

    def _definition(self, flow: Flow) -> sfn.IChainable:
        """The run, fragment by fragment in the order it executes; then the two ways a failure ends."""
        run: list[FlowFragment] = [Describe(self, "Describe", flow=flow, approvals=self.approvals)]
        if flow.imports:
            run.append(ImportPackage(self, "Import", flow=flow, checks=self.checks))
        run.append(
            ChampionChallenger(
                self, "ChampionChallenger", flow=flow, endpoint_role=self.endpoint_role, checks=self.checks
            )
        )
        if flow.promotion.manual_approval:
            run.append(Approval(self, "Approval", flow=flow))
        run += [
            Deploy(self, "Deploy", flow=flow),
            AwaitInService(self, "AwaitInService", flow=flow),
            SmokeTest(self, "SmokeTest", function=self.smoke_test),
            *([Soak(self, "Soak", flow=flow)] if flow.promotion.soak_minutes else []),
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


def approved_packages(names: ResourceNames) -> events.EventPattern:
    """Packages of `names`' group that became Approved; from another account once forwarded (its account)."""
    return events.EventPattern(
        source=["aws.sagemaker"],
        detail_type=["SageMaker Model Package State Change"],
        detail={"ModelPackageGroupName": [names.model_package_group], "ModelApprovalStatus": ["Approved"]},
        **({} if cdk.Token.is_unresolved(names.account) else {"account": [names.account]}),
    )
