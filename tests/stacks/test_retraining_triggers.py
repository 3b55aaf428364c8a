"""The retraining triggers unit, per environment: rules, functions, state table, dead letters, least privilege."""

from __future__ import annotations

import json
import re
import tempfile
import zipfile
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from config import PlatformConfig
from lambdas.retrain_on_drift.logic import REPORT_MAX_AGE
from lambdas.retrain_on_schedule.events import parse_scheduled_run
from lambdas.retrain_on_schedule.logic import firing_of
from pipeline_code import schema
from stacks.units.monitoring_alarms import PERIOD
from stacks.units.retraining_triggers import (
    FUNCTION_RETRY_ATTEMPTS,
    POWERTOOLS_LAYER_VERSION,
    RESERVED_CONCURRENCY,
    SCHEDULE_RETRY_ATTEMPTS,
)
from tests.stacks.rendering import as_list, policy_statements
from tests.synthesis import Synthesis

ENVIRONMENTS = ("dev", "staging", "prod")
TABLE = "RetrainingTriggersState78B802AC"
QUEUE = "RetrainingTriggersDeadLetters1D58B7C2"
PACKAGE_LIMIT = 100 * 1024
FUNCTIONS = ("retrain-on-drift", "retrain-on-new-data", "retrain-on-schedule")


def _of_type(template: dict[str, Any], kind: str, prefix: str = "RetrainingTriggers") -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind and k.startswith(prefix)}


def _function(template: dict[str, Any], name: str) -> dict[str, Any]:
    (function,) = [
        f for f in _of_type(template, "AWS::Lambda::Function").values() if f["Properties"]["FunctionName"] == name
    ]
    return function


def _rendered(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


@pytest.fixture(params=ENVIRONMENTS)
def stage(request: pytest.FixtureRequest, synthesis: Synthesis, platform_config: PlatformConfig):
    name = request.param
    return synthesis.stack(name, "Operations").template, platform_config.environment(name), synthesis


def _rule_with(template: dict[str, Any], detail_type: str) -> dict[str, Any]:
    (rule,) = [
        r["Properties"]
        for r in _of_type(template, "AWS::Events::Rule").values()
        if r["Properties"]["EventPattern"]["detail-type"] == [detail_type]
    ]
    return rule


def test_rules_match_only_this_environments_drift_and_new_data(stage) -> None:
    template, environment, _ = stage
    prefix = f"mlops-{environment.name}"
    alarm = _rule_with(template, "CloudWatch Alarm State Change")["EventPattern"]
    assert alarm["source"] == ["aws.cloudwatch"]
    assert alarm["detail"] == {"alarmName": [{"prefix": f"{prefix}-drift-"}], "state": {"value": ["ALARM"]}}
    violations = _rule_with(template, "Drift Violations Report")["EventPattern"]
    assert violations == {
        "source": ["mlops.monitoring"],
        "detail-type": ["Drift Violations Report"],
        "detail": {"environment": [prefix]},
    }
    new_data = _rule_with(template, "Object Created")["EventPattern"]
    assert new_data["source"] == ["aws.s3"]
    assert new_data["detail"]["object"] == {"key": [{"prefix": "adult/"}]}
    assert f"{prefix}-raw-" in _rendered(new_data["detail"]["bucket"]["name"])


def test_every_rule_target_retries_and_has_the_dead_letter_queue(stage) -> None:
    template, _, _ = stage
    rules = _of_type(template, "AWS::Events::Rule")
    assert len(rules) == 3
    for rule in rules.values():
        (target,) = rule["Properties"]["Targets"]
        assert target["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": [QUEUE, "Arn"]}}
        assert target["RetryPolicy"]["MaximumRetryAttempts"] >= 1
        assert target["RetryPolicy"]["MaximumEventAgeInSeconds"] <= 24 * 3600


