"""Incremental ingestion from PostgreSQL: the ingestion pipeline, its schedule, settings, state and role.

Deployed only where the environment sets `ingestion`. The pipeline's one step (`pipeline_code.ingest`) reads its
settings from an SSM parameter written here from the config (no credentials: a secret ARN or an IAM user), keeps
each source's watermark and lease in a DynamoDB table, and writes batches under `adult/postgres/<source>/` of the
raw zone, where the new-data trigger counts them, and their manifests under `ingest-manifests/<source>/`.

The execution role may do exactly that: read its settings parameter and the one secret (or connect as the one
database user with RDS IAM authentication), update its source's item of the state table, write (and read back)
its source's objects and manifests, read the step code and the driver, write its step's report. The PostgreSQL
driver (psycopg 3, binary wheels for the image's Python 3.12) is installed by pip at synth into a cache folder
(`.cache/pipeline-deps/<hash>/`, once per machine) and deployed under `pipeline-deps/<hash>/`.

Networking: with `ingestion.network` the job runs in those subnets with those security groups. `vpc_subnet_ids`
and `vpc_security_group_ids` take the same from a VPC built elsewhere in the app (CDK tokens welcome); they win
over the config's.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_deployment as s3deploy
from aws_cdk import aws_sagemaker as sagemaker
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from config import ConfigError
from config.sections import IngestionSettings
from naming import ResourceNames
from pipeline_code.ingest_objects import MANIFEST_PREFIX
from pipeline_definition.contract import (
    CODE_PREFIX,
    DEPENDENCIES_PLATFORM,
    DEPENDENCIES_PREFIX,
    INGESTION_REQUIREMENTS,
    OUTPUT_PREFIX,
    PLACEHOLDERS,
    ROOT,
    dependencies_hash,
)
from stacks.units.compliance import (
    acknowledge,
    acknowledge_bucket_deployment,
    acknowledge_bucket_grant,
    acknowledge_bucket_put,
    acknowledge_grant_policy,
    nag_finding,
)
from stacks.units.pipeline_role import (
    PipelineDefinition,
    grant_pipeline_jobs,
    grant_volume_key,
    pipeline_schedule,
)

DEPENDENCIES_CACHE = ROOT / ".cache" / DEPENDENCIES_PREFIX
STEP = "IngestPostgres"  # pipeline_definition/builders/ingestion.py
SSM_STANDARD_MAX_BYTES = 4096
# What SageMaker needs to place a job's network interfaces in the configured subnets (its documented VPC policy).
_VPC_DESCRIBE = ["ec2:DescribeNetworkInterfaces", "ec2:DescribeVpcs", "ec2:DescribeDhcpOptions",
                 "ec2:DescribeSubnets", "ec2:DescribeSecurityGroups"]  # fmt: skip
_VPC_INTERFACES = ["ec2:CreateNetworkInterface", "ec2:CreateNetworkInterfacePermission",
                   "ec2:DeleteNetworkInterface", "ec2:DeleteNetworkInterfacePermission"]  # fmt: skip


def installed_dependencies(requirements: Sequence[str] = INGESTION_REQUIREMENTS) -> Path:
    """The pinned packages installed for the processing image (manylinux x86_64, CPython 3.12), from PyPI once per
    machine into DEPENDENCIES_CACHE/<hash>/; a `requirements.txt` beside them names what they are."""
    folder = DEPENDENCIES_CACHE / dependencies_hash(tuple(requirements))
    if (folder / "requirements.txt").is_file():
        return folder
    platform, python = DEPENDENCIES_PLATFORM
    DEPENDENCIES_CACHE.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(dir=DEPENDENCIES_CACHE, prefix=".install-"))
    command = [
        sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-deps",
        "--only-binary=:all:", "--platform", platform, "--python-version", python, "--implementation", "cp",
        "--target", str(scratch), *requirements,
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        shutil.rmtree(scratch, ignore_errors=True)
        why = (result.stderr.strip().splitlines() or [f"exit status {result.returncode}"])[-1]
        raise ConfigError(
            f"ingestion: installing {', '.join(requirements)} for the processing image failed (`{' '.join(command)}`, "
            f"which needs PyPI once per machine): {why}"
        )
    (scratch / "requirements.txt").write_text("\n".join(requirements) + "\n")
    try:
        scratch.rename(folder)
    except OSError:  # another synth installed it meanwhile
        shutil.rmtree(scratch, ignore_errors=True)
    return folder


def job_settings_document(settings: IngestionSettings) -> str:
    """The SSM parameter's value: what `pipeline_code.ingest_settings.parse_settings` reads."""
    return json.dumps(settings.job_settings(), sort_keys=True, separators=(",", ":"))


