"""Drift and quality alarms, the dashboard, and the model-monitor backend (one extra synthesis of prod)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from cfnlint.api import ManualArgs, lint_by_config

from config import PlatformConfig
from pipeline_code.schema import FEATURE_NAMES
from stacks.units.native_monitoring import model_monitor_schedule
from tests.stacks.rendering import render, resources
from tests.synthesis import Synthesis

ROOT = Path(__file__).resolve().parents[2]
STAGES = ("dev", "staging", "prod")


@pytest.fixture(scope="module")
def operations(synthesis: Synthesis) -> dict[str, dict[str, Any]]:
    return {stage: synthesis.stack(stage, "Operations").template for stage in STAGES}


@pytest.fixture(scope="module")
def model_monitor(model_monitor_synthesis: Synthesis) -> Synthesis:
    return model_monitor_synthesis


def _alarms(template: dict[str, Any], unit: str = "") -> dict[str, dict[str, Any]]:
    found = resources(template, "AWS::CloudWatch::Alarm") | resources(template, "AWS::CloudWatch::CompositeAlarm")
    return {r["Properties"]["AlarmName"]: r["Properties"] for k, r in found.items() if k.startswith(unit)}


def _dimensions(alarm: dict[str, Any]) -> dict[str, str]:
    return {d["Name"]: d["Value"] for d in alarm["Dimensions"]}


def _stat(alarm: dict[str, Any]) -> dict[str, Any]:
    """The alarm's one metric as a MetricStat (a labelled metric is written as a metric data query)."""
    if "MetricName" in alarm:
        return {"Metric": alarm, "Period": alarm["Period"]}
    (query,) = alarm["Metrics"]
    return dict(query["MetricStat"])


def _alerts_topic(template: dict[str, Any]) -> dict[str, str]:
    (topic,) = [k for k, r in resources(template, "AWS::SNS::Topic").items() if k.startswith("Alerts")]
    return {"Ref": topic}


def test_the_custom_backend_alarms_on_the_drift_checks_metrics(operations, platform_config: PlatformConfig) -> None:
    for stage, template in operations.items():
        thresholds = platform_config.environment(stage).thresholds
        alarms = _alarms(template)
        drift = {name: a for name, a in alarms.items() if name.startswith(f"mlops-{stage}-drift-")}
        at_least = "GreaterThanOrEqualToThreshold"
        # the statistical triggers alarm on the check's verdicts (effect past threshold and significant), so
        # a small window's noise starts no retrain; each description names the config threshold it stands for
        verdicts = {
            "prediction": ("prediction_drift", "thresholds.drift_psi", thresholds.drift_psi),
            "quality": ("model_quality_drift", "thresholds.drift_auc_drop", thresholds.drift_auc_drop),
            "bias": ("bias_drift", "thresholds.drift_bias_change", thresholds.drift_bias_change),
            "attribution": (
                "attribution_drift", "thresholds.drift_attribution_ndcg", thresholds.drift_attribution_ndcg,
            ),
        }  # fmt: skip
        expected = {
            f"mlops-{stage}-drift-violations": ("DriftViolations", "Maximum", at_least, 1, {}),
            f"mlops-{stage}-drift-model-auc": ("ModelAUC", "Minimum", "LessThanThreshold", thresholds.min_auc, {}),
        } | {
            f"mlops-{stage}-drift-{kind}": ("Violations", "Maximum", at_least, 1, {"Check": check})
            for kind, (check, _, _) in verdicts.items()
        }
        assert set(drift) == set(expected)
        for name, (metric, statistic, comparison, threshold, extra) in expected.items():
            alarm = drift[name]
            assert (alarm["MetricName"], alarm["Statistic"]) == (metric, statistic)
            assert (alarm["ComparisonOperator"], alarm["Threshold"]) == (comparison, threshold)
            assert alarm["Namespace"] == "MLOps/Monitoring"
            assert _dimensions(alarm) == {"Environment": f"mlops-{stage}", **extra}
            assert alarm["TreatMissingData"] == "notBreaching"  # no monitoring run is not a drift
            assert alarm["AlarmActions"] == [_alerts_topic(template)]
            # the alert e-mail carries the description: it links the newest report.html
            assert "monitoring/reports/latest/report.html" in render(alarm["AlarmDescription"])
        for kind, (_, setting, value) in verdicts.items():
            assert f"{setting} ({value})" in render(drift[f"mlops-{stage}-drift-{kind}"]["AlarmDescription"])
        # the custom backend deploys none of Model Monitor's resources
        assert not [r for r in template["Resources"].values() if "JobDefinition" in r["Type"]]
        assert not resources(template, "AWS::SageMaker::MonitoringSchedule")


