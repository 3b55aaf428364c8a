"""cdk-nag (AwsSolutions, NIST 800-53 R5) and cfn-lint gates over everything the app synthesizes."""

from __future__ import annotations

import json
from pathlib import Path

import aws_cdk as cdk
import pytest
import yaml
from aws_cdk import aws_s3 as s3
from cfnlint.api import ManualArgs, lint_by_config

from config import PlatformConfig
from stacks.units.compliance import acknowledge
from tests.synthesis import Synthesis

ROOT = Path(__file__).resolve().parents[2]


def test_no_nag_finding_is_left_unacknowledged(synthesis: Synthesis) -> None:
    # A pack appears in the report only when it has something to say (a violation or an acknowledgment).
    reports = {r["pluginName"]: r for r in synthesis.validation_report["pluginReports"]}
    assert set(reports) <= {"AwsSolutions", "NIST.800.53.R5"}
    for name, report in reports.items():
        assert report["conclusion"] == "success", name
        assert report["violations"] == [], name


def test_every_acknowledgment_names_its_rule_and_a_specific_reason(synthesis: Synthesis) -> None:
    suppressed = [s for r in synthesis.validation_report["pluginReports"] for s in r["suppressedViolations"]]
    assert suppressed, "the lake acknowledges some findings; an empty list means the report is not being read"
    for finding in suppressed:
        assert finding["acknowledgedId"].split("::", 1)[1].startswith(finding["ruleName"])
        assert len(finding["reason"]) >= 40, finding["acknowledgedId"]


def test_the_nag_gate_fails_synth_on_an_insecure_resource(tmp_path: Path) -> None:
    """Proves the gate is live: both packs reject a bucket with no TLS policy, no logs and no KMS key."""
    from app import create_app

    app = create_app(PlatformConfig(project_name="probe", environments={}), outdir=str(tmp_path))
    s3.Bucket(cdk.Stack(app, "Insecure"), "Bucket")
    with pytest.raises(RuntimeError, match="ValidationFailed"):
        app.synth()
    report = json.loads((tmp_path / "validation-report.json").read_text())
    failed = {r["pluginName"]: {v["ruleName"] for v in r["violations"]} for r in report["pluginReports"]}
    assert "AwsSolutions-S1" in failed["AwsSolutions"]  # no server access logs
    assert "AwsSolutions-S10" in failed["AwsSolutions"]  # no TLS-only policy
    assert "NIST.800.53.R5-S3DefaultEncryptionKMS" in failed["NIST.800.53.R5"]


def test_acknowledging_without_a_reason_is_refused() -> None:
    stack = cdk.Stack(cdk.App(), "Any")
    with pytest.raises(ValueError, match="specific reason"):
        acknowledge(stack, "AwsSolutions-S1", "not needed")


def test_a_finding_acknowledged_for_two_causes_keeps_both_reasons(synthesis: Synthesis) -> None:
    """The operations pipelines' role has two `Resource: *` statements, acknowledged by two different grants; the
    second acknowledgment of the same finding id must not erase the first one's reason."""
    suppressed = [s for r in synthesis.validation_report["pluginReports"] for s in r["suppressedViolations"]]
    reasons = {
        s["reason"]
        for s in suppressed
        if s["acknowledgedId"] == "AwsSolutions::AwsSolutions-IAM5[Resource::*]"
        and "OperationsPipelines/ExecutionRole/" in json.dumps(s["violatingConstructs"])
    }
    assert len(reasons) == 2, reasons  # without a VPC (dev) and with one (staging, prod): a third cause
    for reason in reasons:
        assert "ecr:GetAuthorizationToken" in reason  # from grant_pipeline_jobs
        assert "cloudwatch:PutMetricData" in reason  # from OperationsPipelines itself
    assert sum("network interfaces" in reason for reason in reasons) == 1  # from grant_sagemaker_network_interfaces


def test_cfn_lint_finds_no_error_and_no_warning(synthesis: Synthesis) -> None:
    templates = sorted(synthesis.outdir.glob("assembly-*/*.template.json"))
    assert len(templates) == len(synthesis.stacks)
    # The project's .cfnlintrc.yaml holds the ignored rules and the reason for each; use it as the CLI would.
    project_config = yaml.safe_load((ROOT / ".cfnlintrc.yaml").read_text())
    matches = lint_by_config(
        ManualArgs(templates=[str(t) for t in templates], ignore_checks=project_config["ignore_checks"])
    )
    assert [f"{m.rule.id} {m.filename}:{m.linenumber} {m.message}" for m in matches] == []
