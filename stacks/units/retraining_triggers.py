"""The retraining triggers: drift, new data and a schedule start the training pipeline, at most once per cooldown.

Three Lambda functions (code in `lambdas/`, Powertools from its public layer), one DynamoDB table for their state
(Powertools idempotency records and the pipeline's ledger: last start, new data counted since), EventBridge
rules with retries and a dead-letter queue, an alarm on that queue, and the `schedules.retraining` schedule
(EventBridge Scheduler), which invokes the scheduled trigger rather than the pipeline: only a function can take
the data snapshot a run reads. Each start lists the raw zone's training prefixes and writes a data snapshot
(`snapshot_statements`, shared with the release's role).
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import jsii
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from config import ReservedConcurrency, RetrainingSettings
from naming import ResourceNames
from pipeline_code import schema
from pipeline_definition.contract import DATA_SNAPSHOT_PREFIX
from stacks.units.compliance import acknowledge, acknowledge_grant_policy, nag_finding
from stacks.units.network import NetworkRefs, place_function

LAMBDAS_DIR = Path(__file__).resolve().parents[2] / "lambdas"

# Powertools for AWS Lambda (Python) v3, public layer version 27 (Powertools 3.23.0, with all extras: fastjsonschema,
# which validates the triggers' events and settings, and aws-xray-sdk; its pydantic is not used by the functions;
# boto3 comes from the runtime). The layer is pinned, not resolved from SSM at deploy, so a synth says exactly
# what runs.
POWERTOOLS_LAYER_VERSION = 27
POWERTOOLS_LAYER_ARN = (
    "arn:${AWS::Partition}:lambda:${AWS::Region}:017000801446:layer:"
    f"AWSLambdaPowertoolsPythonV3-python312-x86_64:{POWERTOOLS_LAYER_VERSION}"
)

# The new-data trigger estimates rows from an object's size with the data set's average bytes per raw row (its
# contract's `average_row_bytes`; tests/lambdas checks Adult's against the data). New-data events count objects
# under the data set's prefix only (`names.raw_training_prefix`); feedback/ rides along in every snapshot
# (lambdas/retrain_on_new_data/logic.py says why).
METRIC_NAMESPACE = "MLOps/Retraining"

# Lambda retries a failed asynchronous invocation twice, then sends the event to the dead-letter queue.
FUNCTION_RETRY_ATTEMPTS = 2
# EventBridge retries delivering to the function (throttled or unavailable invoke) this often, then the same queue.
TARGET_RETRY_ATTEMPTS = 8
RESERVED_CONCURRENCY = 2  # where no `functions.reserved_concurrency` is given (unit tests)

# What the retraining schedule sends the scheduled trigger (`lambdas/retrain_on_schedule/events.py` validates it):
# Scheduler's context attributes, which it fills in at each invocation.
SCHEDULED_RUN_INPUT = {
    "schedule": "<aws.scheduler.schedule-arn>",
    "scheduledTime": "<aws.scheduler.scheduled-time>",
    "attempt": "<aws.scheduler.attempt-number>",
}
# Scheduler retries an invocation Lambda refuses (throttled, unavailable) this often within an hour; a failure
# inside the function is Lambda's to retry (FUNCTION_RETRY_ATTEMPTS, then the dead-letter queue).
SCHEDULE_RETRY_ATTEMPTS = 3


@jsii.implements(cdk.ILocalBundling)
class _CopyPackage:
    """The deployment package without Docker or pip: `lambdas/__init__.py`, `lambdas/shared/` and one handler's
    folder, Python sources only (Powertools and fastjsonschema come from the layer, boto3 from the runtime)."""

    def __init__(self, function: str) -> None:
        self.function = function

    def try_bundle(self, output_dir: str, *_: Any, **__: Any) -> bool:
        target = Path(output_dir) / "lambdas"
        target.mkdir(parents=True, exist_ok=True)
        shutil.copy2(LAMBDAS_DIR / "__init__.py", target / "__init__.py")
        for folder in ("shared", self.function):
            (target / folder).mkdir(exist_ok=True)
            for source in sorted((LAMBDAS_DIR / folder).glob("*.py")):
                shutil.copy2(source, target / folder / source.name)
        return True


def package(function: str) -> lambda_.Code:
    """The asset of one handler (the same files `_CopyPackage` copies, hashed by their content)."""
    return lambda_.Code.from_asset(
        str(LAMBDAS_DIR),
        bundling=cdk.BundlingOptions(
            # Never pulled: local bundling always succeeds. CDK requires an image for the Docker fallback.
            image=cdk.DockerImage.from_registry("public.ecr.aws/sam/build-python3.12"),
            local=_CopyPackage(function),
            # Part of the asset's cache key: without it CDK would reuse the first function's bundle for the second.
            environment={"LAMBDA_PACKAGE": function},
        ),
        asset_hash_type=cdk.AssetHashType.OUTPUT,
    )


def snapshot_statements(
    scope: Construct, *, raw_bucket_name: str, artifacts_bucket_name: str, key_arn: str, prefixes: tuple[str, ...]
) -> list[iam.PolicyStatement]:
    """What taking a data snapshot needs (`lambdas.shared.adapters.DataSnapshots`), and nothing more: list the
    raw zone under the snapshot prefixes (no GetObject: a listing has every key and ETag), write manifests under
    `data-snapshots/` of the artifacts zone, and the key through S3 to encrypt them (the zone's default SSE-KMS).
    `key_arn` may be `arn:...:key/*` where the key is not known: S3's encryption context then pins the bucket."""
    stack = cdk.Stack.of(scope)
    raw = f"arn:{stack.partition}:s3:::{raw_bucket_name}"
    artifacts = f"arn:{stack.partition}:s3:::{artifacts_bucket_name}"
    return [
        iam.PolicyStatement(
            sid="ListRawTrainingData",
            actions=["s3:ListBucket"],
            resources=[raw],
            conditions={"StringLike": {"s3:prefix": [f"{prefix}*" for prefix in prefixes]}},
        ),
        iam.PolicyStatement(
            sid="WriteDataSnapshots", actions=["s3:PutObject"], resources=[f"{artifacts}/{DATA_SNAPSHOT_PREFIX}/*"]
        ),
        iam.PolicyStatement(
            sid="EncryptDataSnapshots",
            actions=["kms:GenerateDataKey"],
            resources=[key_arn],
            conditions={
                "StringEquals": {
                    "kms:ViaService": f"s3.{stack.region}.amazonaws.com",
                    "kms:EncryptionContext:aws:s3:arn": artifacts,  # S3 bucket keys: the context is the bucket
                }
            },
        ),
    ]


def acknowledge_snapshot_statements(scope: Construct, *, artifacts_bucket_name: str) -> None:
    """AwsSolutions-IAM5 for the manifests' keys, which are content hashes made at run time."""
    snapshots = f"arn:{cdk.Stack.of(scope).partition}:s3:::{artifacts_bucket_name}/{DATA_SNAPSHOT_PREFIX}/*"
    acknowledge(
        scope,
        "AwsSolutions-IAM5",
        f"Data snapshots are named by the SHA-256 of the data they list (made at run time); PutObject only, "
        f"only under {DATA_SNAPSHOT_PREFIX}/ of the artifacts zone.",
        finding=f"Resource::{nag_finding(scope, snapshots)}",
    )


@dataclass(frozen=True)
class TriggerTargets:
    """What the triggers act on and report to."""

    training_pipeline_name: str
    raw_bucket_name: str
    artifacts_bucket_name: str  # data snapshots: s3://<artifacts>/data-snapshots/
    monitoring_reports_uri: str  # s3://<artifacts>/monitoring/reports/
    key: kms.IKey  # the lake key: the state table, the log groups and the snapshots
    alerts: sns.ITopic


class RetrainingTriggers(Construct):
    """`<prefix>-retrain-on-drift`, `<prefix>-retrain-on-new-data` and `<prefix>-retrain-on-schedule`, their state
    table, rules, the schedule `<prefix>-retraining` and the DLQ.

    Expects the training pipeline `<prefix>-training` (parameters Trigger, TriggerDetail, InputManifestUri), drift
    alarms named `<prefix>-drift-*`, and the raw zone sending EventBridge notifications.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        names: ResourceNames,
        retraining: RetrainingSettings,
        schedule: str,
        targets_: TriggerTargets,
        log_retention: logs.RetentionDays,
        removal_policy: cdk.RemovalPolicy,
        reserved_concurrency: ReservedConcurrency | None = None,
        network: NetworkRefs | None = None,
    ) -> None:
        """`reserved_concurrency`: each function's (`functions.reserved_concurrency`; None: RESERVED_CONCURRENCY).
        `network`: the subnets the functions run in (None: no VPC)."""
        super().__init__(scope, construct_id)
        stack = cdk.Stack.of(self)
        self._names = names
        self._targets = targets_
        self._network = network
        self.pipeline_arn = stack.format_arn(
            service="sagemaker", resource="pipeline", resource_name=targets_.training_pipeline_name.lower()
        )
        self.table = dynamodb.Table(
            self,
            "State",
            table_name=f"{names.prefix}-retraining-state",
            partition_key=dynamodb.Attribute(name="id", type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            encryption=dynamodb.TableEncryption.CUSTOMER_MANAGED,
            encryption_key=targets_.key,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            time_to_live_attribute="expiration",  # Powertools idempotency records expire; the ledger never does
            removal_policy=removal_policy,
            deletion_protection=removal_policy == cdk.RemovalPolicy.RETAIN,
        )
        acknowledge(
            self.table,
            "NIST.800.53.R5-DynamoDBInBackupPlan",
            "The table holds short-lived state only: idempotency records that expire after 48 h and the pipeline's "
            "ledger (last start, counters reset at every start); point-in-time recovery covers it, a Backup plan "
            "would protect nothing that matters beyond that.",
        )
        self.dead_letters_key = kms.Key(
            self,
            "DeadLettersKey",
            alias=f"alias/{names.prefix}-retraining-dead-letters",
            description=f"Encrypts the dead-letter queue of the {names.prefix} retraining triggers",
            enable_key_rotation=True,
            removal_policy=removal_policy,
        )
        # EventBridge puts undeliverable events into the queue as itself, so the key policy must let it.
        self.dead_letters_key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="EventBridgeDeadLetters",
                principals=[iam.ServicePrincipal("events.amazonaws.com")],
                actions=["kms:Decrypt", "kms:GenerateDataKey"],
                resources=["*"],  # in a key policy, "*" means this key
                conditions={"StringEquals": {"aws:SourceAccount": cdk.Aws.ACCOUNT_ID}},
            )
        )
        self.dead_letters = sqs.Queue(
            self,
            "DeadLetters",
            queue_name=f"{names.prefix}-retraining-dead-letters",
            encryption=sqs.QueueEncryption.KMS,
            encryption_master_key=self.dead_letters_key,
            enforce_ssl=True,
            retention_period=cdk.Duration.days(14),
        )
        acknowledge(
            self.dead_letters,
            "AwsSolutions-SQS3",
            "This queue is the dead-letter queue of the retraining functions and their EventBridge targets.",
        )
        self.dead_letters_alarm = cloudwatch.Alarm(
            self,
            "DeadLettersAlarm",
            alarm_name=f"{names.prefix}-retraining-dead-letters",
            alarm_description="A retraining trigger event failed (invalid, or AWS kept failing): see the queue",
            metric=self.dead_letters.metric_approximate_number_of_messages_visible(
                period=cdk.Duration.minutes(5), statistic="Maximum"
            ),
            threshold=1,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        self.dead_letters_alarm.add_alarm_action(actions.SnsAction(targets_.alerts))

        common = {
            "PLATFORM_ENVIRONMENT": names.prefix,
            "TRAINING_PIPELINE_NAME": targets_.training_pipeline_name,
            "STATE_TABLE_NAME": self.table.table_name,
            "COOLDOWN_HOURS": str(retraining.cooldown_hours),
            "POWERTOOLS_METRICS_NAMESPACE": METRIC_NAMESPACE,
            "RAW_BUCKET_NAME": targets_.raw_bucket_name,
            "SNAPSHOT_PREFIXES": ",".join(names.snapshot_prefixes),
            "SNAPSHOTS_URI": f"s3://{targets_.artifacts_bucket_name}/{DATA_SNAPSHOT_PREFIX}/",
        }
        self.on_drift = self._function(
            "RetrainOnDrift",
            folder="retrain_on_drift",
            reserved_concurrency=reserved_concurrency.retrain_on_drift
            if reserved_concurrency
            else RESERVED_CONCURRENCY,
            description="Starts the training pipeline when a drift alarm goes to ALARM or a violations report arrives",
            environment=common
            | {"DRIFT_ALARM_PREFIX": names.alarm_prefix, "MONITORING_REPORTS_URI": targets_.monitoring_reports_uri},
            log_retention=log_retention,
            removal_policy=removal_policy,
        )
        self.on_new_data = self._function(
            "RetrainOnNewData",
            folder="retrain_on_new_data",
            reserved_concurrency=reserved_concurrency.retrain_on_new_data
            if reserved_concurrency
            else RESERVED_CONCURRENCY,
            description="Starts the training pipeline once enough new data has landed in the raw zone",
            environment=common
            | {
                "INPUT_PREFIX": names.raw_training_prefix,
                "MIN_NEW_ROWS": str(retraining.min_new_rows),
                "MIN_NEW_BYTES": str(retraining.min_new_bytes),
                "AVERAGE_ROW_BYTES": str(schema.load(names.dataset).average_row_bytes),
            },
            log_retention=log_retention,
            removal_policy=removal_policy,
        )
        self.schedule_name = f"{names.prefix}-retraining"
        self.on_schedule = self._function(
            "RetrainOnSchedule",
            folder="retrain_on_schedule",
            reserved_concurrency=reserved_concurrency.retrain_on_schedule
            if reserved_concurrency
            else RESERVED_CONCURRENCY,
            description=f"Starts the training pipeline when the schedule {self.schedule_name} fires",
            environment=common | {"RETRAINING_SCHEDULE_NAME": self.schedule_name},
            log_retention=log_retention,
            removal_policy=removal_policy,
        )
        self.schedule = self._schedule(schedule)
        self.drift_alarm_rule = self._rule(
            "DriftAlarmRule",
            function=self.on_drift,
            description=f"A {names.alarm_prefix}* alarm goes to ALARM",
            pattern=events.EventPattern(
                source=["aws.cloudwatch"],
                detail_type=["CloudWatch Alarm State Change"],
                detail={"alarmName": [{"prefix": names.alarm_prefix}], "state": {"value": ["ALARM"]}},
            ),
        )
        self.violations_rule = self._rule(
            "DriftViolationsRule",
            function=self.on_drift,
            description=f"The monitoring pipeline of {names.prefix} reports drift violations",
            pattern=events.EventPattern(
                source=["mlops.monitoring"],
                detail_type=["Drift Violations Report"],
                detail={"environment": [names.prefix]},
            ),
        )
        self.new_data_rule = self._rule(
            "NewDataRule",
            function=self.on_new_data,
            description=f"An object is created under {names.raw_training_prefix} in the raw zone",
            pattern=events.EventPattern(
                source=["aws.s3"],
                detail_type=["Object Created"],
                detail={
                    "bucket": {"name": [targets_.raw_bucket_name]},
                    "object": {"key": [{"prefix": names.raw_training_prefix}]},
                },
            ),
        )

    def _function(
        self,
        construct_id: str,
        *,
        folder: str,
        description: str,
        environment: dict[str, str],
        log_retention: logs.RetentionDays,
        removal_policy: cdk.RemovalPolicy,
        reserved_concurrency: int,
    ) -> lambda_.Function:
        name = f"{self._names.prefix}-{folder.replace('_', '-')}"
        log_group = logs.LogGroup(
            self,
            f"{construct_id}Logs",
            log_group_name=f"/aws/lambda/{name}",
            encryption_key=self._targets.key,
            retention=log_retention,
            removal_policy=removal_policy,
        )
        # A role of its own instead of AWSLambdaBasicExecutionRole: logs only to its log group.
        role = iam.Role(
            self,
            f"{construct_id}Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"Runs {name}: reads the training pipeline's executions, snapshots its data, starts one",
        )
        log_group.grant_write(role)
        role.add_to_policy(
            iam.PolicyStatement(
                sid="StartTrainingPipeline",
                actions=["sagemaker:ListPipelineExecutions", "sagemaker:StartPipelineExecution"],
                resources=[self.pipeline_arn],
            )
        )
        # Powertools idempotency and the ledger: single-item reads and conditional writes, nothing else.
        self.table.grant(role, "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem")
        # Lambda sends failed invocations to the encrypted dead-letter queue as this role (SendMessage is added
        # by the function's dead_letter_queue; the key use is what SQS needs to encrypt the message).
        role.add_to_policy(
            iam.PolicyStatement(
                sid="DeadLettersKey",
                actions=["kms:GenerateDataKey", "kms:Decrypt"],
                resources=[self.dead_letters_key.key_arn],
            )
        )
        for statement in snapshot_statements(
            self,
            raw_bucket_name=self._targets.raw_bucket_name,
            artifacts_bucket_name=self._targets.artifacts_bucket_name,
            key_arn=self._targets.key.key_arn,
            prefixes=self._names.snapshot_prefixes,
        ):
            role.add_to_policy(statement)
        acknowledge_snapshot_statements(role, artifacts_bucket_name=self._targets.artifacts_bucket_name)
        role.add_to_policy(
            iam.PolicyStatement(
                sid="StateTableKey",
                actions=["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:DescribeKey"],
                resources=[self._targets.key.key_arn],
                conditions={"StringEquals": {"kms:ViaService": f"dynamodb.{cdk.Aws.REGION}.amazonaws.com"}},
            )
        )
        # The function's variables are encrypted with the lake key (environment_encryption): Lambda decrypts
        # them at each cold start with the function's role.
        role.add_to_policy(
            iam.PolicyStatement(
                sid="EnvironmentVariablesKey", actions=["kms:Decrypt"], resources=[self._targets.key.key_arn]
            )
        )
        function = lambda_.Function(
            self,
            construct_id,
            function_name=name,
            description=description,
            runtime=lambda_.Runtime.PYTHON_3_12,
            architecture=lambda_.Architecture.X86_64,
            handler=f"lambdas.{folder}.handler.lambda_handler",
            code=package(folder),
            layers=[
                lambda_.LayerVersion.from_layer_version_arn(
                    self, f"{construct_id}Powertools", cdk.Fn.sub(POWERTOOLS_LAYER_ARN)
                )
            ],
            role=role,
            log_group=log_group,
            memory_size=256,
            timeout=cdk.Duration.seconds(30),
            reserved_concurrent_executions=reserved_concurrency,
            tracing=lambda_.Tracing.ACTIVE,
            dead_letter_queue=self.dead_letters,
            retry_attempts=FUNCTION_RETRY_ATTEMPTS,
            max_event_age=cdk.Duration.hours(6),
            environment=environment | {"POWERTOOLS_SERVICE_NAME": folder.replace("_", "-")},
            environment_encryption=self._targets.key,
        )
        place_function(function, role, self._network)
        self._acknowledge(function, role)
        return function

    def _schedule(self, expression: str) -> scheduler.CfnSchedule:
        """`schedules.retraining`: invokes the scheduled trigger (asynchronously, as Scheduler invokes Lambda)
        with `SCHEDULED_RUN_INPUT`. Its role may invoke that one function, and decrypt the schedule's own input
        (encrypted with the lake key), nothing else."""
        stack = cdk.Stack.of(self)
        role = iam.Role(
            self,
            "SchedulerRole",
            assumed_by=iam.ServicePrincipal(
                "scheduler.amazonaws.com", conditions={"StringEquals": {"aws:SourceAccount": stack.account}}
            ),
            description=f"EventBridge Scheduler invokes {self._names.prefix}-retrain-on-schedule, nothing else",
        )
        # The unqualified function ARN only: `grant_invoke` would add `<arn>:*` (every version and alias).
        role.add_to_policy(
            iam.PolicyStatement(
                sid="InvokeScheduledTrigger",
                actions=["lambda:InvokeFunction"],
                resources=[self.on_schedule.function_arn],
            )
        )
        self._targets.key.grant_decrypt(role)
        acknowledge_grant_policy(role)
        return scheduler.CfnSchedule(
            self,
            "Schedule",
            name=self.schedule_name,
            description=f"Starts {self._targets.training_pipeline_name} on a fresh data snapshot, through "
            f"{self._names.prefix}-retrain-on-schedule",
            schedule_expression=expression,
            schedule_expression_timezone="UTC",
            flexible_time_window=scheduler.CfnSchedule.FlexibleTimeWindowProperty(mode="OFF"),
            kms_key_arn=self._targets.key.key_arn,
            target=scheduler.CfnSchedule.TargetProperty(
                arn=self.on_schedule.function_arn,
                role_arn=role.role_arn,
                input=json.dumps(SCHEDULED_RUN_INPUT),
                retry_policy=scheduler.CfnSchedule.RetryPolicyProperty(
                    maximum_event_age_in_seconds=3600, maximum_retry_attempts=SCHEDULE_RETRY_ATTEMPTS
                ),
            ),
        )

    def _rule(
        self, construct_id: str, *, function: lambda_.IFunction, description: str, pattern: events.EventPattern
    ) -> events.Rule:
        rule = events.Rule(self, construct_id, description=description, event_pattern=pattern)
        rule.add_target(
            targets.LambdaFunction(
                function,
                dead_letter_queue=self.dead_letters,
                retry_attempts=TARGET_RETRY_ATTEMPTS,
                max_event_age=cdk.Duration.hours(2),
            )
        )
        return rule

    def _acknowledge(self, function: lambda_.Function, role: iam.Role) -> None:
        acknowledge_grant_policy(role)
        acknowledge(
            role,
            "AwsSolutions-IAM5",
            "X-Ray's PutTraceSegments and PutTelemetryRecords have no resource type: Resource * is the only form "
            "(added by CDK for active tracing).",
            finding="Resource::*",
        )
        acknowledge(
            function,
            "AwsSolutions-L1",
            "Pinned to python3.12 on purpose: the pinned Powertools layer is the python312 build "
            "(AWSLambdaPowertoolsPythonV3-python312-x86_64); runtime and layer name move together.",
        )
        if self._network is None:
            acknowledge(
                function,
                "NIST.800.53.R5-LambdaInsideVPC",
                "The environment has no VPC (network.mode none); the function calls only the SageMaker, S3 and "
                "DynamoDB APIs over TLS with IAM and reads nothing from a network that a VPC would protect.",
            )
