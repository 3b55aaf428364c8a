"""What every fragment of the promotion shares: its targets, the config it reads, and how a step is written.

`Flow` carries one environment's names, settings and targets, and builds the SDK-call and S3-copy steps the
fragments are made of (each with the IAM resources CDK grants the state machine for it). `FlowFragment` is a
fragment of the run: its own transitions are made when it is built, its failure transitions later, by
`hand_failures` (see `ModelPromotion._definition` for why).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import aws_cdk as cdk
import jsii
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from config import ConfigError, InferenceSettings, PromotionSettings, Thresholds
from naming import ResourceNames
from naming.resources import ENDPOINT_ALARMS
from stacks.units.compliance import acknowledge, justify_scan
from stacks.units.model_registry import MODEL_ARTIFACTS_PREFIX
from stacks.units.native_monitoring import PACKAGE_BASELINES
from stacks.units.network import NetworkRefs, place_function

VARIANT = "AllTraffic"
POLL_SECONDS = 30
PACKAGE_ARN = "$states.context.Execution.Input.detail.ModelPackageArn"
FAILURE_REASON = "{% $states.errorOutput.Error & ': ' & $states.errorOutput.Cause %}"


def autoscaling_enabled(inference: InferenceSettings) -> bool:
    """Target tracking for instance endpoints whose capacity may vary; SageMaker cannot scale burstable ones."""
    if inference.mode != "instance" or inference.max_capacity == inference.min_capacity:
        return False
    if inference.instance_type.split(".")[1].startswith("t"):
        raise ConfigError(
            f"inference.instance_type {inference.instance_type}: SageMaker does not autoscale burstable (t) instances;"
            " set min_capacity = max_capacity or choose another family"
        )
    return True


@dataclass(frozen=True)
class PromotionTargets:
    """Where a promotion writes: the capture prefix, the monitoring copies and the SSM parameter."""

    artifacts_bucket: s3.IBucket
    key: kms.IKey
    alerts: sns.ITopic
    current_model_parameter: str  # /<project>/<env>/current-model-package


@dataclass(frozen=True)
class PromotionSource:
    """The environment whose packages this one promotes (`promotion.source`), named with its real account and
    region: its registry, artifacts bucket and lake key are another account's, reached through their grants."""

    names: ResourceNames

    @property
    def environment(self) -> str:
        return self.names.environment

    @property
    def account(self) -> str:
        return self.names.account

    @property
    def model_package_group(self) -> str:
        return self.names.model_package_group

    @property
    def package_arns(self) -> str:
        names = self.names
        group = names.model_package_group.lower()
        return f"arn:{cdk.Aws.PARTITION}:sagemaker:{names.region}:{names.account}:model-package/{group}/*"

    @property
    def artifacts_bucket(self) -> str:
        return self.names.zone_bucket("artifacts")

    @property
    def artifacts(self) -> str:
        """The source's training runs (and its own imports), which its bucket policy lets this account read."""
        return f"arn:{cdk.Aws.PARTITION}:s3:::{self.artifacts_bucket}/{MODEL_ARTIFACTS_PREFIX}/*"

    @property
    def keys(self) -> str:
        """The source's lake key: its id is made when the source deploys, so any key of that account, used only
        through S3 (the condition every statement naming it carries)."""
        return f"arn:{cdk.Aws.PARTITION}:kms:{self.names.region}:{self.account}:key/*"

    def via_s3(self) -> dict[str, Any]:
        return {"StringEquals": {"kms:ViaService": f"s3.{self.names.region}.amazonaws.com"}}


