"""Alarms on drift and model quality, and one CloudWatch dashboard per environment, for both monitoring backends.

Alarms named `<prefix>-drift-*` (`ResourceNames.alarm_prefix`) start a retraining run when they go to ALARM;
every alarm notifies the alert topic. Missing data (no monitoring run in the period) is never a breach.

Custom backend: the statistical triggers (prediction, model quality, bias, attributions) alarm on the drift
check's verdicts (`Violations` per `Check`), not on the raw statistics: a verdict needs the effect past its
`thresholds.drift_*` *and* significance at the window's size, so a small window's noise starts no retrain. The
raw statistics are on the dashboard beside their thresholds, with a link to the newest report.html.
"""

from __future__ import annotations

from collections.abc import Sequence

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from constructs import Construct

from config import AlertSettings, MonitoringSettings, Thresholds
from naming import ResourceNames
from stacks.units.compliance import acknowledge

PERIOD = cdk.Duration.hours(1)
VARIANT = "AllTraffic"
# Model Monitor's own namespaces (real-time endpoints), dimensions Endpoint and MonitoringSchedule.
MODEL_MONITOR_NAMESPACES = {
    "data-quality": "aws/sagemaker/Endpoints/data-metrics",
    "model-quality": "aws/sagemaker/Endpoints/model-metrics",
    "model-bias": "aws/sagemaker/Endpoints/bias-metrics",
    "model-explainability": "aws/sagemaker/Endpoints/explainability-metrics",
}


def model_monitor_drift_metric(index: int) -> str:
    """Model Monitor's baseline-drift metric of the `index`-th feature of the captured requests.

    Captured CSV requests have no header (and no label), so Model Monitor names their columns `_c0`, `_c1`, ...
    in feature order; the dashboard labels them with the feature names.
    """
    return f"feature_baseline_drift__c{index}"