def test_failed_invocations_go_to_the_encrypted_dead_letter_queue_with_an_alarm(stage) -> None:
    template, _, _ = stage
    invoke_configs = _of_type(template, "AWS::Lambda::EventInvokeConfig")
    assert len(invoke_configs) == len(FUNCTIONS)
    assert {c["Properties"]["MaximumRetryAttempts"] for c in invoke_configs.values()} == {FUNCTION_RETRY_ATTEMPTS}
    for function in _of_type(template, "AWS::Lambda::Function").values():
        assert function["Properties"]["DeadLetterConfig"] == {"TargetArn": {"Fn::GetAtt": [QUEUE, "Arn"]}}
    queue = template["Resources"][QUEUE]["Properties"]
    assert queue["KmsMasterKeyId"] == {"Fn::GetAtt": ["RetrainingTriggersDeadLettersKey8146B903", "Arn"]}
    key_policy = _rendered(template["Resources"]["RetrainingTriggersDeadLettersKey8146B903"]["Properties"])
    assert "events.amazonaws.com" in key_policy  # EventBridge encrypts the events it dead-letters
    (alarm,) = [
        a["Properties"]
        for a in _of_type(template, "AWS::CloudWatch::Alarm").values()
        if a["Properties"].get("Namespace") == "AWS/SQS"
    ]
    assert alarm["MetricName"] == "ApproximateNumberOfMessagesVisible"
    assert alarm["Dimensions"] == [{"Name": "QueueName", "Value": {"Fn::GetAtt": [QUEUE, "QueueName"]}}]
    assert (alarm["Threshold"], alarm["ComparisonOperator"]) == (1, "GreaterThanOrEqualToThreshold")
    assert alarm["AlarmActions"] == [
        {"Ref": next(k for k, v in template["Resources"].items() if v["Type"] == "AWS::SNS::Topic")}
    ]


def test_functions_run_python_312_with_the_pinned_powertools_layer_tracing_and_little_concurrency(stage) -> None:
    template, environment, _ = stage
    for name in FUNCTIONS:
        function = _function(template, f"mlops-{environment.name}-{name}")["Properties"]
        assert function["Runtime"] == "python3.12"
        assert function["Handler"] == f"lambdas.{name.replace('-', '_')}.handler.lambda_handler"
        (layer,) = function["Layers"]
        assert layer == {
            "Fn::Sub": "arn:${AWS::Partition}:lambda:${AWS::Region}:017000801446:layer:"
            f"AWSLambdaPowertoolsPythonV3-python312-x86_64:{POWERTOOLS_LAYER_VERSION}"
        }
        assert function["TracingConfig"] == {"Mode": "Active"}
        assert function["ReservedConcurrentExecutions"] == RESERVED_CONCURRENCY <= 5
        assert "LogGroup" in function["LoggingConfig"]


def test_settings_reach_the_functions_from_config(stage) -> None:
    template, environment, _ = stage
    prefix = f"mlops-{environment.name}"
    drift = _function(template, f"{prefix}-retrain-on-drift")["Properties"]["Environment"]["Variables"]
    new_data = _function(template, f"{prefix}-retrain-on-new-data")["Properties"]["Environment"]["Variables"]
    scheduled = _function(template, f"{prefix}-retrain-on-schedule")["Properties"]["Environment"]["Variables"]
    for variables in (drift, new_data, scheduled):
        assert variables["PLATFORM_ENVIRONMENT"] == prefix
        assert variables["TRAINING_PIPELINE_NAME"] == f"{prefix}-training"
        assert variables["COOLDOWN_HOURS"] == str(environment.retraining.cooldown_hours)
        assert variables["STATE_TABLE_NAME"] == {"Ref": TABLE}
        assert variables["POWERTOOLS_METRICS_NAMESPACE"] == "MLOps/Retraining"
    assert drift["DRIFT_ALARM_PREFIX"] == f"{prefix}-drift-"
    assert "/monitoring/reports/" in _rendered(drift["MONITORING_REPORTS_URI"])
    assert new_data["MIN_NEW_ROWS"] == str(environment.retraining.min_new_rows)
    assert new_data["MIN_NEW_BYTES"] == str(environment.retraining.min_new_bytes)
    assert new_data["AVERAGE_ROW_BYTES"] == str(schema.load("adult").average_row_bytes) == "122"
    assert new_data["INPUT_PREFIX"] == "adult/"
    assert scheduled["RETRAINING_SCHEDULE_NAME"] == f"{prefix}-retraining"


def test_the_state_table_is_encrypted_recoverable_and_kept_as_configured(stage) -> None:
    template, environment, _ = stage
    table = template["Resources"][TABLE]
    props = table["Properties"]
    assert props["TableName"] == f"mlops-{environment.name}-retraining-state"
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert props["KeySchema"] == [{"AttributeName": "id", "KeyType": "HASH"}]
    assert props["SSESpecification"]["SSEEnabled"] is True
    assert props["SSESpecification"]["SSEType"] == "KMS"
    assert "DataLakeKey" in _rendered(props["SSESpecification"]["KMSMasterKeyId"])
    assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert props["TimeToLiveSpecification"] == {"AttributeName": "expiration", "Enabled": True}
    expected = "Delete" if environment.is_destroyable else "Retain"
    assert table["DeletionPolicy"] == table["UpdateReplacePolicy"] == expected
    assert props.get("DeletionProtectionEnabled", False) is (not environment.is_destroyable)