@dataclass(frozen=True)
class Flow:
    """One environment's promotion: names, settings and targets, and the steps written from them."""

    stack: cdk.Stack
    names: ResourceNames
    inference: InferenceSettings
    promotion: PromotionSettings
    where: PromotionTargets
    model_monitor: bool  # monitoring.backend is model-monitor: the package's Model Monitor baselines are published
    autoscaling: bool  # autoscaling_enabled(inference)
    thresholds: Thresholds  # the business costs the champion/challenger gate weighs errors with
    source: PromotionSource | None = None  # None: promotion.source own
    network: NetworkRefs | None = None  # the subnets the models and the functions run in (None: no VPC)

    @property
    def imports(self) -> bool:
        """The packages come from another environment: imported, recorded in this environment's group."""
        return self.source is not None

    # ------------------------------------------------------------------------------------------------ names

    def arn(self, resource: str, name: str) -> str:
        # SageMaker ARNs carry names in lower case; the prefix already is (project name pattern).
        return self.stack.format_arn(service="sagemaker", resource=resource, resource_name=name.lower())

    @property
    def endpoint_arn(self) -> str:
        return self.arn("endpoint", self.names.endpoint)

    @property
    def package_arns(self) -> str:
        return self.arn("model-package", f"{self.names.model_package_group}/*")

    @property
    def group_arn(self) -> str:
        return self.arn("model-package-group", self.names.model_package_group)

    @property
    def described_package_arns(self) -> str:
        """The packages a run starts from: the source's, or this environment's own."""
        return self.source.package_arns if self.source else self.package_arns

    @property
    def alarm_arns(self) -> list[str]:
        return [
            self.stack.format_arn(
                service="cloudwatch",
                resource="alarm",
                resource_name=self.names.endpoint_alarm(kind),
                arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
            )
            for kind in ENDPOINT_ALARMS
        ]

    @property
    def transform_jobs(self) -> str:
        return self.arn("transform-job", f"{self.names.gate_job_prefix}*")

    @property
    def models(self) -> str:
        """What promotions name their models: `<prefix>-v<version>-<id>`."""
        return self.arn("model", f"{self.names.prefix}-*")

    @property
    def endpoint_configs(self) -> str:
        """What promotions name their endpoint configs (the same names as their models)."""
        return self.arn("endpoint-config", f"{self.names.prefix}-*")

    @property
    def parameter_arn(self) -> str:
        return self.stack.format_arn(
            service="ssm", resource="parameter", resource_name=self.where.current_model_parameter.lstrip("/")
        )

    @property
    def scaling_resource_id(self) -> str:
        return f"endpoint/{self.names.endpoint}/variant/{VARIANT}"

    def scalable_target(self) -> dict[str, Any]:
        return {
            "ServiceNamespace": "sagemaker",
            "ResourceId": self.scaling_resource_id,
            "ScalableDimension": "sagemaker:variant:DesiredInstanceCount",
        }

    def in_service_deadline(self) -> str:
        """`$millis()` when the bound on waiting for the endpoint (`promotion.in_service_timeout_minutes`) ends."""
        return f"{{% $millis() + {self.promotion.in_service_timeout_minutes * 60 * 1000} %}}"

    # ------------------------------------------------------------------------------------------------ steps

    def call(
        self, scope: Construct, construct_id: str, service: str, action: str, resources: list[str], **kwargs: Any
    ) -> tasks.CallAwsService:
        """An AWS SDK call; CDK grants the state machine `service:action` (or `iam_action`) on `resources`."""
        return tasks.CallAwsService.jsonata(
            scope, construct_id, service=service, action=action, iam_resources=resources, **kwargs
        )

    def describe_endpoint(self, scope: Construct, construct_id: str, assign: dict[str, str]) -> tasks.CallAwsService:
        """DescribeEndpoint of the environment's endpoint, keeping what `assign` takes from the result."""
        return self.call(
            scope,
            construct_id,
            "sagemaker",
            "describeEndpoint",
            [self.endpoint_arn],
            parameters={"EndpointName": self.names.endpoint},
            assign=assign,
        )

    def copy(
        self,
        scope: Construct,
        construct_id: str,
        source_uri: str,
        key: str,
        *,
        published: bool = False,
        granted_keys: str | None = None,
    ) -> tasks.CallAwsService:
        """S3 CopyObject of `source_uri` (a JSONata expression giving s3://bucket/key) to `key` of the artifacts
        zone. `published`: once it succeeded, monitoring/current/ no longer holds the live package's files.
        `granted_keys`: the keys IAM grants, where `key` is a JSONata expression."""
        where = self.where
        sources = [where.artifacts_bucket.arn_for_objects(f"{MODEL_ARTIFACTS_PREFIX}/*")]
        if self.source:
            sources.append(self.source.artifacts)
        return self.call(
            scope,
            construct_id,
            "s3",
            "copyObject",
            [where.artifacts_bucket.arn_for_objects(granted_keys or key)],
            iam_action="s3:PutObject",
            additional_iam_statements=[iam.PolicyStatement(actions=["s3:GetObject"], resources=sources)],
            parameters={
                "Bucket": where.artifacts_bucket.bucket_name,
                "Key": key,
                "CopySource": f"{{% $substringAfter({source_uri}, 's3://') %}}",
                "ServerSideEncryption": "aws:kms",
                "SSEKMSKeyId": where.key.key_arn,
            },
            assign={"published": True} if published else None,
        )

    def poll(self, scope: Construct, construct_id: str) -> sfn.Wait:
        return sfn.Wait.jsonata(scope, construct_id, time=sfn.WaitTime.duration(cdk.Duration.seconds(POLL_SECONDS)))

    def scaling(self, scope: Construct, prefix: str) -> tuple[tasks.CallAwsService, tasks.CallAwsService]:
        """RegisterScalableTarget, then a target-tracking policy on invocations per instance (instance mode)."""
        inference = self.inference
        register = self.call(
            scope,
            f"{prefix}ScalableTarget",
            "applicationautoscaling",
            "registerScalableTarget",
            ["*"],
            iam_action="application-autoscaling:RegisterScalableTarget",
            parameters={
                **self.scalable_target(),
                "MinCapacity": inference.min_capacity,
                "MaxCapacity": inference.max_capacity,
            },
        )
        policy = self.call(
            scope,
            f"{prefix}ScalingPolicy",
            "applicationautoscaling",
            "putScalingPolicy",
            ["*"],
            iam_action="application-autoscaling:PutScalingPolicy",
            parameters={
                **self.scalable_target(),
                "PolicyName": f"{self.names.prefix}-invocations-per-instance",
                "PolicyType": "TargetTrackingScaling",
                "TargetTrackingScalingPolicyConfiguration": {
                    "TargetValue": float(inference.target_invocations_per_instance),
                    "PredefinedMetricSpecification": {"PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"},
                    "ScaleInCooldown": 300,
                    "ScaleOutCooldown": 60,
                },
            },
        )
        register.next(policy)
        return register, policy

    def package_baseline_fields(self) -> dict[str, str]:
        """`$package.<metadata key>`: the URI of each Model Monitor baseline the package records, or ''."""
        if not self.model_monitor:
            return {}
        metadata = "$states.result.CustomerMetadataProperties"
        return {key: f"{{% $exists({metadata}.{key}) ? {metadata}.{key} : '' %}}" for key in PACKAGE_BASELINES}


