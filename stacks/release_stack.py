"""The GitOps release pipeline: commit -> tests -> dev -> staging -> approval -> prod, deployed once.

CDK Pipelines (`pipelines.CodePipeline`) in the tooling account: it fetches the repository, runs the README's
test command (a red test stops the release), synthesizes, updates itself, then deploys the same `MlopsStage`
that local deploys use into each environment's account and region, with a post-deploy check after each and a
manual approval before prod. In dev, the post-deploy steps also start a training run when `pipeline_code/`
changed. Failed releases and waiting approvals go to an SNS topic.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_codecommit as codecommit
from aws_cdk import aws_codestarnotifications as notifications
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import pipelines
from constructs import Construct

from config import ConfigError, EnvironmentConfig, ReleaseSettings, ReleaseSourceSettings
from naming import ResourceNames
from pipeline_definition import contract
from stacks.stage import MlopsStage
from stacks.units.compliance import acknowledge
from stacks.units.release_access import ReleaseAccess
from stacks.units.release_compliance import acknowledge_generated_grants

# The README's test command and the synth of this very stack: the pipeline builds what `make` builds locally.
TEST_COMMAND = "make test"
SYNTH_COMMAND = "make synth-release"
CODE_DIR = "pipeline_code"
NOTIFIED_EVENTS = (
    "codepipeline-pipeline-pipeline-execution-failed",
    "codepipeline-pipeline-manual-approval-needed",
)


def _given(value: str | None, key: str) -> str:
    # `PlatformConfig.require_release` has already named every missing value; this narrows the type.
    if value is None:
        raise ConfigError(f"release: key '{key}' is missing (call PlatformConfig.require_release first)")
    return value


class ReleaseStack(cdk.Stack):
    """The self-mutating release pipeline; `pipeline` and `topic` are its pipeline and notification topic.

    Expects complete release settings (`PlatformConfig.require_release`) and every environment with an account.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        project_name: str,
        release: ReleaseSettings,
        environments: Sequence[EnvironmentConfig],
        cdk_cli_version: str,
        **kwargs: Any,
    ) -> None:
        tooling_account = _given(release.account, "release.account")
        super().__init__(
            scope, construct_id, env=cdk.Environment(account=tooling_account, region=release.region), **kwargs
        )
        self.topic = self._notification_topic(
            project_name, _given(release.notification_email, "release.notification_email")
        )
        source = _source(self, release.source)
        self.pipeline = pipelines.CodePipeline(
            self,
            "Pipeline",
            pipeline_name=f"{project_name}-release",
            synth=pipelines.CodeBuildStep(
                "Synth",
                input=source,
                commands=[TEST_COMMAND, SYNTH_COMMAND],
                primary_output_directory="cdk.out",
            ),
            cross_account_keys=True,  # the stages live in other accounts: they must decrypt the artifacts
            enable_key_rotation=True,
            self_mutation=True,
            cli_version=cdk_cli_version,
            publish_assets_in_parallel=False,
            code_build_defaults=pipelines.CodeBuildOptions(
                build_environment=codebuild.BuildEnvironment(build_image=codebuild.LinuxBuildImage.STANDARD_7_0),
                partial_build_spec=codebuild.BuildSpec.from_object(
                    {"phases": {"install": {"runtime-versions": {"python": "3.12", "nodejs": "20"}}}}
                ),
            ),
        )
        by_name: dict[str, EnvironmentConfig] = {environment.name: environment for environment in environments}
        for environment in environments:
            self._add_environment(project_name, environment, tooling_account, source, by_name)
        self.pipeline.build_pipeline()
        acknowledge_generated_grants(self.pipeline)
        # cfn-lint's E3703 asks for Fn::Sub where CDK Pipelines writes the deploy actions' role ARNs as Fn::Join;
        # both are valid CloudFormation and the generated form is not ours to change.
        self.pipeline.pipeline.node.default_child.add_metadata(  # type: ignore[union-attr]
            "cfn-lint", {"config": {"ignore_checks": ["E3703"]}}
        )
        # One artifact bucket here, plus one per other region a stage deploys to (in CDK's support stacks).
        for bucket in (
            self.pipeline.pipeline.artifact_bucket,
            *(support.replication_bucket for support in self.pipeline.pipeline.cross_region_support.values()),
        ):
            self._acknowledge_artifact_bucket(bucket)
        notifications.NotificationRule(
            self,
            "ReleaseNotifications",
            source=self.pipeline.pipeline,
            events=list(NOTIFIED_EVENTS),
            targets=[self.topic],
            detail_type=notifications.DetailType.BASIC,
        )

    @staticmethod
    def _acknowledge_artifact_bucket(bucket: s3.IBucket) -> None:
        """The bucket CDK Pipelines creates (KMS with the cross-account key, TLS-only, private) for its artifacts."""
        transient = (
            "Holds only the pipeline's intermediate artifacts (source zips, cloud assemblies), written and read by "
            "the pipeline's own roles; every release is recorded in CodePipeline's execution history and CloudTrail."
        )
        acknowledge(bucket, "AwsSolutions-S1", transient)
        acknowledge(bucket, "NIST.800.53.R5-S3BucketLoggingEnabled", transient)
        acknowledge(
            bucket,
            "NIST.800.53.R5-S3BucketVersioningEnabled",
            "Every pipeline execution writes its artifacts under new generated keys and never overwrites one, so "
            "versions would only duplicate; a lost artifact is rebuilt by re-running the release from git.",
        )
        acknowledge(
            bucket,
            "NIST.800.53.R5-S3BucketReplicationEnabled",
            "Artifacts are rebuilt from git by any release; replicating them to another region protects nothing.",
        )

    def _notification_topic(self, project_name: str, email: str) -> sns.Topic:
        key = kms.Key(
            self,
            "NotificationKey",
            description=f"Encrypts the {project_name} release notifications",
            enable_key_rotation=True,
        )
        # CodeStar Notifications publishes into the encrypted topic: it must be able to use the key.
        key.grant(iam.ServicePrincipal("codestar-notifications.amazonaws.com"), "kms:GenerateDataKey*", "kms:Decrypt")
        topic = sns.Topic(
            self,
            "Notifications",
            topic_name=f"{project_name}-release-notifications",
            master_key=key,
            enforce_ssl=True,
        )
        topic.add_subscription(subscriptions.EmailSubscription(email))
        return topic

    def _add_environment(
        self,
        project_name: str,
        environment: EnvironmentConfig,
        tooling_account: str,
        source: pipelines.CodePipelineSource,
        environments: dict[str, EnvironmentConfig],
    ) -> None:
        """Deploy one environment's `MlopsStage`, then check it; dev also re-runs training on new ML code."""
        account = _given(environment.account, f"environments.{environment.name}.account")
        stage = MlopsStage(
            self,
            project_name=project_name,
            environment=environment,
            source=environments.get(environment.promotion.source),
            consumers=[e for e in environments.values() if e.promotion.source == environment.name],
        )
        # The stage's names are its templates' (deploy-time account and region); the steps below run in CodeBuild
        # with plain strings: the same names, resolved in the environment's account and region.
        names = ResourceNames(project_name, environment.name, account, environment.region, dataset=environment.dataset)
        is_dev = environment.name == "dev"
        access_stack = cdk.Stack(
            stage,
            "ReleaseAccess",
            stack_name=stage.names.release_access_stack,
            description=f"{project_name} {environment.name}: the role the release pipeline's checks assume",
        )
        ReleaseAccess(
            access_stack,
            "ReleaseAccess",
            names=stage.names,
            tooling_account=tooling_account,
            # the training pipeline a code change re-runs, and where the hash of the code it last ran is kept
            training_pipeline_name=stage.names.training_pipeline if is_dev else None,
            code_hash_parameter=stage.names.code_hash_parameter if is_dev else None,
        )
        target = {
            "TARGET_REGION": environment.region,
            "RELEASE_ROLE_ARN": f"arn:{self.partition}:iam::{account}:role/{names.release_check_role}",
        }
        post: list[pipelines.Step] = [
            self._post_deploy_step(
                "CheckDeployment",
                source,
                target,
                command="python -m release.post_deploy_check",
                env_from_cfn_outputs=_checked_outputs(stage),
            )
        ]
        if is_dev:
            post.append(
                self._post_deploy_step(
                    "StartTrainingOnCodeChange",
                    source,
                    {
                        **target,
                        "TRAINING_PIPELINE_NAME": names.training_pipeline,
                        "CODE_HASH_PARAMETER": names.code_hash_parameter,
                        "CODE_DIR": CODE_DIR,
                        # The run's data snapshot (lambdas/shared/snapshot.py), named as the data lake names them.
                        "RAW_BUCKET_NAME": names.zone_bucket("raw"),
                        "SNAPSHOT_PREFIXES": ",".join(names.snapshot_prefixes),
                        "SNAPSHOTS_URI": f"s3://{names.zone_bucket('artifacts')}/{contract.DATA_SNAPSHOT_PREFIX}/",
                    },
                    command="python -m release.code_change_trigger",
                )
            )
            post[1].add_step_dependency(post[0])
        pre: list[pipelines.Step] = []
        if environment.name == "prod":
            pre.append(
                pipelines.ManualApprovalStep(
                    "PromoteToProd",
                    comment="staging is deployed and checked: approve to release this code and infrastructure to "
                    "prod (models are approved in prod's promotion, never here: docs/operations.md)",
                )
            )
        self.pipeline.add_stage(stage, pre=pre, post=post)

    def _post_deploy_step(
        self,
        step_id: str,
        source: pipelines.CodePipelineSource,
        env: dict[str, str],
        *,
        command: str,
        env_from_cfn_outputs: dict[str, cdk.CfnOutput] | None = None,
    ) -> pipelines.CodeBuildStep:
        return pipelines.CodeBuildStep(
            step_id,
            input=source,
            install_commands=["python -m pip install --quiet -r release/requirements.txt"],
            commands=[command],
            env=env,
            env_from_cfn_outputs=env_from_cfn_outputs,
            role_policy_statements=[
                iam.PolicyStatement(actions=["sts:AssumeRole"], resources=[env["RELEASE_ROLE_ARN"]]),
            ],
        )


