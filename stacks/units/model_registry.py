"""The Model Registry of one environment: a model package group, readable by the promotion accounts."""

from __future__ import annotations

from collections.abc import Sequence

import aws_cdk as cdk
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sagemaker as sagemaker
from constructs import Construct

MODEL_ARTIFACTS_PREFIX = "pipeline-runs"  # where the training pipeline writes models and their reports

_READ_ACTIONS = [
    "sagemaker:DescribeModelPackageGroup",
    "sagemaker:DescribeModelPackage",
    "sagemaker:ListModelPackages",
]


class ModelRegistry(Construct):
    """A model package group, its cross-account read policy, and a rule that records every state change.

    Accounts in `cross_account_readers` may describe and list the packages and read their artifacts (S3 and the
    lake key), which is what a promotion from another account needs. `state_change_rule` matches
    "SageMaker Model Package State Change" events of this group: later units add targets (promotion) to it;
    today it writes each event to a log group, the registry's audit trail.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        model_package_group_name: str,
        cross_account_readers: Sequence[str],
        artifacts_bucket: s3.IBucket,
        key: kms.IKey,
        log_retention: logs.RetentionDays,
        removal_policy: cdk.RemovalPolicy,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = cdk.Stack.of(self)
        self.model_package_group_name = model_package_group_name
        self.model_package_group_arn = stack.format_arn(
            service="sagemaker", resource="model-package-group", resource_name=model_package_group_name.lower()
        )
        packages_arn = stack.format_arn(
            service="sagemaker", resource="model-package", resource_name=f"{model_package_group_name.lower()}/*"
        )
        readers = [iam.AccountPrincipal(account) for account in cross_account_readers]

        policy = None
        if readers:
            policy = iam.PolicyDocument(
                statements=[
                    iam.PolicyStatement(
                        sid="CrossAccountPromotionRead",
                        principals=readers,
                        actions=_READ_ACTIONS,
                        resources=[self.model_package_group_arn, packages_arn],
                    )
                ]
            ).to_json()
        self.group = sagemaker.CfnModelPackageGroup(
            self,
            "ModelPackageGroup",
            model_package_group_name=model_package_group_name,
            model_package_group_description="Candidate models of the training pipeline; approve to promote",
            model_package_group_policy=policy,
        )
        self.group.apply_removal_policy(removal_policy)

        for reader in readers:
            # A promoting account creates a model from the package: it reads the artifact and decrypts it.
            artifacts_bucket.add_to_resource_policy(
                iam.PolicyStatement(
                    sid=f"PromotionRead{reader.account_id}",
                    principals=[reader],
                    actions=["s3:GetObject", "s3:GetObjectVersion"],
                    resources=[artifacts_bucket.arn_for_objects(f"{MODEL_ARTIFACTS_PREFIX}/*")],
                )
            )
            key.add_to_resource_policy(
                iam.PolicyStatement(
                    sid=f"PromotionDecrypt{reader.account_id}",
                    principals=[reader],
                    actions=["kms:Decrypt", "kms:DescribeKey"],
                    resources=["*"],  # in a key policy, "*" means this key
                    conditions={"StringEquals": {"kms:ViaService": f"s3.{stack.region}.amazonaws.com"}},
                )
            )

        self.audit_log = logs.LogGroup(
            self,
            "StateChangeLog",
            retention=log_retention,
            encryption_key=key,
            removal_policy=removal_policy,
        )
        key.grant_encrypt_decrypt(iam.ServicePrincipal(f"logs.{stack.region}.amazonaws.com"))
        # EventBridge writes to the log group under a native resource policy; the CloudWatchLogGroup target
        # would deploy a Lambda-backed custom resource just to set that same policy.
        logs.ResourcePolicy(
            self,
            "StateChangeLogPolicy",
            # Named, so the release pipeline's stage (another construct path) deploys the very same policy.
            resource_policy_name=f"{model_package_group_name}-state-changes",
            policy_statements=[
                iam.PolicyStatement(
                    principals=[
                        iam.ServicePrincipal("events.amazonaws.com"),
                        iam.ServicePrincipal("delivery.logs.amazonaws.com"),
                    ],
                    actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                    resources=[self.audit_log.log_group_arn],
                )
            ],
        )
        self.state_change_rule = events.Rule(
            self,
            "StateChangeRule",
            description=f"State changes of model packages in {model_package_group_name}",
            event_pattern=events.EventPattern(
                source=["aws.sagemaker"],
                detail_type=["SageMaker Model Package State Change"],
                detail={"ModelPackageGroupName": [model_package_group_name]},
            ),
        )
        cfn_rule = self.state_change_rule.node.default_child
        assert isinstance(cfn_rule, events.CfnRule)
        cfn_rule.targets = [events.CfnRule.TargetProperty(id="AuditLog", arn=self.audit_log.log_group_arn)]
