"""The GitOps release pipeline (`tests.release_synthesis`, synthesized once per run): its stages, the roles its
steps assume, and its gates (cdk-nag, cfn-lint, snapshots)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from cfnlint.api import ManualArgs, lint_by_config
from syrupy.assertion import SnapshotAssertion
from syrupy.extensions.json import JSONSnapshotExtension

from config import DEFAULT_CONFIG_PATH, ConfigError, PlatformConfig
from tests.release_synthesis import CONNECTION, EMAIL, TOOLING, TOOLING_REGION, ReleaseSynthesis
from tests.stacks.rendering import as_list, resources
from tests.stacks.test_logical_ids import STATEFUL_TYPES
from tests.stacks.test_snapshots import normalise
from tests.synthesis import Synthesis

ROOT = Path(__file__).resolve().parents[2]
ENVIRONMENTS = ("dev", "staging", "prod")


def _build_commands(project: dict[str, Any]) -> list[str]:
    return json.loads(project["Source"]["BuildSpec"])["phases"]["build"]["commands"]


# ------------------------------------------------------------------------------------------------ shape


def test_stages_run_commit_tests_then_dev_staging_and_prod(release: ReleaseSynthesis) -> None:
    names = [stage["Name"] for stage in release.pipeline["Stages"]]
    assert names == ["Source", "Build", "UpdatePipeline", "Assets", "dev", "staging", "prod"]


def test_a_manual_approval_comes_before_any_prod_deployment(release: ReleaseSynthesis) -> None:
    prod = release.stage("prod")
    (approval,) = [a for a in prod if a["ActionTypeId"]["Provider"] == "Manual"]
    deployments = [a for a in prod if a["ActionTypeId"]["Provider"] == "CloudFormation"]
    assert deployments
    assert approval["RunOrder"] < min(a["RunOrder"] for a in deployments)


@pytest.mark.parametrize("name", ["dev", "staging"])
def test_the_other_stages_deploy_without_a_manual_approval(release: ReleaseSynthesis, name: str) -> None:
    assert all(a["ActionTypeId"]["Provider"] != "Manual" for a in release.stage(name))


def test_the_synth_step_runs_the_readme_test_command_before_synthesizing(release: ReleaseSynthesis) -> None:
    (synth,) = release.stage("Build")
    project = release.project(synth)
    assert _build_commands(project) == ["make test", "make synth-release"]
    assert "`make test`" in (ROOT / "README.md").read_text()  # the README's test command is that one
    makefile = (ROOT / "Makefile").read_text()
    assert "synth-release: install" in makefile
    assert "synth --quiet -c release=true" in makefile
    assert project["Environment"]["Image"] == "aws/codebuild/standard:7.0"
    runtimes = json.loads(project["Source"]["BuildSpec"])["phases"]["install"]["runtime-versions"]
    assert runtimes == {"python": "3.12", "nodejs": "20"}


def test_the_pipeline_updates_itself_with_the_pinned_cdk_cli(release: ReleaseSynthesis) -> None:
    (mutate,) = release.stage("UpdatePipeline")
    install = json.loads(release.project(mutate)["Source"]["BuildSpec"])["phases"]["install"]["commands"]
    pinned = json.loads((ROOT / "package.json").read_text())["devDependencies"]["aws-cdk"]
    assert f"npm install -g aws-cdk@{pinned}" in install


def test_the_source_is_the_configured_connection_repository_and_branch(release: ReleaseSynthesis) -> None:
    (source,) = release.stage("Source")
    source_settings = release.config.require_release().source
    assert source["ActionTypeId"]["Provider"] == "CodeStarSourceConnection"
    assert source["Configuration"]["ConnectionArn"] == CONNECTION
    assert source["Configuration"]["FullRepositoryId"] == source_settings.repository
    assert source["Configuration"]["BranchName"] == source_settings.branch


def test_the_pipeline_lives_in_the_tooling_account_and_region(release: ReleaseSynthesis) -> None:
    manifest = json.loads((release.outdir / "manifest.json").read_text())
    assert manifest["artifacts"]["mlops-release"]["environment"] == f"aws://{TOOLING}/{TOOLING_REGION}"


@pytest.mark.parametrize("name", ENVIRONMENTS)
def test_every_stage_deploys_into_the_account_and_region_from_config(release: ReleaseSynthesis, name: str) -> None:
    environment = release.config.environment(name)
    # not the pipeline's region: each deploy action must then name it, a default would not pass the check below
    assert environment.region == "eu-west-1" != TOOLING_REGION
    deploys = [a for a in release.stage(name) if a["ActionTypeId"]["Provider"] == "CloudFormation"]
    assert deploys
    for action in deploys:
        role = json.dumps(action["RoleArn"])
        assert f":iam::{environment.account}:role/cdk-hnb659fds-deploy-role-{environment.account}-" in role
        assert action.get("Region", TOOLING_REGION) == environment.region, action["Name"]
    stacks = [s for s in release.stages.stacks if s.stage == f"mlops-release/{name}"]
    assert stacks
    for stack in stacks:
        assert stack.manifest["environment"] == f"aws://{environment.account}/{environment.region}"


@pytest.mark.parametrize("name", ENVIRONMENTS)
def test_stages_are_the_same_mlops_stage_as_local_deploys(
    release: ReleaseSynthesis, synthesis: Synthesis, name: str
) -> None:
    released = {s.stack_name for s in release.stages.stacks if s.stage == f"mlops-release/{name}"}
    local = {s.stack_name for s in synthesis.stacks if s.stage == name}
    assert released == local | {f"mlops-{name}-release-access"}


def test_the_pipeline_takes_over_a_locally_deployed_stage_without_replacing_what_holds_data(
    release: ReleaseSynthesis, synthesis: Synthesis
) -> None:
    # Same config, same account: the pipeline takes over a locally deployed stack without replacing anything
    # stateful (same logical IDs and types, same properties of what holds data).
    local = synthesis.stack("staging", "DataLake").template["Resources"]
    released = release.stage_stack("staging", "DataLake").template["Resources"]
    assert {k: v["Type"] for k, v in released.items()} == {k: v["Type"] for k, v in local.items()}
    stateful = [k for k, v in local.items() if v["Type"] in STATEFUL_TYPES]
    assert stateful
    assert {k: released[k] for k in stateful} == {k: local[k] for k in stateful}


# --------------------------------------------------------------------------------------------- security


def _kms_encrypted_bucket_key(template: dict[str, Any], bucket_id: str) -> dict[str, Any]:
    """The properties of the KMS key that encrypts `bucket_id` by default (asserting that one does)."""
    (rule,) = template["Resources"][bucket_id]["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    # The key is named directly (GetAtt Arn) or through an alias (a Join around a Ref to the alias).
    (referenced,) = [
        r
        for r in template["Resources"]
        if f'"{r}"' in json.dumps(rule["ServerSideEncryptionByDefault"]["KMSMasterKeyID"])
    ]
    resource = template["Resources"][referenced]
    if resource["Type"] == "AWS::KMS::Alias":
        resource = template["Resources"][resource["Properties"]["TargetKeyId"]["Fn::GetAtt"][0]]
    assert resource["Type"] == "AWS::KMS::Key"
    return resource["Properties"]


def _artifact_stores(release: ReleaseSynthesis) -> dict[str, dict[str, Any]]:
    return {s["Region"]: s["ArtifactStore"] for s in release.pipeline["ArtifactStores"]}  # one per region


def _artifact_bucket_keys(release: ReleaseSynthesis) -> dict[str, dict[str, Any]]:
    """Per region, the properties of the KMS key that encrypts the pipeline's artifact bucket there (asserting
    that one does)."""
    main = _artifact_stores(release)[TOOLING_REGION]
    keys = {TOOLING_REGION: _kms_encrypted_bucket_key(release.template, main["Location"]["Ref"])}
    # A stage in another region reads artifacts from the bucket CDK keeps there, in a support stack.
    (support_file,) = release.outdir.glob(f"cross-region-stack-{TOOLING}_eu-west-1.template.json")
    support = json.loads(support_file.read_text())
    (bucket_id,) = resources(support, "AWS::S3::Bucket")
    keys["eu-west-1"] = _kms_encrypted_bucket_key(support, bucket_id)
    return keys


def test_cross_account_keys_encrypt_the_artifact_buckets(release: ReleaseSynthesis) -> None:
    stores = _artifact_stores(release)
    assert sorted(stores) == ["eu-central-1", "eu-west-1"]
    assert sorted(_artifact_bucket_keys(release)) == sorted(stores)  # each region's bucket: encrypted by KMS
    main = stores[TOOLING_REGION]
    assert main["EncryptionKey"] == {
        "Id": {"Fn::GetAtt": [main["EncryptionKey"]["Id"]["Fn::GetAtt"][0], "Arn"]},
        "Type": "KMS",
    }


@pytest.mark.parametrize("name", ENVIRONMENTS)
def test_each_stage_account_may_use_the_artifact_key_of_its_region(release: ReleaseSynthesis, name: str) -> None:
    environment = release.config.environment(name)
    key = _artifact_bucket_keys(release)[environment.region]
    assert key["EnableKeyRotation"] is True
    assert f":iam::{environment.account}:role/cdk-hnb659fds-deploy-role" in json.dumps(key["KeyPolicy"])


def test_failed_releases_and_waiting_approvals_notify_the_configured_address(release: ReleaseSynthesis) -> None:
    (rule,) = resources(release.template, "AWS::CodeStarNotifications::NotificationRule").values()
    assert sorted(rule["Properties"]["EventTypeIds"]) == [
        "codepipeline-pipeline-manual-approval-needed",
        "codepipeline-pipeline-pipeline-execution-failed",
    ]
    (topic_id,) = resources(release.template, "AWS::SNS::Topic")
    assert rule["Properties"]["Targets"] == [{"TargetAddress": {"Ref": topic_id}, "TargetType": "SNS"}]
    assert "KmsMasterKeyId" in release.template["Resources"][topic_id]["Properties"]
    (subscription,) = resources(release.template, "AWS::SNS::Subscription").values()
    assert subscription["Properties"] == {"Endpoint": EMAIL, "Protocol": "email", "TopicArn": {"Ref": topic_id}}


# --------------------------------------------------------------------------------------- post-deploy steps


@pytest.mark.parametrize("name", ENVIRONMENTS)
def test_every_stage_is_checked_after_deploying_with_its_own_outputs_and_role(
    release: ReleaseSynthesis, name: str
) -> None:
    environment = release.config.environment(name)
    actions = release.stage(name)
    (check,) = [a for a in actions if a["Name"] == "CheckDeployment"]
    assert check["RunOrder"] > max(a["RunOrder"] for a in actions if a["ActionTypeId"]["Provider"] == "CloudFormation")
    variables = {v["name"]: v["value"] for v in json.loads(check["Configuration"]["EnvironmentVariables"])}
    assert sorted(variables) == [
        *(f"CHECK_BUCKET_{z}" for z in ("ARTIFACTS", "CURATED", "FEATURES", "RAW")),
        "CHECK_FEATURE_GROUP_ADULT",
        "CHECK_SAGEMAKER_PIPELINE_TRAINING",
    ]
    assert all(
        v.startswith(f"#{{mlopsrelease{name}DataLake") and v.endswith("BucketName}")
        for k, v in variables.items()
        if k.startswith("CHECK_BUCKET_")
    )
    assert variables["CHECK_FEATURE_GROUP_ADULT"].startswith(f"#{{mlopsrelease{name}DataLake")
    assert variables["CHECK_SAGEMAKER_PIPELINE_TRAINING"].startswith(f"#{{mlopsrelease{name}MlPipeline")
    project = release.project(check)
    assert _build_commands(project) == ["python -m release.post_deploy_check"]
    env = {e["Name"]: e["Value"] for e in project["Environment"]["EnvironmentVariables"]}
    role_arn = f"arn:aws:iam::{environment.account}:role/mlops-{name}-release-check"
    assert env == {"TARGET_REGION": environment.region, "RELEASE_ROLE_ARN": role_arn}


def test_dev_starts_training_when_pipeline_code_changed_after_its_check(release: ReleaseSynthesis) -> None:
    dev = {a["Name"]: a for a in release.stage("dev")}
    trigger = dev["StartTrainingOnCodeChange"]
    assert trigger["RunOrder"] > dev["CheckDeployment"]["RunOrder"]
    project = release.project(trigger)
    assert _build_commands(project) == ["python -m release.code_change_trigger"]
    env = {e["Name"]: e["Value"] for e in project["Environment"]["EnvironmentVariables"]}
    assert env["TRAINING_PIPELINE_NAME"] == "mlops-dev-training"
    assert env["CODE_HASH_PARAMETER"] == "/mlops/dev/release/pipeline-code-hash"
    assert env["CODE_DIR"] == "pipeline_code"
    # the run's data snapshot: the dev zones, named as the data lake names them in dev's account and region
    assert env["RAW_BUCKET_NAME"] == "mlops-dev-raw-111111111111-eu-west-1"
    assert env["SNAPSHOT_PREFIXES"] == "adult/,feedback/"
    assert env["SNAPSHOTS_URI"] == "s3://mlops-dev-artifacts-111111111111-eu-west-1/data-snapshots/"


@pytest.mark.parametrize("name", ["staging", "prod"])
def test_later_stages_never_start_training_on_a_code_change(release: ReleaseSynthesis, name: str) -> None:
    assert "StartTrainingOnCodeChange" not in {a["Name"] for a in release.stage(name)}


def _check_role(release: ReleaseSynthesis, name: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    template = release.stage_stack(name, "ReleaseAccess").template
    (role,) = resources(template, "AWS::IAM::Role").values()
    (policy,) = resources(template, "AWS::IAM::ManagedPolicy").values()
    return role["Properties"], policy["Properties"]["PolicyDocument"]["Statement"]


@pytest.mark.parametrize("name", ENVIRONMENTS)
def test_the_check_role_trusts_the_tooling_account_and_only_dev_may_start_training(
    release: ReleaseSynthesis, name: str
) -> None:
    role, statements = _check_role(release, name)
    assert role["RoleName"] == f"mlops-{name}-release-check"
    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert json.dumps(trust["Principal"]).count(f":iam::{TOOLING}:root") == 1
    actions = {a for s in statements for a in as_list(s["Action"])}
    writes = {"sagemaker:StartPipelineExecution", "ssm:PutParameter", "s3:PutObject", "kms:GenerateDataKey"}
    assert bool(actions & writes) is (name == "dev")
    assert not any(a.startswith("s3:Get") for a in actions)  # never reads data


def test_the_dev_check_role_starts_only_dev_s_training_and_snapshots_only_its_training_data(
    release: ReleaseSynthesis,
) -> None:
    _, dev_statements = _check_role(release, "dev")
    (start,) = [s for s in dev_statements if s["Action"] == "sagemaker:StartPipelineExecution"]
    assert start["Resource"] == "arn:aws:sagemaker:eu-west-1:111111111111:pipeline/mlops-dev-training"
    by_sid = {s.get("Sid"): s for s in dev_statements}
    assert by_sid["ListRawTrainingData"]["Condition"] == {"StringLike": {"s3:prefix": ["adult/*", "feedback/*"]}}
    assert by_sid["WriteDataSnapshots"]["Action"] == "s3:PutObject"
    account, region = {"Ref": "AWS::AccountId"}, {"Ref": "AWS::Region"}  # the dev account's own stack
    assert by_sid["WriteDataSnapshots"]["Resource"] == {
        "Fn::Join": ["", ["arn:aws:s3:::mlops-dev-artifacts-", account, "-", region, "/data-snapshots/*"]]
    }
    key = by_sid["EncryptDataSnapshots"]
    assert key["Condition"]["StringEquals"]["kms:ViaService"] == "s3.eu-west-1.amazonaws.com"


# ------------------------------------------------------------------------------ gates: nag, lint, snapshot


def test_cdk_nag_ran_on_the_release_and_left_nothing_unacknowledged(release: ReleaseSynthesis) -> None:
    report = json.loads((release.outdir / "validation-report.json").read_text())
    reports = {r["pluginName"]: r for r in report["pluginReports"]}
    assert set(reports) == {"AwsSolutions", "NIST.800.53.R5"}
    for name, plugin in reports.items():
        assert (plugin["conclusion"], plugin["violations"]) == ("success", []), name
    suppressed = [s for r in reports.values() for s in r["suppressedViolations"]]
    paths = {c["constructPath"] for s in suppressed for c in s["violatingConstructs"]}
    assert any(p.startswith("mlops-release/Pipeline/") for p in paths)  # the pipeline itself was checked
    assert any(p.startswith("mlops-release/prod/ReleaseAccess/") for p in paths)  # and the stages inside it
    for finding in suppressed:
        assert finding["acknowledgedId"].split("::", 1)[1].startswith(finding["ruleName"])
        assert len(finding["reason"]) >= 40, finding["acknowledgedId"]


def test_cfn_lint_finds_nothing_in_the_release_templates(release: ReleaseSynthesis) -> None:
    # The stages' own stacks are linted with the default synthesis; here what only the release adds.
    templates = sorted(
        [str(t) for t in release.outdir.glob("*.template.json")]  # the pipeline and CDK's region support stack
        + [str(t) for t in release.outdir.glob("assembly-*/*ReleaseAccess*.template.json")]
    )
    assert len(templates) == 2 + len(ENVIRONMENTS)
    ignored = yaml.safe_load((ROOT / ".cfnlintrc.yaml").read_text())["ignore_checks"]
    problems = lint_by_config(ManualArgs(templates=templates, ignore_checks=ignored))
    assert [f"{p.rule.id} {p.filename}:{p.linenumber} {p.message}" for p in problems] == []


def test_the_pipeline_template_matches_its_snapshot(release: ReleaseSynthesis, snapshot: SnapshotAssertion) -> None:
    assert normalise(release.template) == snapshot.use_extension(JSONSnapshotExtension)(name="release")


@pytest.mark.parametrize("name", ENVIRONMENTS)
def test_release_access_templates_match_their_snapshots(
    release: ReleaseSynthesis, snapshot: SnapshotAssertion, name: str
) -> None:
    template = release.stage_stack(name, "ReleaseAccess").template
    assert normalise(template) == snapshot.use_extension(JSONSnapshotExtension)(name=f"{name}-ReleaseAccess")


# ------------------------------------------------------------------------------- asking for the release


def test_an_incomplete_release_config_fails_only_when_the_release_is_asked_for(
    platform_config: PlatformConfig, synthesis: Synthesis, tmp_path: Path
) -> None:
    from app import create_app

    assert platform_config.release is not None
    assert platform_config.release.account is None  # the shipped config: no tooling account yet ...
    assert {s.stage for s in synthesis.stacks} == set(ENVIRONMENTS)  # ... and the app of it builds
    # dev without an account (possible while nothing promotes from dev): the release names it too
    dev = platform_config.environment("dev").model_copy(update={"account": None})
    staging = platform_config.environment("staging")
    staging = staging.model_copy(update={"promotion": staging.promotion.model_copy(update={"source": "own"})})
    config = platform_config.model_copy(
        update={"environments": {**platform_config.environments, "dev": dev, "staging": staging}}
    )
    with pytest.raises(ConfigError) as caught:
        create_app(config, outdir=str(tmp_path / "release"), context={"release": "true"})
    message = str(caught.value)
    for key in ("'release.account'", "'release.source.connection_arn'", "'release.notification_email'"):
        assert key in message
    assert "environment 'dev': key 'account' has value None" in message
    assert str(DEFAULT_CONFIG_PATH) in message


def test_context_from_the_cdk_cli_asks_for_the_release(tmp_path: Path) -> None:
    """`cdk synth -c release=true` hands its context to the app in CDK_CONTEXT_JSON, which the App reads in its
    own (node) process: so a fresh process, on the shipped config that has no tooling account yet. `create_app`
    rather than `main`, which may first rebuild the SageMaker definitions (slow, and it writes into the tree)."""
    script = "import app, config; app.create_app(config.load_config(), outdir=__import__('sys').argv[1])"
    result = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "CDK_CONTEXT_JSON": json.dumps({"release": "true"})},
        check=False,
    )
    assert result.returncode == 1, result.stderr
    assert "ConfigError: invalid configuration:" in result.stderr
    assert "key 'release.account' has value None" in result.stderr