class MonitoringAlarms(Construct):
    """`<prefix>-drift-*` alarms on the backend's metrics, a dashboard `<prefix>`, and CloudWatch's use of the key.

    custom backend: the metrics `pipeline_code.drift.cloudwatch_metrics` publishes (`names.metric_namespace`,
    dimension `names.metric_dimension` = prefix). model-monitor backend: Model Monitor's own metrics of the
    schedules `schedule_names` (data-quality, model-quality, ...). The alert topic is encrypted with `key`.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        names: ResourceNames,
        monitoring: MonitoringSettings,
        thresholds: Thresholds,
        feature_names: Sequence[str],
        alerts: sns.ITopic,
        key: kms.IKey,
        schedule_names: dict[str, str] | None = None,
        report_url: str | None = None,
        alert_settings: AlertSettings | None = None,
        pipelines: Sequence[str] = (),
    ) -> None:
        """`alert_settings` and `pipelines` (the kinds deployed: training, monitoring, batch-inference): the
        operational alarms on the endpoint's traffic and errors and on the pipelines' runs."""
        super().__init__(scope, construct_id)
        self._names = names
        self._report = f" Newest report: {report_url}" if report_url else ""
        self._report_url = report_url
        self._features = list(feature_names)
        self._schedules = schedule_names or {}
        # CloudWatch publishes alarm notifications to the encrypted topic with the key.
        key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudWatchAlarmsToAlertTopic",
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["kms:Decrypt", "kms:GenerateDataKey"],
                resources=["*"],  # in a key policy, "*" means this key
                conditions={"StringEquals": {"aws:SourceAccount": cdk.Aws.ACCOUNT_ID}},
            )
        )
        self.alarms: list[cloudwatch.AlarmBase] = []
        self._quiet: list[cloudwatch.AlarmBase] = []  # children of a composite alarm, which notifies for them
        if monitoring.backend == "custom":
            self._custom_alarms(thresholds)
        else:
            self._model_monitor_alarms(thresholds)
        self.operational: list[cloudwatch.AlarmBase] = []
        if alert_settings:
            self._operational_alarms(alert_settings, monitoring, pipelines)
        notify = actions.SnsAction(alerts)
        for alarm in self.alarms:
            if alarm not in self._quiet:
                alarm.add_alarm_action(notify)
        self.dashboard = cloudwatch.Dashboard(
            self, "Dashboard", dashboard_name=names.prefix, default_interval=cdk.Duration.days(7)
        )
        if monitoring.backend == "custom" and report_url:
            self.dashboard.add_widgets(
                cloudwatch.TextWidget(
                    markdown=f"**Newest drift report** (plots, statistics and verdicts, drifted items first): "
                    f"[report.html]({report_url}). Each run's own report: `report.html` beside its "
                    "`drift_report.json` under the monitoring reports prefix; the violations event names it.",
                    width=24,
                    height=2,
                )
            )
        self.dashboard.add_widgets(*self._endpoint_widgets())
        if monitoring.backend == "custom":
            self.dashboard.add_widgets(*self._custom_widgets(thresholds))
        else:
            self.dashboard.add_widgets(*self._model_monitor_widgets(thresholds))
        self.dashboard.add_widgets(*self._pipeline_widgets())
        drift = [a for a in self.alarms if a not in self.operational]
        self.dashboard.add_widgets(cloudwatch.AlarmStatusWidget(title="Alarms", alarms=drift, width=24, height=4))

    def show_operational(self, alarms: Sequence[cloudwatch.AlarmBase]) -> None:
        """The operational alarms on the dashboard: this unit's and the other units' (the endpoint's rollback
        alarms, the dead-letter queues), added once the stack has built them all."""
        self.dashboard.add_widgets(
            cloudwatch.AlarmStatusWidget(
                title="Operations: endpoint, pipelines, dead letters",
                alarms=[*self.operational, *alarms],
                width=24,
                height=4,
            )
        )

    def _operational_alarms(
        self, settings: AlertSettings, monitoring: MonitoringSettings, pipelines: Sequence[str]
    ) -> None:
        """Endpoint 4xx rate and (where traffic is expected) silence; each pipeline's failed runs; the monitoring
        pipeline not having succeeded within its window, no data included: a dead monitor must page someone."""
        names = self._names
        start = len(self.alarms)
        invocations = self._endpoint("Invocations", "Sum")
        self._alarm(
            "endpoint-4xx",
            cloudwatch.MathExpression(
                expression="100 * errors / invocations",
                using_metrics={"errors": self._endpoint("Invocation4XXErrors", "Sum"), "invocations": invocations},
                label="4xx errors (% of invocations)",
                period=cdk.Duration.minutes(5),
            ),
            settings.max_4xx_percent,
            cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            f"More than {settings.max_4xx_percent} % of {names.endpoint}'s requests refused as client errors "
            "(docs/operations.md)",
            drift=False,
            evaluation_periods=3,
        )
        if settings.min_invocations_per_hour:
            self._alarm(
                "endpoint-no-traffic",
                self._endpoint("Invocations", "Sum").with_(period=cdk.Duration.hours(1)),
                settings.min_invocations_per_hour,
                cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
                f"{names.endpoint} served fewer than {settings.min_invocations_per_hour} invocations in an hour "
                "(no data counts): callers cannot reach it, or it is gone (docs/operations.md)",
                drift=False,
                missing=cloudwatch.TreatMissingData.BREACHING,
            )
        for kind in pipelines:
            pipeline = names.pipeline(kind)
            self._alarm(
                f"pipeline-failed-{kind}",
                self._pipeline("ExecutionFailed", pipeline).with_(period=cdk.Duration.minutes(5)),
                1,
                cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                f"A run of {pipeline} failed: its execution's failed step says why (docs/operations.md)",
                drift=False,
            )
        if "monitoring" in pipelines:
            hours = min(monitoring.window_hours, 24)  # CloudWatch evaluates at most one day per period
            self._alarm(
                "monitoring-not-run",
                self._pipeline("ExecutionSucceeded", names.monitoring_pipeline).with_(period=cdk.Duration.hours(hours)),
                1,
                cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
                f"{names.monitoring_pipeline} has not succeeded for {hours} hours (no data counts): nothing checks "
                "the live model for drift (docs/operations.md)",
                drift=False,
                missing=cloudwatch.TreatMissingData.BREACHING,
            )
        self.operational = self.alarms[start:]

    # ------------------------------------------------------------------------------------------------ metrics

    def _custom(self, name: str, statistic: str, **extra: str) -> cloudwatch.Metric:
        return cloudwatch.Metric(
            namespace=self._names.metric_namespace,
            metric_name=name,
            dimensions_map={self._names.metric_dimension: self._names.prefix, **extra},
            statistic=statistic,
            period=PERIOD,
        )

    def _native(self, kind: str, name: str, statistic: str) -> cloudwatch.Metric:
        return cloudwatch.Metric(
            namespace=MODEL_MONITOR_NAMESPACES[kind],
            metric_name=name,
            dimensions_map={"Endpoint": self._names.endpoint, "MonitoringSchedule": self._schedules[kind]},
            statistic=statistic,
            period=PERIOD,
        )

    def _endpoint(self, name: str, statistic: str) -> cloudwatch.Metric:
        return cloudwatch.Metric(
            namespace="AWS/SageMaker",
            metric_name=name,
            dimensions_map={"EndpointName": self._names.endpoint, "VariantName": VARIANT},
            statistic=statistic,
            period=cdk.Duration.minutes(5),
        )

    def _pipeline(self, name: str, pipeline: str) -> cloudwatch.Metric:
        return cloudwatch.Metric(
            namespace="AWS/Sagemaker/ModelBuildingPipeline",
            metric_name=name,
            dimensions_map={"PipelineName": pipeline},
            statistic="Sum",
            period=cdk.Duration.days(1),
            label=f"{pipeline} {name.removeprefix('Execution').lower()}",
        )

    # ------------------------------------------------------------------------------------------------- alarms

    def _alarm(
        self,
        suffix: str,
        metric: cloudwatch.IMetric,
        threshold: float,
        comparison: cloudwatch.ComparisonOperator,
        description: str,
        *,
        drift: bool = True,
        evaluation_periods: int = 1,
        missing: cloudwatch.TreatMissingData = cloudwatch.TreatMissingData.NOT_BREACHING,
    ) -> cloudwatch.Alarm:
        name = f"{self._names.alarm_prefix}{suffix}" if drift else f"{self._names.prefix}-{suffix}"
        alarm = cloudwatch.Alarm(
            self,
            f"Alarm{''.join(part.capitalize() for part in suffix.split('-'))}",
            alarm_name=name,
            alarm_description=description,
            metric=metric,
            threshold=threshold,
            comparison_operator=comparison,
            evaluation_periods=evaluation_periods,
            treat_missing_data=missing,
        )
        self.alarms.append(alarm)
        return alarm

    def _verdicts(self, check: str) -> cloudwatch.Metric:
        """How many items one check of the drift check flagged (0 when it ran and found nothing)."""
        return self._custom("Violations", "Maximum", Check=check)

    def _custom_alarms(self, thresholds: Thresholds) -> None:
        at_least = cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD
        rule = (
            f"flagged only when the effect is past its threshold and significant at the window's size "
            f"(Holm-adjusted p below thresholds.drift_false_alarm_rate, {thresholds.drift_false_alarm_rate})."
        )
        self._alarm(
            "violations",
            self._custom("DriftViolations", "Maximum"),
            1,
            at_least,
            "The drift check reported at least one violation (drifted features, label, prediction, quality, bias "
            f"or attributions).{self._report}",
        )
        self._alarm(
            "prediction",
            self._verdicts("prediction_drift"),
            1,
            at_least,
            f"The distribution of the model's scores drifted: PSI at or above thresholds.drift_psi "
            f"({thresholds.drift_psi}), {rule}{self._report}",
        )
        self._alarm(
            "quality",
            self._verdicts("model_quality_drift"),
            1,
            at_least,
            f"Model quality drifted: AUC on the labelled window fell by at least thresholds.drift_auc_drop "
            f"({thresholds.drift_auc_drop}) against the reference data, {rule}{self._report}",
        )
        self._alarm(
            "bias",
            self._verdicts("bias_drift"),
            1,
            at_least,
            f"Bias drifted: a facet group's DPPL changed by at least thresholds.drift_bias_change "
            f"({thresholds.drift_bias_change}), {rule}{self._report}",
        )
        self._alarm(
            "attribution",
            self._verdicts("attribution_drift"),
            1,
            at_least,
            f"Feature attributions drifted: NDCG of the mean |SHAP| ranking at or below "
            f"thresholds.drift_attribution_ndcg ({thresholds.drift_attribution_ndcg}), {rule}{self._report}",
        )
        self._alarm(
            "model-auc",
            self._custom("ModelAUC", "Minimum"),
            thresholds.min_auc,
            cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
            f"AUC on labelled captured data fell below thresholds.min_auc ({thresholds.min_auc}).{self._report}",
        )

    def _model_monitor_alarms(self, thresholds: Thresholds) -> None:
        # One child alarm per feature (not `-drift-`: they would each start a retrain), one composite that does.
        children = [
            self._alarm(
                f"feature-drift-{feature}",
                self._native("data-quality", model_monitor_drift_metric(index), "Maximum"),
                thresholds.drift_jensen_shannon,
                cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                f"Model Monitor's baseline drift distance of {feature} is above thresholds.drift_jensen_shannon.",
                drift=False,
            )
            for index, feature in enumerate(self._features)
        ]
        self._quiet += children
        for child in children:
            acknowledge(
                child,
                "NIST.800.53.R5-CloudWatchAlarmAction",
                f"A child of the composite alarm {self._names.alarm_prefix}data-quality, which notifies the alert "
                "topic (and starts one retrain) when any feature drifts; 14 separate notifications would be noise.",
            )
        composite = cloudwatch.CompositeAlarm(
            self,
            "AlarmDataQuality",
            composite_alarm_name=f"{self._names.alarm_prefix}data-quality",
            alarm_description="At least one feature drifted from its baseline (Model Monitor data quality).",
            alarm_rule=cloudwatch.AlarmRule.any_of(*children),
        )
        self.alarms.append(composite)
        self._alarm(
            "model-auc",
            self._native("model-quality", "auc", "Minimum"),
            thresholds.min_auc,
            cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
            f"Model Monitor's AUC on labelled captured data fell below thresholds.min_auc ({thresholds.min_auc}).",
        )

    # ---------------------------------------------------------------------------------------------- dashboard

    def _endpoint_widgets(self) -> list[cloudwatch.IWidget]:
        return [
            cloudwatch.GraphWidget(
                title=f"{self._names.endpoint}: invocations", left=[self._endpoint("Invocations", "Sum")], width=8
            ),
            cloudwatch.GraphWidget(
                title="Model latency (microseconds)",
                left=[self._endpoint("ModelLatency", "Average"), self._endpoint("ModelLatency", "p99")],
                width=8,
            ),
            cloudwatch.GraphWidget(
                title="Errors",
                left=[self._endpoint("Invocation4XXErrors", "Sum"), self._endpoint("Invocation5XXErrors", "Sum")],
                width=8,
            ),
        ]

    def _search(self, metric: str, dimension: str) -> cloudwatch.MathExpression:
        """Every `metric` of this environment, one line per value of `dimension`."""
        names = self._names
        return cloudwatch.MathExpression(
            expression=(
                f"SEARCH('{{{names.metric_namespace},{names.metric_dimension},{dimension}}} "
                f'MetricName="{metric}" {names.metric_dimension}="{names.prefix}"\', '
                f"'Maximum', {int(PERIOD.to_seconds())})"
            ),
            label="",
            period=PERIOD,
        )

    def _custom_widgets(self, thresholds: Thresholds) -> list[cloudwatch.IWidget]:
        drift = [self._custom("FeatureDrift", "Maximum", Feature=f).with_(label=f) for f in self._features]
        return [
            cloudwatch.GraphWidget(
                title="Drift per feature (the statistic nearest its threshold: Wasserstein, PSI or Jensen-Shannon)",
                left=drift,
                left_annotations=[
                    cloudwatch.HorizontalAnnotation(value=thresholds.drift_wasserstein, label="Wasserstein limit"),
                    cloudwatch.HorizontalAnnotation(value=thresholds.drift_psi, label="PSI limit"),
                    cloudwatch.HorizontalAnnotation(value=thresholds.drift_jensen_shannon, label="JS limit"),
                ],
                width=12,
                height=8,
            ),
            cloudwatch.GraphWidget(
                title="Drift violations", left=[self._custom("DriftViolations", "Maximum")], width=6, height=8
            ),
            cloudwatch.GraphWidget(
                title="Violations per check (verdicts: effect past threshold and significant)",
                left=[self._search("Violations", "Check")],
                width=6,
                height=8,
            ),
            cloudwatch.GraphWidget(
                title="Prediction drift (PSI)",
                left=[self._custom("PredictionDriftPSI", "Maximum")],
                left_annotations=[cloudwatch.HorizontalAnnotation(value=thresholds.drift_psi, label="limit")],
                width=6,
            ),
            cloudwatch.GraphWidget(
                title="Model quality: AUC on labelled captured data, and its drop against the reference",
                left=[self._custom("ModelAUC", "Minimum")],
                left_annotations=[cloudwatch.HorizontalAnnotation(value=thresholds.min_auc, label="minimum")],
                right=[self._custom("ModelAUCDrop", "Maximum")],
                right_annotations=[
                    cloudwatch.HorizontalAnnotation(value=thresholds.drift_auc_drop, label="drop limit")
                ],
                width=6,
            ),
            cloudwatch.GraphWidget(
                title="Explainability: NDCG of the feature-attribution ranking",
                left=[self._custom("AttributionNDCG", "Minimum")],
                left_annotations=[
                    cloudwatch.HorizontalAnnotation(value=thresholds.drift_attribution_ndcg, label="limit")
                ],
                width=6,
            ),
            cloudwatch.GraphWidget(
                title="Label positive rate", left=[self._custom("LabelPositiveRate", "Average")], width=6
            ),
            cloudwatch.GraphWidget(
                title="Bias drift (change of DPPL per group)",
                left=[self._search("BiasDPPLChange", "Group")],
                left_annotations=[
                    cloudwatch.HorizontalAnnotation(value=thresholds.drift_bias_change, label="limit"),
                    cloudwatch.HorizontalAnnotation(value=-thresholds.drift_bias_change, label="limit"),
                ],
                width=12,
            ),
            cloudwatch.GraphWidget(
                title="Rows per monitoring window", left=[self._custom("MonitoredRows", "Maximum")], width=12
            ),
        ]

    def _model_monitor_widgets(self, thresholds: Thresholds) -> list[cloudwatch.IWidget]:
        drift = [
            self._native("data-quality", model_monitor_drift_metric(i), "Maximum").with_(label=f)
            for i, f in enumerate(self._features)
        ]
        return [
            cloudwatch.GraphWidget(
                title="Model Monitor: baseline drift per feature",
                left=drift,
                left_annotations=[
                    cloudwatch.HorizontalAnnotation(value=thresholds.drift_jensen_shannon, label="limit")
                ],
                width=12,
                height=8,
            ),
            cloudwatch.GraphWidget(
                title="Model Monitor: AUC",
                left=[self._native("model-quality", "auc", "Minimum")],
                left_annotations=[cloudwatch.HorizontalAnnotation(value=thresholds.min_auc, label="minimum")],
                width=6,
                height=8,
            ),
            cloudwatch.GraphWidget(
                title="Model Monitor: F1",
                left=[self._native("model-quality", "f1", "Minimum")],
                width=6,
                height=8,
            ),
        ]

    def _pipeline_widgets(self) -> list[cloudwatch.IWidget]:
        names = self._names
        pipelines = (names.training_pipeline, names.monitoring_pipeline, names.batch_pipeline)
        return [
            cloudwatch.GraphWidget(
                title="Pipeline runs",
                left=[self._pipeline(m, p) for p in pipelines for m in ("ExecutionStarted", "ExecutionSucceeded")],
                width=12,
            ),
            cloudwatch.GraphWidget(
                title="Pipeline failures", left=[self._pipeline("ExecutionFailed", p) for p in pipelines], width=12
            ),
        ]