def test_log_groups_keep_logs_as_long_as_config_says(stage) -> None:
    template, environment, _ = stage
    groups = _of_type(template, "AWS::Logs::LogGroup")
    assert len(groups) == len(FUNCTIONS)
    for group in groups.values():
        assert group["Properties"]["RetentionInDays"] == environment.log_retention_days
        assert "KmsKeyId" in group["Properties"]


def test_each_role_may_do_only_what_its_trigger_needs(stage) -> None:
    template, environment, _ = stage
    for role in ("RetrainingTriggersRetrainOnDriftRole", "RetrainingTriggersRetrainOnNewDataRole",
                 "RetrainingTriggersRetrainOnScheduleRole"):  # fmt: skip
        statements = policy_statements(template, role)
        actions = sorted(a for s in statements for a in as_list(s["Action"]))
        assert actions == sorted(
            [
                "logs:CreateLogStream", "logs:PutLogEvents",
                "sagemaker:ListPipelineExecutions", "sagemaker:StartPipelineExecution",
                "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem",
                "kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey",
                "kms:Decrypt", "kms:GenerateDataKey",
                "sqs:SendMessage",
                "xray:PutTelemetryRecords", "xray:PutTraceSegments",
                "s3:ListBucket", "s3:PutObject", "kms:GenerateDataKey",  # the data snapshot
                "kms:Decrypt",  # the function's variables, encrypted with the lake key
            ]
        )  # fmt: skip
        (sagemaker,) = [s for s in statements if s.get("Sid") == "StartTrainingPipeline"]
        assert re.search(rf':pipeline/mlops-{environment.name}-training"(\]\]\}})?$', _rendered(sagemaker["Resource"]))
        (table,) = [s for s in statements if "dynamodb:GetItem" in s["Action"]]
        assert table["Resource"] == {"Fn::GetAtt": [TABLE, "Arn"]}
        wildcard = [s for s in statements if s["Resource"] == "*"]
        assert [sorted(s["Action"]) for s in wildcard] == [["xray:PutTelemetryRecords", "xray:PutTraceSegments"]]
        assert not any(a.startswith(("s3:Get", "cloudwatch:")) for a in actions)  # no data read; EMF metrics
        _snapshot_statements_are_least_privilege(statements, environment.name)


def _snapshot_statements_are_least_privilege(statements: list[dict[str, Any]], name: str) -> None:
    by_sid = {s.get("Sid"): s for s in statements}
    listing = by_sid["ListRawTrainingData"]
    assert f"mlops-{name}-raw-" in _rendered(listing["Resource"])
    assert listing["Condition"] == {"StringLike": {"s3:prefix": ["adult/*", "feedback/*"]}}
    writing = by_sid["WriteDataSnapshots"]
    assert writing["Action"] == "s3:PutObject"
    assert re.search(rf"mlops-{name}-artifacts-.*/data-snapshots/\*", _rendered(writing["Resource"]))
    key = by_sid["EncryptDataSnapshots"]
    assert key["Action"] == "kms:GenerateDataKey"
    assert "DataLakeKey" in _rendered(key["Resource"])
    conditions = key["Condition"]["StringEquals"]
    assert "s3." in _rendered(conditions["kms:ViaService"])
    assert f"mlops-{name}-artifacts-" in _rendered(conditions["kms:EncryptionContext:aws:s3:arn"])


def test_snapshot_settings_reach_every_function(stage) -> None:
    template, environment, _ = stage
    for name in FUNCTIONS:
        variables = _function(template, f"mlops-{environment.name}-{name}")["Properties"]["Environment"]["Variables"]
        assert variables["SNAPSHOT_PREFIXES"] == "adult/,feedback/"
        assert f"mlops-{environment.name}-raw-" in _rendered(variables["RAW_BUCKET_NAME"])
        account, region = {"Ref": "AWS::AccountId"}, {"Ref": "AWS::Region"}
        assert variables["SNAPSHOTS_URI"] == {
            "Fn::Join": ["", [f"s3://mlops-{environment.name}-artifacts-", account, "-", region, "/data-snapshots/"]]
        }


