"""What each principal of the promotion may do, and why its wildcards are acceptable (cdk-nag acknowledgments).

The state machine's role gets one statement per SDK call from CDK itself (each step's `iam_resources`, see
`steps.Flow.call`); `grant_state_machine` adds what no single step names: passing the endpoint role, the lake
key, autoscaling's side effects. The endpoint role, the smoke test's role, EventBridge's role and the
approvers' policy are made here whole.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from stacks.units.compliance import acknowledge, acknowledge_grant_policy, nag_finding
from stacks.units.model_promotion.steps import Flow
from stacks.units.model_registry import MODEL_ARTIFACTS_PREFIX
from stacks.units.sagemaker_grants import grant_container_logs, grant_metrics


def endpoint_role(scope: Construct, flow: Flow) -> iam.Role:
    """What the endpoint runs as: reads the model from pipeline-runs/, writes captured requests, logs."""
    where, names = flow.where, flow.names
    role = iam.Role(
        scope,
        "EndpointRole",
        assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"),
        description=f"Execution role of the models behind {names.endpoint}",
    )
    models = where.artifacts_bucket.arn_for_objects(f"{MODEL_ARTIFACTS_PREFIX}/*")
    capture = where.artifacts_bucket.arn_for_objects(f"{names.data_capture_prefix}/*")
    gate = where.artifacts_bucket.arn_for_objects(f"{names.gate_outputs_prefix}/*")
    role.add_to_policy(iam.PolicyStatement(sid="ReadModels", actions=["s3:GetObject"], resources=[models]))
    role.add_to_policy(iam.PolicyStatement(sid="WriteDataCapture", actions=["s3:PutObject"], resources=[capture]))
    # The champion/challenger gate's batch transforms run the models with this role: they write their scores.
    role.add_to_policy(iam.PolicyStatement(sid="WriteGateScores", actions=["s3:PutObject"], resources=[gate]))
    role.add_to_policy(
        iam.PolicyStatement(
            sid="LakeKey", actions=["kms:Decrypt", "kms:GenerateDataKey"], resources=[where.key.key_arn]
        )
    )
    grant_container_logs(role, f"/aws/sagemaker/Endpoints/{names.endpoint}", who="The endpoint's containers")
    grant_metrics(role, "/aws/sagemaker/Endpoints*", who="the endpoint's containers")
    for resource, why in (
        (models, "Each model's model.tar.gz sits under pipeline-runs/<execution>/, named at run time."),
        (capture, "Data capture writes <endpoint>/<variant>/yyyy/mm/dd/hh/<file> keys, made at run time."),
        (gate, "The gate's transform jobs write under promotion-gate/<run id>/, named per promotion at run time."),
    ):
        acknowledge(role, "AwsSolutions-IAM5", why, finding=f"Resource::{nag_finding(role, resource)}")
    acknowledge_grant_policy(role)
    return role


def smoke_test_role(scope: Construct, flow: Flow) -> iam.Role:
    """The smoke test reads raw test splits (pipeline-runs/*/Preprocess/raw_test/test.csv) and invokes the one
    endpoint."""
    where = flow.where
    role = iam.Role(
        scope,
        "SmokeTestRole",
        assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
        description=f"Sends a few test rows to {flow.names.endpoint} after a promotion",
    )
    test_splits = where.artifacts_bucket.arn_for_objects(f"{MODEL_ARTIFACTS_PREFIX}/*/Preprocess/raw_test/test.csv")
    role.add_to_policy(iam.PolicyStatement(sid="ReadTestSplit", actions=["s3:GetObject"], resources=[test_splits]))
    role.add_to_policy(iam.PolicyStatement(sid="LakeKey", actions=["kms:Decrypt"], resources=[where.key.key_arn]))
    role.add_to_policy(
        iam.PolicyStatement(sid="Invoke", actions=["sagemaker:InvokeEndpoint"], resources=[flow.endpoint_arn])
    )
    acknowledge(
        role,
        "AwsSolutions-IAM5",
        "Each pipeline execution writes its own test split under pipeline-runs/<execution id>/, made at run time.",
        finding=f"Resource::{nag_finding(role, test_splits)}",
    )
    acknowledge_grant_policy(role)
    return role


def checks_role(scope: Construct, flow: Flow) -> iam.Role:
    """The checks read the artifact (and, imported, its source), the test split's scores and nothing else."""
    where, names = flow.where, flow.names
    role = iam.Role(
        scope,
        "ChecksRole",
        assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
        description=f"Artifact digest and champion/challenger figures of promotions to {names.endpoint}",
    )
    reads = [
        where.artifacts_bucket.arn_for_objects(f"{MODEL_ARTIFACTS_PREFIX}/*"),
        where.artifacts_bucket.arn_for_objects(f"{names.gate_outputs_prefix}/*"),
    ]
    if flow.source:
        reads.append(flow.source.artifacts)
    role.add_to_policy(iam.PolicyStatement(sid="ReadArtifacts", actions=["s3:GetObject"], resources=reads))
    role.add_to_policy(iam.PolicyStatement(sid="LakeKey", actions=["kms:Decrypt"], resources=[where.key.key_arn]))
    why = {
        reads[0]: "Models and their runs sit under pipeline-runs/<execution id>/ (and imported/), made at run time.",
        reads[1]: "The gate's scores sit under promotion-gate/<run id>/, named per promotion at run time.",
    }
    if flow.source:
        _grant_source_key(role, flow, "SourceLakeKey")
        why[flow.source.artifacts] = (
            f"The source environment's ({flow.source.environment}) training runs, named at run time; its bucket "
            "policy grants this account read access to that prefix only."
        )
    for resource, reason in why.items():
        acknowledge(role, "AwsSolutions-IAM5", reason, finding=f"Resource::{nag_finding(role, resource)}")
    acknowledge_grant_policy(role)
    return role


def _grant_source_key(role: iam.IRole, flow: Flow, sid: str) -> None:
    """Decrypt with the source environment's lake key, only through S3 (the source's key policy says the same)."""
    assert flow.source is not None
    role.add_to_principal_policy(
        iam.PolicyStatement(
            sid=sid,
            actions=["kms:Decrypt", "kms:DescribeKey"],
            resources=[flow.source.keys],
            conditions=flow.source.via_s3(),
        )
    )
    acknowledge(
        role,
        "AwsSolutions-IAM5",
        f"The lake key of {flow.source.environment} ({flow.source.account}) gets its id when that account deploys; "
        "any key of that account, and only through S3 (kms:ViaService), which is how its artifacts are read.",
        finding=f"Resource::{nag_finding(role, flow.source.keys)}",
    )


def start_role(scope: Construct, state_machine_name: str) -> iam.Role:
    """EventBridge's role for the rule's target (the target grants it states:StartExecution)."""
    role = iam.Role(
        scope,
        "StartRole",
        assumed_by=iam.ServicePrincipal("events.amazonaws.com"),
        description=f"Lets EventBridge start {state_machine_name}",
    )
    acknowledge_grant_policy(role)
    return role


def approver_policy(scope: Construct, flow: Flow, machine_arn: str, state_machine_name: str) -> iam.ManagedPolicy:
    """What a person who approves prod models needs: read the waiting execution (its task token) and answer
    it. Attach it to the approvers' role or group (README "Prod: a person approves")."""
    executions = flow.stack.format_arn(
        service="states",
        resource="execution",
        resource_name=f"{state_machine_name}:*",
        arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
    )
    policy = iam.ManagedPolicy(
        scope,
        "ApproverPolicy",
        managed_policy_name=f"{flow.names.prefix}-promotion-approver",
        description=f"Approve or refuse models waiting in {state_machine_name} (task token)",
        statements=[
            iam.PolicyStatement(
                sid="FindWaitingPromotions",
                actions=["states:ListExecutions", "states:DescribeStateMachine"],
                resources=[machine_arn],
            ),
            iam.PolicyStatement(
                sid="ReadTheTaskToken",
                actions=["states:DescribeExecution", "states:GetExecutionHistory"],
                resources=[executions],
            ),
            # The same grant as CDK's StateMachine.grantTaskResponse: the token decides which task is answered.
            iam.PolicyStatement(
                sid="AnswerTheApproval",
                actions=["states:SendTaskSuccess", "states:SendTaskFailure"],
                resources=[machine_arn],
            ),
        ],
    )
    acknowledge(
        policy,
        "AwsSolutions-IAM5",
        "Executions of this one state machine are named at run time (<state machine>:<execution name>).",
        finding=f"Resource::{nag_finding(policy, executions)}",
    )
    return policy


def grant_state_machine(
    role: iam.IRole,
    flow: Flow,
    *,
    endpoint_role: iam.IRole,
    smoke_test: lambda_.IFunction,
    checks: lambda_.IFunction,
) -> None:
    """What the state machine needs beyond its steps' own statements (which CDK adds from the definition)."""
    where = flow.where
    role.add_to_principal_policy(
        iam.PolicyStatement(
            sid="PassEndpointRole",
            actions=["iam:PassRole"],
            resources=[endpoint_role.role_arn],
            conditions={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
        )
    )
    # Endpoint configs name the lake key for the volume and data capture: SageMaker creates grants with it.
    role.add_to_principal_policy(
        iam.PolicyStatement(
            sid="LakeKeyGrantsForEndpoints",
            actions=["kms:CreateGrant"],
            resources=[where.key.key_arn],
            conditions={"Bool": {"kms:GrantIsForAWSResource": "true"}},
        )
    )
    role.add_to_principal_policy(
        iam.PolicyStatement(sid="DescribeLakeKey", actions=["kms:DescribeKey"], resources=[where.key.key_arn])
    )
    # Copies between prefixes of the artifacts zone, and the encrypted alert topic.
    role.add_to_principal_policy(
        iam.PolicyStatement(
            sid="LakeKeyForCopiesAndAlerts",
            actions=["kms:Decrypt", "kms:GenerateDataKey"],
            resources=[where.key.key_arn],
        )
    )
    if flow.autoscaling:
        _grant_autoscaling(role, flow)
    if flow.source:
        # Copies of the source's files: S3 decrypts them with the source's key on the state machine's behalf.
        _grant_source_key(role, flow, "SourceLakeKeyForImports")
    star = (
        "X-Ray (PutTraceSegments, GetSamplingRules...) and CloudWatch Logs' log delivery actions have no "
        "resource type: CDK's tracing and logging grants for the state machine"
    )
    if flow.autoscaling:
        star += (
            "; Application Auto Scaling has no resource-level permissions for scalable targets and policies, "
            f"and the requests name only {flow.scaling_resource_id}"
        )
    acknowledge(role, "AwsSolutions-IAM5", f"{star}.", finding="Resource::*")
    acknowledge(
        role,
        "AwsSolutions-IAM5",
        "sagemaker:ListEndpointConfigs has no resource type; the state machine deletes only <prefix>-* configs "
        "and models, named as promotions name them.",
        finding="Resource::*",
    )
    for function, what in ((smoke_test, "smoke-test"), (checks, "checks")):
        acknowledge(
            role,
            "AwsSolutions-IAM5",
            f"CDK's LambdaInvoke grant covers the {what} function and its versions (<arn>:*); only it is invoked.",
            finding=f"Resource::{nag_finding(role, function.function_arn)}:*",
        )
    imported: list[tuple[str, str]] = []
    if flow.source:
        imported = [
            (
                flow.source.package_arns,
                f"The packages of {flow.source.environment}'s group, numbered at registration; its registry's "
                "resource policy lets this account describe them, nothing more.",
            ),
            (
                flow.source.artifacts,
                f"{flow.source.environment}'s training runs, named at run time; read only, through its bucket policy.",
            ),
            (
                where.artifacts_bucket.arn_for_objects(f"{flow.names.imported_models_prefix}/*"),
                "An imported package's copies go under imported/<source env>-v<version>/, named at run time.",
            ),
        ]
    for resource, why in (
        *imported,
        (flow.transform_jobs, "The gate names its transform jobs <prefix>-gate-<run id>-<role> at run time."),
        (flow.package_arns, "Package versions are numbered at registration; the group is this environment's."),
        (flow.models, "Each promotion names its model <prefix>-v<version>-<id>."),
        (flow.endpoint_configs, "Each promotion names its endpoint config likewise."),
        (
            where.artifacts_bucket.arn_for_objects(f"{MODEL_ARTIFACTS_PREFIX}/*"),
            "The baseline and model of a package sit under pipeline-runs/<execution>/, made at run time.",
        ),
    ):
        acknowledge(role, "AwsSolutions-IAM5", why, finding=f"Resource::{nag_finding(role, resource)}")
    acknowledge_grant_policy(role)


def _grant_autoscaling(role: iam.IRole, flow: Flow) -> None:
    """Application Auto Scaling's side effects: its service-linked role, target tracking's alarms, the variant."""
    # The first registration creates Application Auto Scaling's service-linked role for SageMaker.
    role.add_to_principal_policy(
        iam.PolicyStatement(
            sid="AutoscalingServiceLinkedRole",
            actions=["iam:CreateServiceLinkedRole"],
            resources=[
                f"arn:{cdk.Aws.PARTITION}:iam::{cdk.Aws.ACCOUNT_ID}:role/aws-service-role/"
                "sagemaker.application-autoscaling.amazonaws.com/"
                "AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint"
            ],
            conditions={"StringLike": {"iam:AWSServiceName": "sagemaker.application-autoscaling.amazonaws.com"}},
        )
    )
    # Target tracking creates and deletes its own alarms on the variant's invocations.
    alarms = flow.stack.format_arn(
        service="cloudwatch",
        resource="alarm",
        resource_name=f"TargetTracking-{flow.scaling_resource_id}-*",
        arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
    )
    role.add_to_principal_policy(
        iam.PolicyStatement(
            sid="TargetTrackingAlarms",
            actions=["cloudwatch:PutMetricAlarm", "cloudwatch:DescribeAlarms", "cloudwatch:DeleteAlarms"],
            resources=[alarms],
        )
    )
    role.add_to_principal_policy(
        iam.PolicyStatement(
            sid="ScaleTheEndpoint",
            actions=["sagemaker:DescribeEndpoint", "sagemaker:UpdateEndpointWeightsAndCapacities"],
            resources=[flow.endpoint_arn],
        )
    )
    acknowledge(
        role,
        "AwsSolutions-IAM5",
        "Target tracking names its alarms TargetTracking-<resource id>-AlarmHigh/Low-<uuid> at run time.",
        finding=f"Resource::{nag_finding(role, alarms)}",
    )