def test_cloudwatch_may_use_the_lake_key_to_publish_to_the_encrypted_alert_topic(synthesis: Synthesis) -> None:
    for stage in STAGES:
        (key,) = resources(synthesis.stack(stage, "DataLake").template, "AWS::KMS::Key").values()
        statements = {s.get("Sid"): s for s in key["Properties"]["KeyPolicy"]["Statement"]}
        grant = statements["CloudWatchAlarmsToAlertTopic"]
        assert grant["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
        assert sorted(grant["Action"]) == ["kms:Decrypt", "kms:GenerateDataKey"]
        assert grant["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}
        topics = resources(synthesis.stack(stage, "Operations").template, "AWS::SNS::Topic")
        assert all("KmsMasterKeyId" in t["Properties"] for t in topics.values())


def _dashboard(template: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
    (dashboard,) = resources(template, "AWS::CloudWatch::Dashboard").values()
    body = json.loads(render(dashboard["Properties"]["DashboardBody"]))
    return dashboard["Properties"]["DashboardName"], body["widgets"]


def _metrics(widgets: list[dict[str, Any]]) -> list[list[Any]]:
    return [m for w in widgets for m in w.get("properties", {}).get("metrics", [])]


def test_one_dashboard_per_environment_shows_endpoint_drift_quality_and_pipelines(operations) -> None:
    for stage, template in operations.items():
        name, widgets = _dashboard(template)
        assert name == f"mlops-{stage}"
        metrics = _metrics(widgets)
        endpoint = [m for m in metrics if m[0] == "AWS/SageMaker"]
        assert {m[1] for m in endpoint} == {"Invocations", "ModelLatency", "Invocation4XXErrors", "Invocation5XXErrors"}
        assert all(m[2:6] == ["EndpointName", f"mlops-{stage}-endpoint", "VariantName", "AllTraffic"] for m in endpoint)
        # the metric arrays repeat namespace/name only when they change: "." means "as above"
        drift = [m for m in metrics if "Feature" in m]
        assert [m[m.index("Feature") + 1] for m in drift] == list(FEATURE_NAMES)
        custom = {m[1] for m in metrics if m[0] == "MLOps/Monitoring"}
        shown = {
            "FeatureDrift",
            "DriftViolations",
            "PredictionDriftPSI",
            "ModelAUC",
            "ModelAUCDrop",
            "LabelPositiveRate",
        }
        assert shown | {"AttributionNDCG", "MonitoredRows"} <= custom
        assert any('MetricName=\\"BiasDPPLChange\\"' in json.dumps(w) for w in widgets)
        assert any('MetricName=\\"Violations\\"' in json.dumps(w) for w in widgets)
        (link,) = [w for w in widgets if w["type"] == "text"]
        assert "monitoring/reports/latest/report.html" in link["properties"]["markdown"]
        pipelines = [m for m in metrics if m[0] == "AWS/Sagemaker/ModelBuildingPipeline"]
        runs = {(m[1], m[3]) for m in pipelines}
        for pipeline in (f"mlops-{stage}-training", f"mlops-{stage}-monitoring", f"mlops-{stage}-batch-inference"):
            assert {("ExecutionStarted", pipeline), ("ExecutionFailed", pipeline)} <= runs
        status, operations = [w for w in widgets if w["type"] == "alarm"]
        shown = len(status["properties"]["alarms"]) + len(operations["properties"]["alarms"])
        # this unit's alarms, and the other units' operational ones: rollback alarms, dead letters
        others = _alarms(template, "ModelPromotion") | _alarms(template, "RetrainingTriggers")
        assert shown == len(_alarms(template, "MonitoringAlarms")) + len(others)
        assert operations["properties"]["title"].startswith("Operations")


def test_operational_alarms_page_for_endpoint_errors_silence_failed_runs_and_a_dead_monitor(
    operations, platform_config: PlatformConfig
) -> None:
    for stage, template in operations.items():
        alarms = _alarms(template)
        environment = platform_config.environment(stage)
        pipelines = [
            "training",
            "batch-inference",
            *(["monitoring"] if environment.monitoring.backend == "custom" else []),
        ]
        expected = {f"mlops-{stage}-endpoint-{k}" for k in ("4xx", "5xx", "latency-p99")}
        expected |= {f"mlops-{stage}-pipeline-failed-{p}" for p in pipelines}
        expected |= {f"mlops-{stage}-monitoring-not-run", f"mlops-{stage}-retraining-dead-letters"}
        if environment.alerts.min_invocations_per_hour:
            expected.add(f"mlops-{stage}-endpoint-no-traffic")
        assert expected <= set(alarms), expected - set(alarms)
        assert (f"mlops-{stage}-endpoint-no-traffic" in alarms) is (stage == "prod")  # where traffic is expected
        for name in expected:
            assert alarms[name]["AlarmActions"] == [_alerts_topic(template)], name
        # a dead monitor, or an endpoint nobody reaches, has no data: that must page, not stay quiet
        for name in (f"mlops-{stage}-monitoring-not-run", f"mlops-{stage}-endpoint-no-traffic"):
            if name in alarms:
                assert alarms[name]["TreatMissingData"] == "breaching", name
        not_run = alarms[f"mlops-{stage}-monitoring-not-run"]
        stat = _stat(not_run)
        assert stat["Metric"]["MetricName"] == "ExecutionSucceeded"
        assert stat["Period"] == min(environment.monitoring.window_hours, 24) * 3600
        assert not_run["ComparisonOperator"] == "LessThanThreshold"
        failed = _stat(alarms[f"mlops-{stage}-pipeline-failed-training"])["Metric"]
        assert (failed["Namespace"], failed["MetricName"]) == ("AWS/Sagemaker/ModelBuildingPipeline", "ExecutionFailed")
        assert _dimensions(failed) == {"PipelineName": f"mlops-{stage}-training"}
        assert alarms[f"mlops-{stage}-endpoint-4xx"]["Threshold"] == environment.alerts.max_4xx_percent
        rollback = alarms[f"mlops-{stage}-endpoint-latency-p99"]
        assert rollback["Threshold"] == environment.promotion.rollback_alarms.max_latency_p99_ms * 1000


def test_the_model_monitor_backend_deploys_the_four_native_schedules(
    model_monitor: Synthesis, platform_config: PlatformConfig
) -> None:
    template = model_monitor.stack("prod", "Operations").template
    monitoring = platform_config.environment("prod").monitoring
    schedules = {
        r["Properties"]["MonitoringScheduleName"]: r["Properties"]
        for r in resources(template, "AWS::SageMaker::MonitoringSchedule").values()
    }
    kinds = {
        "data-quality": ("DataQuality", "AWS::SageMaker::DataQualityJobDefinition"),
        "model-quality": ("ModelQuality", "AWS::SageMaker::ModelQualityJobDefinition"),
        "model-bias": ("ModelBias", "AWS::SageMaker::ModelBiasJobDefinition"),
        "model-explainability": ("ModelExplainability", "AWS::SageMaker::ModelExplainabilityJobDefinition"),
    }
    baselines = {
        "data-quality": ["data-quality/constraints.json", "data-quality/statistics.json"],
        "model-quality": [],
        "model-bias": ["model-bias/analysis_config.json"],
        "model-explainability": ["model-explainability/analysis_config.json"],
    }
    assert set(schedules) == {f"mlops-prod-{kind}" for kind in kinds}
    for kind, (monitoring_type, definition_type) in kinds.items():
        schedule = schedules[f"mlops-prod-{kind}"]
        assert schedule["EndpointName"] == "mlops-prod-endpoint"
        config = schedule["MonitoringScheduleConfig"]
        assert config["MonitoringType"] == monitoring_type
        assert config["ScheduleConfig"]["ScheduleExpression"] == model_monitor_schedule(monitoring.schedule)
        (definition_id,) = resources(template, definition_type)
        assert definition_id in json.dumps(config["MonitoringJobDefinitionName"])
        props = resources(template, definition_type)[definition_id]["Properties"]
        cluster = props["JobResources"]["ClusterConfig"]
        assert (cluster["InstanceType"], cluster["InstanceCount"]) == (
            monitoring.instance_type,
            monitoring.instance_count,
        )
        assert "VolumeKmsKeyId" in cluster
        network = dict(props["NetworkConfig"])
        vpc = network.pop("VpcConfig")  # prod runs in its VPC: the subnets and the jobs' group of the stateful stack
        assert network == {"EnableInterContainerTrafficEncryption": True, "EnableNetworkIsolation": True}
        assert "NetworkJobsSecurityGroup" in json.dumps(vpc["SecurityGroupIds"])
        assert len(vpc["Subnets"]) == 2
        text = json.dumps(props)
        # The files the promotion writes for the live model (model quality has none: its alarms use config)
        read = sorted(set(re.findall(r"monitoring/current/model-monitor/([\w./-]+)", text)))
        assert read == baselines[kind], kind
        assert "monitoring/reports/" + kind in text
    data_quality = next(iter(resources(template, "AWS::SageMaker::DataQualityJobDefinition").values()))["Properties"]
    app = data_quality["DataQualityAppSpecification"]
    assert app["ImageUri"] == "468650794304.dkr.ecr.eu-west-1.amazonaws.com/sagemaker-model-monitor-analyzer"
    assert app["Environment"] == {"publish_cloudwatch_metrics": "Enabled"}
    quality = next(iter(resources(template, "AWS::SageMaker::ModelQualityJobDefinition").values()))["Properties"]
    assert quality["ModelQualityAppSpecification"]["ProblemType"] == "BinaryClassification"
    window = quality["ModelQualityJobInput"]["EndpointInput"]
    assert window["StartTimeOffset"] == f"-PT{monitoring.window_hours}H"
    assert "ground-truth" in json.dumps(quality["ModelQualityJobInput"]["GroundTruthS3Input"])


def test_the_model_monitor_backend_alarms_on_model_monitors_own_metrics(model_monitor: Synthesis) -> None:
    template = model_monitor.stack("prod", "Operations").template
    alarms = _alarms(template)
    drift = {name for name in alarms if name.startswith("mlops-prod-drift-")}
    assert drift == {"mlops-prod-drift-data-quality", "mlops-prod-drift-model-auc"}
    composite = alarms["mlops-prod-drift-data-quality"]
    assert composite["AlarmActions"] == [_alerts_topic(template)]
    rule = render(composite["AlarmRule"])
    children = {name: a for name, a in alarms.items() if name.startswith("mlops-prod-feature-drift-")}
    assert len(children) == len(FEATURE_NAMES) == rule.count("ALARM(")
    for index, feature in enumerate(FEATURE_NAMES):
        child = children[f"mlops-prod-feature-drift-{feature}"]
        assert child["Namespace"] == "aws/sagemaker/Endpoints/data-metrics"
        assert child["MetricName"] == f"feature_baseline_drift__c{index}"
        assert _dimensions(child) == {
            "Endpoint": "mlops-prod-endpoint",
            "MonitoringSchedule": "mlops-prod-data-quality",
        }
        assert "AlarmActions" not in child  # the composite notifies once, and only it starts a retrain
    auc = alarms["mlops-prod-drift-model-auc"]
    assert (auc["Namespace"], auc["MetricName"]) == ("aws/sagemaker/Endpoints/model-metrics", "auc")
    assert _dimensions(auc)["MonitoringSchedule"] == "mlops-prod-model-quality"
    assert not [a for a in alarms.values() if a.get("Namespace") == "MLOps/Monitoring"]
    _, widgets = _dashboard(template)
    assert any(m[0] == "aws/sagemaker/Endpoints/data-metrics" for m in _metrics(widgets))


def test_the_model_monitor_variant_passes_cdk_nag_and_cfn_lint(model_monitor: Synthesis) -> None:
    reports = {r["pluginName"]: r for r in model_monitor.validation_report["pluginReports"]}
    for name, report in reports.items():
        assert report["violations"] == [], name
    template = next(model_monitor.outdir.glob("assembly-prod/*Operations*.template.json"))
    ignore = yaml.safe_load((ROOT / ".cfnlintrc.yaml").read_text())["ignore_checks"]
    matches = lint_by_config(ManualArgs(templates=[str(template)], ignore_checks=ignore))
    assert [f"{m.rule.id} {m.message}" for m in matches] == []


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("cron(0 * * * ? *)", "cron(0 * ? * * *)"),
        ("cron(0 6 * * ? *)", "cron(0 6 ? * * *)"),
        ("rate(1 hour)", "cron(0 * ? * * *)"),
        ("rate(1 day)", "cron(0 0 ? * * *)"),
    ],
)
def test_the_schedule_is_translated_to_what_model_monitor_accepts(expression: str, expected: str) -> None:
    assert model_monitor_schedule(expression) == expected


@pytest.mark.parametrize("expression", ["rate(7 days)", "cron(30 6 * * ? *)", "cron(0 6 ? * MON *)"])
def test_a_schedule_model_monitor_cannot_run_is_refused_at_synth(expression: str) -> None:
    with pytest.raises(ValueError, match="hourly or daily"):
        model_monitor_schedule(expression)
