"""The custom monitoring and batch-inference SageMaker pipelines, and the schedules that start them."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sagemaker as sagemaker
from constructs import Construct

from config import EnvironmentConfig
from naming import ResourceNames
from pipeline_definition.contract import CODE_PREFIX, FEEDBACK_PREFIX, OUTPUT_PREFIX, PLACEHOLDERS
from stacks.units.compliance import (
    acknowledge,
    acknowledge_bucket_grant,
    acknowledge_bucket_put,
    acknowledge_grant_policy,
    nag_finding,
)
from stacks.units.network import (
    NetworkRefs,
    deny_compute_outside,
    grant_sagemaker_network_interfaces,
    network_substitutions,
)
from stacks.units.pipeline_role import (
    PipelineDefinition,
    grant_pipeline_jobs,
    grant_volume_key,
    pipeline_schedule,
)

# The batch-inference steps whose outputs go to pipeline-runs/<execution>/<step>/ (builders/batch_inference.py).
BATCH_STEPS_WRITING_ARTIFACTS = ("ResolveModel",)


class OperationsPipelines(Construct):
    """What runs on a schedule: custom monitoring (when `monitoring.backend` is `custom`) and batch inference.

    The monitoring pipeline reads the model that promotion recorded as live (`names.current_model_parameter`), the last
    `monitoring.window_hours` of endpoint capture (or batch predictions) and, where uploaded, ground truth; it
    publishes drift metrics (namespace `MLOps/Monitoring`) and a violations event. The batch pipeline scores
    `s3://<raw>/batch/` (or any `InputDataUri`) with the latest approved model into `s3://<curated>/batch-predictions/`.
    Both run the same deployed `pipeline_code/` version as the training pipeline.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        environment: EnvironmentConfig,
        names: ResourceNames,
        definitions: dict[str, PipelineDefinition],
        training_definition: PipelineDefinition,
        zones: dict[str, s3.IBucket],
        key: kms.IKey,
        network: NetworkRefs | None = None,
    ) -> None:
        """`network`: the subnets and security groups the jobs and the batch model run in (None: no VPC)."""
        super().__init__(scope, construct_id)
        stack = cdk.Stack.of(self)
        self.role = iam.Role(
            self,
            "ExecutionRole",
            assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"),
            description=f"Runs {names.prefix}'s monitoring and batch-inference pipelines, their jobs and models",
        )
        self._grant_data(names, zones)
        # The transform job runs the registered model's image (named in the training definition).
        grant_pipeline_jobs(
            self.role, ("processing-job", "transform-job"), [*definitions.values(), training_definition]
        )
        grant_volume_key(self.role, key)
        self._grant_registry_and_publishing(stack, names)
        if network:
            # Processing jobs started by Pipelines, and the batch model ResolveModel creates (which the transform
            # job runs in the subnets: CreateTransformJob itself names no network).
            grant_sagemaker_network_interfaces(self.role)
            deny_compute_outside(self.role, network, ["sagemaker:CreateProcessingJob", "sagemaker:CreateModel"])
        acknowledge_grant_policy(self.role)

        substitutions = {
            PLACEHOLDERS.role_arn: self.role.role_arn,
            PLACEHOLDERS.kms_key_arn: key.key_arn,
            PLACEHOLDERS.raw_bucket: zones["raw"].bucket_name,
            PLACEHOLDERS.curated_bucket: zones["curated"].bucket_name,
            PLACEHOLDERS.artifacts_bucket: zones["artifacts"].bucket_name,
            PLACEHOLDERS.model_package_group: names.model_package_group,
        }
        self.pipelines = {
            kind: sagemaker.CfnPipeline(
                self,
                f"{kind.title().replace('-', '')}Pipeline",
                pipeline_name=names.pipeline(kind),
                pipeline_display_name=names.pipeline(kind),
                role_arn=self.role.role_arn,
                pipeline_definition={
                    "PipelineDefinitionBody": definition.render(
                        substitutions,
                        lists=network_substitutions(network, definition.runs_in_a_vpc, names.pipeline(kind)),
                    )
                },
            )
            for kind, definition in definitions.items()
        }
        for pipeline in self.pipelines.values():
            pipeline.node.add_dependency(self.role)

        self.scheduler_role = iam.Role(
            self,
            "SchedulerRole",
            assumed_by=iam.ServicePrincipal(
                "scheduler.amazonaws.com", conditions={"StringEquals": {"aws:SourceAccount": stack.account}}
            ),
            description=f"EventBridge Scheduler starts {names.prefix}'s SageMaker pipelines",
        )
        # Not the training pipeline: a run must read a data snapshot, which a schedule cannot take. The
        # retraining schedule invokes the scheduled trigger instead (stacks/units/retraining_triggers.py).
        schedules = {"batch-inference": environment.schedules.batch_inference}
        if "monitoring" in definitions:
            schedules["monitoring"] = environment.monitoring.schedule
        self.schedules = {
            kind: pipeline_schedule(
                self,
                f"{kind.title().replace('-', '')}Schedule",
                pipeline=names.pipeline(kind),
                expression=expression,
                role=self.scheduler_role,
                key=key,
            )
            for kind, expression in schedules.items()
        }
        key.grant_decrypt(self.scheduler_role)  # the schedules' targets are encrypted with the lake key
        acknowledge_grant_policy(self.scheduler_role)

    def _grant_data(self, names: ResourceNames, zones: dict[str, s3.IBucket]) -> None:
        # The zones are imported with the lake key: each bucket grant includes the key.
        artifacts, curated, raw = zones["artifacts"], zones["curated"], zones["raw"]
        reads = (f"{CODE_PREFIX}/*", f"{names.data_capture_prefix}/*", f"{names.ground_truth_prefix}/*")
        for objects in reads:
            artifacts.grant_read(self.role, objects)
            acknowledge_bucket_grant(
                self.role, artifacts, objects, "Monitoring reads code and captured data", write=False
            )
        # Registered models, baselines and test splits (pipeline-runs/), the live model (monitoring/current/):
        # read only. Runs write only under their own steps' output prefixes, and nothing here deletes.
        for objects in (f"{OUTPUT_PREFIX}/*", "monitoring/*"):
            artifacts.grant_read(self.role, objects)
            acknowledge_bucket_grant(self.role, artifacts, objects, "Runs read models and baselines", write=False)
        written = [f"{OUTPUT_PREFIX}/*/{step}/*" for step in BATCH_STEPS_WRITING_ARTIFACTS]
        for objects in (*written, f"{names.monitoring_reports_prefix}/*"):
            artifacts.grant_put(self.role, objects)
            acknowledge_bucket_put(self.role, artifacts, objects, "Runs write their steps' outputs")
        curated.grant_read(self.role, f"{names.batch_predictions_prefix}/*")
        curated.grant_put(self.role, f"{names.batch_predictions_prefix}/*")
        acknowledge_bucket_grant(
            self.role, curated, f"{names.batch_predictions_prefix}/*", "Batch runs read predictions", write=False
        )
        acknowledge_bucket_put(
            self.role, curated, f"{names.batch_predictions_prefix}/*", "Batch runs write predictions"
        )
        raw.grant_read(self.role)  # the batch input (InputDataUri) may be anywhere in the raw zone
        acknowledge_bucket_grant(self.role, raw, "*", "Batch runs read their input from the raw zone", write=False)
        # Monitoring writes the window's labelled rows back as training data (pipeline_code/feedback.py): PutObject
        # there only. The zone's default SSE-KMS uses the lake key, which the grants above already let it use.
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="WriteLabelledFeedback",
                actions=["s3:PutObject"],
                resources=[raw.arn_for_objects(f"{FEEDBACK_PREFIX}*")],
            )
        )
        acknowledge(
            self.role,
            "AwsSolutions-IAM5",
            f"Monitoring writes one labelled-feedback file per window, named by the window's end (made at run "
            f"time), under {FEEDBACK_PREFIX} of the raw zone only.",
            finding=f"Resource::{nag_finding(self, raw.arn_for_objects(f'{FEEDBACK_PREFIX}*'))}",
        )

    def _grant_registry_and_publishing(self, stack: cdk.Stack, names: ResourceNames) -> None:
        group = names.model_package_group
        packages = stack.format_arn(service="sagemaker", resource="model-package", resource_name=f"{group}/*")
        models = stack.format_arn(service="sagemaker", resource="model", resource_name=f"{group}-v*")
        parameter = stack.format_arn(
            service="ssm",
            resource="parameter",
            resource_name=names.current_model_parameter.lstrip("/"),
        )
        statements = [
            iam.PolicyStatement(sid="ReadLiveModel", actions=["ssm:GetParameter"], resources=[parameter]),
            iam.PolicyStatement(
                sid="ReadRegistry",
                actions=["sagemaker:DescribeModelPackage", "sagemaker:ListModelPackages"],
                resources=[
                    packages,
                    stack.format_arn(service="sagemaker", resource="model-package-group", resource_name=group),
                ],
            ),
            iam.PolicyStatement(
                sid="BatchModels",
                actions=["sagemaker:CreateModel", "sagemaker:DescribeModel", "sagemaker:AddTags"],
                resources=[models],
            ),
            iam.PolicyStatement(
                sid="PublishDriftMetrics",
                actions=["cloudwatch:PutMetricData"],
                resources=["*"],
                conditions={"StringEquals": {"cloudwatch:namespace": names.metric_namespace}},
            ),
            iam.PolicyStatement(
                sid="PublishViolations",
                actions=["events:PutEvents"],
                resources=[stack.format_arn(service="events", resource="event-bus", resource_name="default")],
            ),
        ]
        for statement in statements:
            self.role.add_to_policy(statement)
        reasons = {
            packages: "Model package versions are numbered at registration; reads stay in the environment's group.",
            models: "Batch models are named <group>-v<package version> when the batch pipeline first needs them.",
        }
        for arn, reason in reasons.items():
            acknowledge(self.role, "AwsSolutions-IAM5", reason, finding=f"Resource::{nag_finding(self, arn)}")
        acknowledge(
            self.role,
            "AwsSolutions-IAM5",
            "cloudwatch:PutMetricData has no resource type in IAM; the drift check may publish only to the "
            "monitoring namespace (a condition).",
            finding="Resource::*",
        )
