"""Operations of one environment: promotion to an endpoint, monitoring, alarms, the retraining triggers and
(where configured) ingestion from PostgreSQL.

Stateless: it only reacts (to approvals, schedules, alarms and new data) and calls SageMaker. It finds the
stateful resources by their names (`naming.ResourceNames`) rather than by cross-stack reference; the lake key is
its one reference to the stateful stack.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from config import ConfigError, EnvironmentConfig
from naming import ResourceNames
from pipeline_code import schema
from pipeline_definition.contract import LATEST_REPORT_KEY, pipelines_of
from stacks.definitions import committed_definition
from stacks.units.data_lake import import_zones
from stacks.units.ingestion import PostgresIngestion
from stacks.units.model_promotion import ModelPromotion, PromotionSource, PromotionTargets
from stacks.units.monitoring_alarms import MonitoringAlarms
from stacks.units.native_monitoring import NativeMonitoring
from stacks.units.network import NetworkRefs
from stacks.units.operations_pipelines import OperationsPipelines
from stacks.units.retraining_triggers import RetrainingTriggers, TriggerTargets
from stacks.units.settings import log_retention, removal_policy


class OperationsStack(cdk.Stack):
    """The units that act on their own; each gets the environment's config, names, zones, key and alert topic."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        names: ResourceNames,
        environment: EnvironmentConfig,
        key: kms.IKey,
        network: NetworkRefs | None = None,
        source: EnvironmentConfig | None = None,
        consumers: Sequence[EnvironmentConfig] = (),
        ingestion_subnet_ids: Sequence[str] | None = None,
        ingestion_security_group_ids: Sequence[str] | None = None,
        **kwargs: Any,
    ) -> None:
        """`key`: the lake key (the stateful stack's), which encrypts the zones, the topic and the state.
        `network`: the subnets and security groups the jobs, models and functions run in (None: no VPC).
        `source` and `consumers`: see `MlopsStage`. `ingestion_subnet_ids` / `ingestion_security_group_ids`: where
        the ingestion job runs when a VPC of the app provides them (they win over `ingestion.network`)."""
        super().__init__(scope, construct_id, **kwargs)
        self.names = names
        self.key = key
        self.zones = import_zones(self, names, self.key, ("raw", "curated", "artifacts"))
        self.alerts = sns.Topic(
            self,
            "Alerts",
            topic_name=names.alerts_topic,
            display_name=f"{names.prefix} alarms",
            master_key=self.key,
            enforce_ssl=True,
        )
        # enforce_ssl replaces SNS's default topic policy, which let the account's services publish: CloudWatch
        # alarms of this account need their own grant, or no alarm notification would ever arrive.
        self.alerts.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudWatchAlarmsPublish",
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["sns:Publish"],
                resources=[self.alerts.topic_arn],
                conditions={
                    "StringEquals": {"aws:SourceAccount": self.account},
                    "ArnLike": {"aws:SourceArn": self.format_arn(service="cloudwatch", resource="alarm:*")},
                },
            )
        )
        if environment.alerts.email:
            self.alerts.add_subscription(subscriptions.EmailSubscription(environment.alerts.email))
        self.pipelines = OperationsPipelines(
            self,
            "OperationsPipelines",
            environment=environment,
            names=self.names,
            definitions={
                pipeline: committed_definition(names.project, environment, pipeline)
                for pipeline in pipelines_of(environment)
                if pipeline not in ("training", "ingestion")
            },
            training_definition=committed_definition(names.project, environment, "training"),
            zones=self.zones,
            key=self.key,
            network=network,
        )
        self.promotion = ModelPromotion(
            self,
            "ModelPromotion",
            names=self.names,
            inference=environment.inference,
            promotion=environment.promotion,
            thresholds=environment.thresholds,
            source=PromotionSource(_named(names.project, source)) if source else None,
            consumers=[_named(names.project, consumer) for consumer in consumers],
            where=PromotionTargets(
                artifacts_bucket=self.zones["artifacts"],
                key=self.key,
                alerts=self.alerts,
                current_model_parameter=self.names.current_model_parameter,
            ),
            log_retention=log_retention(environment),
            removal_policy=removal_policy(environment),
            model_monitor=environment.monitoring.backend == "model-monitor",
            network=network,
            reserved_concurrency=environment.functions.reserved_concurrency,
        )
        self.native_monitoring = (
            NativeMonitoring(
                self,
                "NativeMonitoring",
                names=self.names,
                monitoring=environment.monitoring,
                region=environment.region,
                artifacts_bucket=self.zones["artifacts"],
                key=self.key,
                network=network,
            )
            if environment.monitoring.backend == "model-monitor"
            else None
        )
        self.monitoring_alarms = MonitoringAlarms(
            self,
            "MonitoringAlarms",
            names=self.names,
            monitoring=environment.monitoring,
            thresholds=environment.thresholds,
            feature_names=schema.load(environment.dataset).feature_names,
            alerts=self.alerts,
            key=self.key,
            schedule_names=self.native_monitoring.schedule_names if self.native_monitoring else None,
            report_url=(
                f"https://{environment.region}.console.aws.amazon.com/s3/object/"
                f"{self.zones['artifacts'].bucket_name}?region={environment.region}&prefix={LATEST_REPORT_KEY}"
            ),
            alert_settings=environment.alerts,
            pipelines=pipelines_of(environment),
        )
        self.retraining = RetrainingTriggers(
            self,
            "RetrainingTriggers",
            names=self.names,
            retraining=environment.retraining,
            schedule=environment.schedules.retraining,
            targets_=TriggerTargets(
                training_pipeline_name=self.names.training_pipeline,
                raw_bucket_name=self.zones["raw"].bucket_name,
                artifacts_bucket_name=self.zones["artifacts"].bucket_name,
                monitoring_reports_uri=f"s3://{self.zones['artifacts'].bucket_name}/{self.names.monitoring_reports_prefix}/",
                key=self.key,
                alerts=self.alerts,
            ),
            log_retention=log_retention(environment),
            removal_policy=removal_policy(environment),
            reserved_concurrency=environment.functions.reserved_concurrency,
            network=network,
        )
        self.monitoring_alarms.show_operational([*self.promotion.rollback_alarms, self.retraining.dead_letters_alarm])
        # Rows from PostgreSQL into the raw zone, where the new-data trigger above counts them.
        self.ingestion = (
            PostgresIngestion(
                self,
                "Ingestion",
                names=self.names,
                settings=environment.ingestion,
                definition=committed_definition(names.project, environment, "ingestion"),
                zones=self.zones,
                key=self.key,
                removal_policy=removal_policy(environment),
                log_retention=log_retention(environment),
                vpc_subnet_ids=ingestion_subnet_ids,
                vpc_security_group_ids=ingestion_security_group_ids,
            )
            if environment.ingestion
            else None
        )


def _named(project: str, environment: EnvironmentConfig) -> ResourceNames:
    """Another environment's names, with its real account and region (the config requires both for a source)."""
    if environment.account is None:
        raise ConfigError(f"environment '{environment.name}': promotion across environments needs its account")
    return ResourceNames(
        project, environment.name, environment.account, environment.region, dataset=environment.dataset
    )
