"""The role that the release pipeline's post-deploy steps assume in an environment's account."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from constructs import Construct

from naming import ResourceNames
from pipeline_definition.contract import DATA_SNAPSHOT_PREFIX
from stacks.units.compliance import acknowledge
from stacks.units.release_compliance import wildcard_findings
from stacks.units.retraining_triggers import snapshot_statements


class ReleaseAccess(Construct):
    """A role `names.release_check_role`, trusted by the tooling account, that can read what a stage deployed and
    (dev) start training.

    Reads are limited to this environment's resources by their `<project>-<env>-` name prefix. With
    `training_pipeline_name` and `code_hash_parameter` (dev only) it may also start that one pipeline, keep the
    hash of the code it last started it for, and take the run's data snapshot (list the raw zone's training
    prefixes, write under `data-snapshots/`). Provides `role`.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        names: ResourceNames,
        tooling_account: str,
        training_pipeline_name: str | None = None,
        code_hash_parameter: str | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = cdk.Stack.of(self)
        resource_prefix = names.prefix
        self.role = iam.Role(
            self,
            "Role",
            role_name=names.release_check_role,
            assumed_by=iam.AccountPrincipal(tooling_account),
            description=f"Assumed by the release pipeline's post-deploy steps for {resource_prefix}",
            max_session_duration=cdk.Duration.hours(1),
        )

        def sagemaker_arn(resource: str, name: str = f"{resource_prefix}-*") -> str:
            return stack.format_arn(service="sagemaker", resource=resource, resource_name=name)

        statements = [
            iam.PolicyStatement(
                actions=["s3:ListBucket"],  # what HeadBucket needs: proves a bucket exists without reading data
                resources=[f"arn:{stack.partition}:s3:::{resource_prefix}-*"],
            ),
            iam.PolicyStatement(
                actions=["sagemaker:DescribePipeline", "sagemaker:DescribeFeatureGroup", "sagemaker:DescribeEndpoint"],
                resources=[sagemaker_arn("pipeline"), sagemaker_arn("feature-group"), sagemaker_arn("endpoint")],
            ),
        ]
        if training_pipeline_name and code_hash_parameter:
            statements += [
                iam.PolicyStatement(
                    actions=["sagemaker:StartPipelineExecution"],
                    resources=[sagemaker_arn("pipeline", training_pipeline_name)],
                ),
                iam.PolicyStatement(
                    actions=["ssm:GetParameter", "ssm:PutParameter"],
                    resources=[
                        stack.format_arn(
                            service="ssm", resource="parameter", resource_name=code_hash_parameter.lstrip("/")
                        )
                    ],
                ),
                # The lake key lives in another stack of the stage: any key of the account, but only through S3
                # and only for objects of the artifacts zone (the encryption context S3 sets).
                *snapshot_statements(
                    self,
                    raw_bucket_name=names.zone_bucket("raw"),
                    artifacts_bucket_name=names.zone_bucket("artifacts"),
                    key_arn=stack.format_arn(service="kms", resource="key", resource_name="*"),
                    prefixes=names.snapshot_prefixes,
                ),
            ]
        # A managed policy, not the role's inline default policy: reviewed and versioned on its own (NIST AC-6).
        self.policy = iam.ManagedPolicy(self, "Policy", statements=statements, roles=[self.role])
        reason = (
            f"Post-deploy check: HeadBucket and Describe* only, of this environment's resources, matched by the "
            f"'{resource_prefix}-' name prefix that every stack of the stage uses (CloudFormation generates the "
            "bucket names; the SageMaker resources come from other issues' stacks)."
        )
        snapshot_reasons = {
            f"/{DATA_SNAPSHOT_PREFIX}/*": "Code-change runs write their data snapshot, named by the SHA-256 of the "
            f"data it lists (made at run time): PutObject only, only under {DATA_SNAPSHOT_PREFIX}/ of the artifacts "
            "zone.",
            ":key/*": "The lake key is created by another stack of the stage; kms:GenerateDataKey is limited by "
            "conditions to calls through S3 for objects of this environment's artifacts zone.",
        }
        for finding in wildcard_findings(stack.resolve(self.policy.document.to_json())):
            if finding.endswith(f":{resource_prefix}-*") or finding.endswith(f"/{resource_prefix}-*"):
                acknowledge(self.policy, "AwsSolutions-IAM5", reason, finding=finding)
                continue
            matched = [why for suffix, why in snapshot_reasons.items() if finding.endswith(suffix)]
            if not matched:
                raise ValueError(f"{self.node.path}: unexpected wildcard {finding!r} in the release check role")
            acknowledge(self.policy, "AwsSolutions-IAM5", matched[0], finding=finding)
