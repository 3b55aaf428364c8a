"""The SageMaker training pipeline of one environment, its code in the artifacts zone and its execution role."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_deployment as s3deploy
from aws_cdk import aws_sagemaker as sagemaker
from constructs import Construct

from pipeline_definition.contract import (
    CODE_EXCLUDE,
    CODE_PREFIX,
    DATA_SNAPSHOT_PREFIX,
    OUTPUT_PREFIX,
    PLACEHOLDERS,
    STAGING_PREFIX,
)
from stacks.units.compliance import (
    acknowledge,
    acknowledge_bucket_deployment,
    acknowledge_bucket_grant,
    acknowledge_bucket_put,
    acknowledge_grant_policy,
    nag_finding,
)
from stacks.units.experiment_tracking import MLFLOW_PREFIX
from stacks.units.network import (
    NetworkRefs,
    deny_compute_outside,
    grant_sagemaker_network_interfaces,
    harden_bucket_deployment,
    network_substitutions,
)
from stacks.units.pipeline_role import PipelineDefinition, grant_pipeline_jobs, grant_volume_key

# What the steps log to a managed MLflow tracking server (pipeline_code.tracking): runs, params, metrics, models.
_MLFLOW_ACTIONS = [
    "sagemaker-mlflow:AccessUI",
    "sagemaker-mlflow:CreateExperiment",
    "sagemaker-mlflow:GetExperiment",
    "sagemaker-mlflow:GetExperimentByName",
    "sagemaker-mlflow:SearchExperiments",
    "sagemaker-mlflow:CreateRun",
    "sagemaker-mlflow:GetRun",
    "sagemaker-mlflow:UpdateRun",
    "sagemaker-mlflow:LogBatch",
    "sagemaker-mlflow:LogMetric",
    "sagemaker-mlflow:LogParam",
    "sagemaker-mlflow:SetTag",
    "sagemaker-mlflow:LogModel",
]

# The jobs the training pipeline starts (as its role): each must carry the environment's network.
_STARTS = ("CreateProcessingJob", "CreateTrainingJob", "CreateHyperParameterTuningJob")


class TrainingPipeline(Construct):
    """`AWS::SageMaker::Pipeline` from a generated definition, with a least-privilege execution role.

    Ships `pipeline_code/` to `s3://<artifacts>/pipeline-code/<code hash>/` (a new hash is a new prefix, so runs
    in flight keep their code) and the SDK's staged training drivers to `pipeline-staging/`, then replaces the
    definition's placeholders with this environment's bucket, key, role, feature group and model package group.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        pipeline_name: str,
        definition: PipelineDefinition,
        raw_bucket: s3.IBucket,
        artifacts_bucket: s3.IBucket,
        key: kms.IKey,
        feature_group_name: str,
        feature_group_arn: str,
        model_package_group_name: str,
        model_package_group_arn: str,
        mlflow_tracking_server_arn: str | None,
        log_retention: logs.RetentionDays,
        network: NetworkRefs | None = None,
    ) -> None:
        """`network`: the subnets and security groups every job runs in (None: the environment has no VPC)."""
        super().__init__(scope, construct_id)
        stack = cdk.Stack.of(self)
        self.pipeline_name = pipeline_name
        self.role = iam.Role(
            self,
            "ExecutionRole",
            assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"),
            description=f"Runs {pipeline_name} and the processing, training and tuning jobs it starts",
        )
        self._grant_data(raw_bucket, artifacts_bucket, key, mlflow=mlflow_tracking_server_arn is not None)
        grant_pipeline_jobs(self.role, ("processing-job", "training-job", "hyper-parameter-tuning-job"), [definition])
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="IngestFeatures",
                actions=["sagemaker:PutRecord", "sagemaker:BatchGetRecord", "sagemaker:DescribeFeatureGroup"],
                resources=[feature_group_arn],
            )
        )
        packages_arn = stack.format_arn(
            service="sagemaker", resource="model-package", resource_name=f"{model_package_group_name.lower()}/*"
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="RegisterModels",
                # Pipelines describes the package it registered to fill in the step's properties.
                actions=[
                    "sagemaker:CreateModelPackage",
                    "sagemaker:DescribeModelPackage",
                    "sagemaker:DescribeModelPackageGroup",
                    "sagemaker:AddTags",
                ],
                resources=[model_package_group_arn, packages_arn],
            )
        )
        acknowledge(
            self.role,
            "AwsSolutions-IAM5",
            "Model package versions get their number at registration: the role may create versions in its one group.",
            finding=f"Resource::{nag_finding(self, packages_arn)}",
        )
        if mlflow_tracking_server_arn:
            self.role.add_to_policy(
                iam.PolicyStatement(
                    sid="TrackExperiments", actions=_MLFLOW_ACTIONS, resources=[mlflow_tracking_server_arn]
                )
            )
        if network:
            grant_sagemaker_network_interfaces(self.role)
            deny_compute_outside(self.role, network, [f"sagemaker:{a}" for a in _STARTS])
        acknowledge_grant_policy(self.role)

        deploy_logs = logs.LogGroup(self, "DeployLogs", encryption_key=key, retention=log_retention)
        code = s3deploy.BucketDeployment(
            self,
            "DeployCode",
            sources=[s3deploy.Source.asset(str(definition.code_dir), exclude=list(CODE_EXCLUDE))],
            destination_bucket=artifacts_bucket,
            destination_key_prefix=f"{CODE_PREFIX}/{definition.code_hash}/pipeline_code/",
            prune=False,  # older code versions stay for runs in flight and for lineage
            retain_on_delete=True,
            log_group=deploy_logs,
        )
        staged = s3deploy.BucketDeployment(
            self,
            "DeployStaged",
            sources=[s3deploy.Source.asset(str(definition.staging_dir / STAGING_PREFIX))],
            destination_bucket=artifacts_bucket,
            destination_key_prefix=f"{STAGING_PREFIX}/",
            prune=False,
            retain_on_delete=True,
            log_group=deploy_logs,
        )
        acknowledge_bucket_deployment(stack, artifacts_bucket, in_vpc=network is not None)
        harden_bucket_deployment(stack, key, network)

        body = definition.render(
            {
                PLACEHOLDERS.role_arn: self.role.role_arn,
                PLACEHOLDERS.kms_key_arn: key.key_arn,
                PLACEHOLDERS.raw_bucket: raw_bucket.bucket_name,
                PLACEHOLDERS.artifacts_bucket: artifacts_bucket.bucket_name,
                PLACEHOLDERS.feature_group: feature_group_name,
                PLACEHOLDERS.model_package_group: model_package_group_name,
                PLACEHOLDERS.mlflow_tracking_server_arn: mlflow_tracking_server_arn
                or PLACEHOLDERS.mlflow_tracking_server_arn,
            },
            lists=network_substitutions(network, definition.runs_in_a_vpc, pipeline_name),
        )
        self.pipeline = sagemaker.CfnPipeline(
            self,
            "Pipeline",
            pipeline_name=pipeline_name,
            pipeline_display_name=pipeline_name,
            pipeline_description="validate, preprocess, ingest features, train or tune, evaluate, check bias, gate",
            role_arn=self.role.role_arn,
            pipeline_definition={"PipelineDefinitionBody": body},
        )
        # A run started right after a deploy must find its code, and the role its permissions.
        self.pipeline.node.add_dependency(code, staged, self.role)
        self.pipeline_arn = stack.format_arn(
            service="sagemaker", resource="pipeline", resource_name=pipeline_name.lower()
        )

    def _grant_data(self, raw_bucket: s3.IBucket, artifacts_bucket: s3.IBucket, key: kms.IKey, *, mlflow: bool) -> None:
        # A run reads the objects its data snapshot lists (InputManifestUri), which may be anywhere in the raw zone.
        raw_bucket.grant_read(self.role)
        acknowledge_bucket_grant(self.role, raw_bucket, "*", "Runs read input data from the raw zone", write=False)
        # Jobs write their outputs (and MLflow's client its run artifacts) but never delete: registered models
        # and baselines live under pipeline-runs/, and only the bucket's lifecycle removes them.
        written = [OUTPUT_PREFIX] + ([MLFLOW_PREFIX] if mlflow else [])
        # data-snapshots/: the manifests the starters write, which ValidateData and Preprocess read (ManifestFile).
        for prefix in [CODE_PREFIX, STAGING_PREFIX, DATA_SNAPSHOT_PREFIX, *written]:
            artifacts_bucket.grant_read(self.role, f"{prefix}/*")
            acknowledge_bucket_grant(
                self.role, artifacts_bucket, f"{prefix}/*", "Jobs read code, inputs and earlier outputs", write=False
            )
        for prefix in written:
            artifacts_bucket.grant_put(self.role, f"{prefix}/*")
            acknowledge_bucket_put(self.role, artifacts_bucket, f"{prefix}/*", "Jobs write models, reports, runs")
        grant_volume_key(self.role, key)