def _checked_outputs(stage: MlopsStage) -> dict[str, cdk.CfnOutput]:
    """The stage's outputs that the post-deploy check verifies, as `CHECK_<KIND>_<ID>` variables.

    Extend it when a stack outputs something new, e.g. `"CHECK_SAGEMAKER_PIPELINE_TRAINING": <output>`
    (kinds: BUCKET, SAGEMAKER_PIPELINE, FEATURE_GROUP, ENDPOINT; see release/post_deploy_check.py).
    """
    outputs = {f"CHECK_BUCKET_{zone.upper()}": output for zone, output in stage.data_lake.zone_bucket_outputs.items()}
    outputs[f"CHECK_FEATURE_GROUP_{stage.names.dataset.upper()}"] = stage.data_lake.feature_group_output
    outputs["CHECK_SAGEMAKER_PIPELINE_TRAINING"] = stage.ml_pipeline.pipeline_name_output
    return outputs


def _source(scope: Construct, settings: ReleaseSourceSettings) -> pipelines.CodePipelineSource:
    """CodeConnections by default; CodeCommit (closed to new AWS customers) and S3 are options."""
    if settings.provider == "codeconnections":
        return pipelines.CodePipelineSource.connection(
            _given(settings.repository, "release.source.repository"),
            _given(settings.branch, "release.source.branch"),
            connection_arn=_given(settings.connection_arn, "release.source.connection_arn"),
            trigger_on_push=True,
        )
    if settings.provider == "codecommit":
        repository = codecommit.Repository.from_repository_name(
            scope, "SourceRepository", _given(settings.repository, "release.source.repository")
        )
        return pipelines.CodePipelineSource.code_commit(repository, _given(settings.branch, "release.source.branch"))
    bucket = s3.Bucket.from_bucket_name(scope, "SourceBucket", _given(settings.bucket, "release.source.bucket"))
    return pipelines.CodePipelineSource.s3(bucket, _given(settings.object_key, "release.source.object_key"))