class PostgresIngestion(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        names: ResourceNames,
        settings: IngestionSettings,
        definition: PipelineDefinition,
        zones: dict[str, s3.IBucket],
        key: kms.IKey,
        removal_policy: cdk.RemovalPolicy,
        log_retention: logs.RetentionDays,
        vpc_subnet_ids: Sequence[str] | None = None,
        vpc_security_group_ids: Sequence[str] | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = cdk.Stack.of(self)
        self.pipeline_name = names.ingestion_pipeline
        self.key_arn = key.key_arn
        raw, artifacts = zones["raw"], zones["artifacts"]

        self.table = dynamodb.Table(
            self,
            "State",
            table_name=names.ingestion_state_table,
            partition_key=dynamodb.Attribute(name="source", type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            encryption=dynamodb.TableEncryption.CUSTOMER_MANAGED,
            encryption_key=key,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            removal_policy=removal_policy,
            deletion_protection=removal_policy == cdk.RemovalPolicy.RETAIN,
        )
        acknowledge(
            self.table,
            "NIST.800.53.R5-DynamoDBInBackupPlan",
            "One small item per source (watermark, batch count, lease); point-in-time recovery covers it, and the "
            "manifests in the raw zone record every committed batch, so the item can be rebuilt from them.",
        )
        document = job_settings_document(settings)
        self.settings_parameter_name = names.ingestion_settings_parameter
        self.settings_parameter = ssm.StringParameter(
            self,
            "Settings",
            parameter_name=names.ingestion_settings_parameter,
            string_value=document,
            description=f"{names.ingestion_pipeline}: source, columns and watermark (no credentials)",
            tier=ssm.ParameterTier.STANDARD
            if len(document.encode()) <= SSM_STANDARD_MAX_BYTES
            else ssm.ParameterTier.ADVANCED,
        )

        self.role = iam.Role(
            self,
            "ExecutionRole",
            assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"),
            description=f"Runs {names.ingestion_pipeline}: reads PostgreSQL, writes the raw zone",
        )
        grant_pipeline_jobs(self.role, ("processing-job",), [definition])
        grant_volume_key(self.role, key)
        self._grant_objects(names, settings, raw, artifacts)
        self._grant_state_and_credentials(stack, settings)
        subnets = list(vpc_subnet_ids or (settings.network.subnet_ids if settings.network else []))
        groups = list(vpc_security_group_ids or (settings.network.security_group_ids if settings.network else []))
        if bool(subnets) != bool(groups):
            raise ConfigError("ingestion: a VPC placement needs both subnet ids and security group ids")
        if subnets:
            self._grant_vpc(stack, subnets, groups)
        acknowledge_grant_policy(self.role)

        deploy_logs = logs.LogGroup(self, "DeployLogs", encryption_key=key, retention=log_retention)
        dependencies = s3deploy.BucketDeployment(
            self,
            "DeployDependencies",
            sources=[s3deploy.Source.asset(str(installed_dependencies()))],
            destination_bucket=artifacts,
            destination_key_prefix=f"{DEPENDENCIES_PREFIX}/{dependencies_hash()}/",
            prune=False,
            retain_on_delete=True,
            log_group=deploy_logs,
        )
        acknowledge_bucket_deployment(stack, artifacts)

        body = definition.render(
            {
                PLACEHOLDERS.role_arn: self.role.role_arn,
                PLACEHOLDERS.kms_key_arn: key.key_arn,
                PLACEHOLDERS.raw_bucket: raw.bucket_name,
                PLACEHOLDERS.artifacts_bucket: artifacts.bucket_name,
            }
        )
        if subnets:
            body = with_network(body, subnets, groups)
        self.pipeline = sagemaker.CfnPipeline(
            self,
            "Pipeline",
            pipeline_name=names.ingestion_pipeline,
            pipeline_display_name=names.ingestion_pipeline,
            pipeline_description="new PostgreSQL rows past the watermark -> raw zone CSV with manifests",
            role_arn=self.role.role_arn,
            pipeline_definition={"PipelineDefinitionBody": body},
        )
        self.pipeline.node.add_dependency(self.role, dependencies, self.settings_parameter, self.table)
        self.schedule = self._schedule(stack, names, settings.schedule, key)

    # ------------------------------------------------------------------------------------------- grants
    def _grant_objects(
        self, names: ResourceNames, settings: IngestionSettings, raw: s3.IBucket, artifacts: s3.IBucket
    ) -> None:
        for objects in (f"{CODE_PREFIX}/*", f"{DEPENDENCIES_PREFIX}/*"):
            artifacts.grant_read(self.role, objects)
            acknowledge_bucket_grant(self.role, artifacts, objects, "The job reads its code and driver", write=False)
        report = f"{OUTPUT_PREFIX}/*/{STEP}/*"
        artifacts.grant_put(self.role, report)
        acknowledge_bucket_put(self.role, artifacts, report, "The job writes its run report")
        # Its own source's batches and manifests, nothing else of the raw zone: written (multipart), read back (a
        # manifest to adopt, an object's size), never deleted.
        for objects in (f"{names.raw_training_prefix}postgres/{settings.source_name}/*",
                        f"{MANIFEST_PREFIX}/{settings.source_name}/*"):  # fmt: skip
            raw.grant_put(self.role, objects)
            acknowledge_bucket_put(self.role, raw, objects, "The job writes its source's batches and manifests")
            raw.grant_read(self.role, objects)
            acknowledge_bucket_grant(self.role, raw, objects, "The job reads back its own manifests", write=False)

    def _grant_state_and_credentials(self, stack: cdk.Stack, settings: IngestionSettings) -> None:
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="ReadSettings",
                actions=["ssm:GetParameter"],
                resources=[
                    stack.format_arn(
                        service="ssm", resource="parameter", resource_name=self.settings_parameter_name.lstrip("/")
                    )
                ],
            )
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="WatermarkOfItsSource",
                actions=["dynamodb:GetItem", "dynamodb:UpdateItem"],
                resources=[self.table.table_arn],
                conditions={"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": [settings.source_name]}},
            )
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="StateTableKey",
                actions=["kms:Decrypt", "kms:GenerateDataKey"],
                resources=[self.key_arn],
                conditions={"StringEquals": {"kms:ViaService": f"dynamodb.{stack.region}.amazonaws.com"}},
            )
        )
        connection = settings.connection
        if connection.secret_arn:
            self.role.add_to_policy(
                iam.PolicyStatement(
                    sid="ReadDatabaseSecret",
                    actions=["secretsmanager:GetSecretValue"],
                    resources=[connection.secret_arn],
                )
            )
            if connection.secret_kms_key_arn:
                self.role.add_to_policy(
                    iam.PolicyStatement(
                        sid="DecryptDatabaseSecret",
                        actions=["kms:Decrypt"],
                        resources=[connection.secret_kms_key_arn],
                        conditions={"StringEquals": {"kms:ViaService": f"secretsmanager.{stack.region}.amazonaws.com"}},
                    )
                )
        else:
            user = stack.format_arn(
                service="rds-db",
                resource="dbuser",
                resource_name=f"{connection.iam_db_resource_id}/{connection.iam_username}",
                arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
            )
            self.role.add_to_policy(iam.PolicyStatement(sid="ConnectAsDatabaseUser", actions=["rds-db:connect"],
                                                        resources=[user]))  # fmt: skip

    def _grant_vpc(self, stack: cdk.Stack, subnets: list[str], groups: list[str]) -> None:
        self.role.add_to_policy(iam.PolicyStatement(sid="DescribeNetwork", actions=_VPC_DESCRIBE, resources=["*"]))
        acknowledge(
            self.role,
            "AwsSolutions-IAM5",
            "EC2's Describe* calls that SageMaker makes to place a job in a VPC have no resource-level permissions.",
            finding="Resource::*",
        )
        interfaces = stack.format_arn(service="ec2", resource="network-interface", resource_name="*")
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="JobNetworkInterfaces",
                actions=_VPC_INTERFACES,
                resources=[
                    interfaces,
                    *(stack.format_arn(service="ec2", resource="subnet", resource_name=s) for s in subnets),
                    *(stack.format_arn(service="ec2", resource="security-group", resource_name=g) for g in groups),
                ],
            )
        )
        acknowledge(
            self.role,
            "AwsSolutions-IAM5",
            "SageMaker creates and deletes the job's network interfaces (ids made at run time) in the configured "
            "subnets and security groups only.",
            finding=f"Resource::{nag_finding(self, interfaces)}",
        )

    def _schedule(self, stack: cdk.Stack, names: ResourceNames, expression: str, key: kms.IKey) -> Any:
        role = iam.Role(
            self,
            "SchedulerRole",
            assumed_by=iam.ServicePrincipal(
                "scheduler.amazonaws.com", conditions={"StringEquals": {"aws:SourceAccount": stack.account}}
            ),
            description=f"EventBridge Scheduler starts {names.ingestion_pipeline}",
        )
        # A late start is harmless (the next run catches up); a run already going keeps the lease.
        schedule = pipeline_schedule(
            self, "Schedule", pipeline=names.ingestion_pipeline, expression=expression, role=role, key=key
        )
        key.grant_decrypt(role)  # the schedule's target is encrypted with the lake key
        acknowledge_grant_policy(role)
        return schedule


def with_network(body: str, subnets: Sequence[str], groups: Sequence[str]) -> str:
    """The definition with the ingestion step placed in a VPC (`NetworkConfig`); ids may be CDK tokens."""
    definition = json.loads(body)
    for step in definition["Steps"]:
        if step["Name"] == STEP:
            step["Arguments"]["NetworkConfig"] = {
                "EnableNetworkIsolation": False,  # it must reach the database and AWS APIs
                "EnableInterContainerTrafficEncryption": True,
                "VpcConfig": {"Subnets": list(subnets), "SecurityGroupIds": list(groups)},
            }
    return json.dumps(definition, separators=(",", ":"), sort_keys=True)