def test_each_deployment_package_is_small_and_holds_only_its_handler(stage) -> None:
    template, environment, synthesis = stage
    for name in (f.replace("-", "_") for f in FUNCTIONS):
        function = _function(template, f"mlops-{environment.name}-{name.replace('_', '-')}")
        key = function["Properties"]["Code"]["S3Key"]
        asset = synthesis.outdir / f"asset.{key.removesuffix('.zip')}"
        files = sorted(str(p.relative_to(asset)) for p in asset.rglob("*") if p.is_file())
        assert files
        assert all(re.match(rf"lambdas/(__init__|shared/\w+|{name}/\w+)\.py$", f) for f in files), files
        assert f"lambdas/{name}/handler.py" in files
        assert sum((asset / f).stat().st_size for f in files) < PACKAGE_LIMIT
        _zip_is_small(asset, files)


def _zip_is_small(asset: Path, files: list[str]) -> None:
    # Not beside the asset: the synthesis folder is shared by the workers, and the environments share this asset.
    with tempfile.TemporaryDirectory() as scratch:
        archive = Path(scratch) / "package.zip"
        with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zipped:
            for name in files:
                zipped.write(asset / name, name)
        assert archive.stat().st_size < PACKAGE_LIMIT


def test_the_retraining_schedule_invokes_the_scheduled_trigger_with_a_payload_it_accepts(stage) -> None:
    template, environment, _ = stage
    prefix = f"mlops-{environment.name}"
    (schedule,) = [s["Properties"] for s in _of_type(template, "AWS::Scheduler::Schedule").values()]
    assert (schedule["Name"], schedule["ScheduleExpression"]) == (
        f"{prefix}-retraining",
        environment.schedules.retraining,
    )
    assert schedule["FlexibleTimeWindow"] == {"Mode": "OFF"}
    assert "DataLakeKey" in _rendered(schedule["KmsKeyArn"])
    target = schedule["Target"]
    (function_id,) = [
        k for k, f in _of_type(template, "AWS::Lambda::Function").items()
        if f["Properties"]["FunctionName"] == f"{prefix}-retrain-on-schedule"
    ]  # fmt: skip
    assert target["Arn"] == {"Fn::GetAtt": [function_id, "Arn"]}
    assert target["RetryPolicy"] == {"MaximumEventAgeInSeconds": 3600, "MaximumRetryAttempts": SCHEDULE_RETRY_ATTEMPTS}
    # The input as Scheduler fills in its context attributes: the handler accepts it as a firing of this schedule.
    filled = (
        target["Input"]
        .replace(
            "<aws.scheduler.schedule-arn>",
            f"arn:aws:scheduler:eu-west-1:123456789012:schedule/default/{prefix}-retraining",
        )
        .replace("<aws.scheduler.scheduled-time>", "2026-11-26T06:00:00Z")
        .replace("<aws.scheduler.attempt-number>", "1")
    )
    firing = firing_of(parse_scheduled_run(json.loads(filled)), schedule_name=f"{prefix}-retraining")
    assert firing.key["scheduledTime"] == "2026-11-26T06:00:00+00:00"


def test_the_scheduler_role_may_only_invoke_the_scheduled_trigger(stage) -> None:
    template, _, _ = stage
    (schedule,) = [s["Properties"] for s in _of_type(template, "AWS::Scheduler::Schedule").values()]
    role_id = schedule["Target"]["RoleArn"]["Fn::GetAtt"][0]
    trust = template["Resources"][role_id]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert [s["Principal"] for s in trust] == [{"Service": "scheduler.amazonaws.com"}]
    assert all("aws:SourceAccount" in s["Condition"]["StringEquals"] for s in trust)
    statements = policy_statements(template, role_id[:-8])  # its DefaultPolicy (the id without its hash)
    invoke, decrypt = (
        [s for s in statements if s["Action"] == action] for action in ("lambda:InvokeFunction", "kms:Decrypt")
    )
    assert len(invoke) == len(decrypt) == 1 == len(statements) - 1
    assert invoke[0]["Resource"] == schedule["Target"]["Arn"]  # the function itself: no `:*` (versions, aliases)
    assert "DataLakeKey" in _rendered(decrypt[0]["Resource"])  # the schedule's own input is encrypted with it


def test_the_drift_trigger_looks_back_over_a_whole_alarm_period_for_the_report_that_caused_it() -> None:
    # The alarm starts the run; the report recorded before it is its cause only within REPORT_MAX_AGE, which must
    # cover the period the drift alarms evaluate (a report early in the period, the transition at its end).
    assert timedelta(seconds=PERIOD.to_seconds()) < REPORT_MAX_AGE