@dataclass(frozen=True)
class Failures:
    """Where failures go: `rejection` before the endpoint changed, `rollback` after; `restore_scaling` is where
    a failed endpoint update goes (SageMaker rolled it back itself: only autoscaling is registered again)."""

    rejection: sfn.IChainable
    rollback: sfn.IChainable
    restore_scaling: sfn.IChainable


class FlowFragment(sfn.StateMachineFragment):
    """A fragment of the promotion run: `start_state`, `end_states` (what runs next is chained to them)."""

    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        self._start: sfn.State | None = None
        self._ends: list[sfn.INextable] = []

    def _set_bounds(self, start: sfn.IChainable, *ends: sfn.INextable) -> None:
        self._start = start.start_state
        self._ends = list(ends)

    @property
    def start_state(self) -> sfn.State:
        if self._start is None:
            raise RuntimeError(f"{self.node.path}: the fragment set no start state")
        return self._start

    @property
    def end_states(self) -> list[sfn.INextable]:
        return self._ends

    def hand_failures(self, failures: Failures) -> None:
        """Add this fragment's failure transitions (the run's fragments have some; the failure paths none)."""


@jsii.implements(sfn.INextable)
class ChoiceExit:
    """A Choice rule as a fragment's end state: chaining the next fragment adds the rule (`when`) leading to it.

    The rule is added when chained, so it comes before the failure rules `hand_failures` adds later."""

    def __init__(self, choice: sfn.Choice, condition: sfn.Condition) -> None:
        self._choice = choice
        self._condition = condition

    def next(self, state: sfn.IChainable) -> sfn.Chain:
        self._choice.when(self._condition, state)
        return sfn.Chain.sequence(self._choice, state)


def promotion_function(
    scope: Construct,
    name: str,
    *,
    flow: Flow,
    code: str,
    role: iam.IRole,
    log_retention: logs.RetentionDays,
    removal_policy: cdk.RemovalPolicy,
    timeout: cdk.Duration,
    memory_size: int,
    description: str,
    reserved_concurrency: int,
    environment: dict[str, str] | None = None,
    acknowledgments: dict[str, str],
) -> lambda_.Function:
    """A Lambda that only the promotion invokes (`<name>Function`, its log group `<name>Logs` under the lake
    key): python3.12 over a standard-library-only asset, its variables encrypted with the lake key, its
    concurrency reserved, in the environment's subnets where it has some; with the cdk-nag findings its use
    explains. Step Functions invokes it synchronously: a failure is caught by the state machine, which is why it
    has no dead-letter queue."""
    log_group = logs.LogGroup(
        scope, f"{name}Logs", encryption_key=flow.where.key, retention=log_retention, removal_policy=removal_policy
    )
    log_group.grant_write(role)
    function = lambda_.Function(
        scope,
        f"{name}Function",
        runtime=lambda_.Runtime.PYTHON_3_12,
        handler="handler.handler",
        code=lambda_.Code.from_asset(code, exclude=["__pycache__", "*.pyc"]),
        role=role,
        log_group=log_group,
        timeout=timeout,
        memory_size=memory_size,
        description=description,
        environment=environment,
        environment_encryption=flow.where.key,
        reserved_concurrent_executions=reserved_concurrency,
    )
    place_function(function, role, flow.network)
    for rule, reason in acknowledgments.items():
        acknowledge(function, rule, reason)
    justify_scan(
        function,
        "CKV_AWS_116",
        "Step Functions invokes it synchronously (RequestResponse) and catches its failures (rollback or "
        "rejection); a dead-letter queue receives failed asynchronous invocations only.",
    )
    if flow.network is None:
        acknowledge(
            function,
            "NIST.800.53.R5-LambdaInsideVPC",
            "The environment has no VPC (network.mode none); the function calls AWS APIs over TLS with IAM only.",
        )
    return function
