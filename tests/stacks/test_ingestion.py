"""The PostgreSQL ingestion in CDK: deployed only where configured; its pipeline, schedule, settings, state table,
driver and a role that can do what the job does and no more (evaluated with tests/contracts/iam_policy.py)."""

from __future__ import annotations

import json
from typing import Any

import aws_cdk as cdk
import botocore.session
import pytest
import yaml
from aws_cdk import aws_kms as kms
from aws_cdk.assertions import Template
from cfnlint.api import ManualArgs, lint_by_config

from config.sections import IngestionSettings
from naming import ResourceNames
from pipeline_code.ingest_settings import parse_settings
from pipeline_definition.contract import CODE_DIR, DEPENDENCIES_PREFIX, STAGING_DIR, definition_path, dependencies_hash
from stacks.units.ingestion import PostgresIngestion, installed_dependencies
from stacks.units.pipeline_role import PipelineDefinition
from tests.conftest import INGESTION_SECTION, ROOT
from tests.contracts.iam_policy import Resolver, evaluate, role_policy
from tests.ingestion.test_settings import section
from tests.stacks.rendering import render, resources
from tests.synthesis import Synthesis

ACCOUNT, REGION = "111111111111", "eu-west-1"
RAW = f"arn:aws:s3:::mlops-dev-raw-{ACCOUNT}-{REGION}"
TABLE = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/mlops-dev-ingestion-state"


@pytest.fixture(scope="module")
def operations(ingestion_synthesis: Synthesis) -> dict[str, Any]:
    return ingestion_synthesis.stack("dev", "Operations").template


@pytest.fixture(scope="module")
def role(ingestion_synthesis: Synthesis, operations: dict[str, Any]) -> list[Any]:
    stack = ingestion_synthesis.stack("dev", "Operations")
    logical = next(k for k in resources(operations, "AWS::IAM::Role") if k.startswith("IngestionExecutionRole"))
    return role_policy(Resolver(ingestion_synthesis.stacks, ACCOUNT, REGION), stack, logical)


def test_the_shipped_config_deploys_no_ingestion(synthesis: Synthesis) -> None:
    for stack in synthesis.stacks:
        names = [
            p["Properties"]["PipelineName"] for p in resources(stack.template, "AWS::SageMaker::Pipeline").values()
        ]
        assert not [n for n in names if n.endswith("-ingestion")], stack.stack_name
        assert not [k for k in stack.template["Resources"] if k.startswith("Ingestion")], stack.stack_name


def test_the_pipeline_runs_the_job_in_the_configured_subnets(operations: dict[str, Any]) -> None:
    (pipeline,) = [p for p in resources(operations, "AWS::SageMaker::Pipeline").values()
                   if p["Properties"]["PipelineName"] == "mlops-dev-ingestion"]  # fmt: skip
    body = json.loads(render(pipeline["Properties"]["PipelineDefinition"]["PipelineDefinitionBody"]))
    (step,) = body["Steps"]
    arguments = step["Arguments"]
    assert arguments["NetworkConfig"]["VpcConfig"] == {
        "Subnets": INGESTION_SECTION["network"]["subnet_ids"],
        "SecurityGroupIds": INGESTION_SECTION["network"]["security_group_ids"],
    }
    # the step's arguments are a CreateProcessingJob request: NetworkConfig must have that API's shape
    shape = botocore.session.get_session().get_service_model("sagemaker").operation_model("CreateProcessingJob")
    network = shape.input_shape.members["NetworkConfig"]
    assert set(arguments["NetworkConfig"]) <= set(network.members)
    assert set(arguments["NetworkConfig"]["VpcConfig"]) == set(network.members["VpcConfig"].members)
    container = arguments["AppSpecification"]["ContainerArguments"]
    assert container[container.index("--settings-parameter") + 1] == "/mlops/dev/ingestion/settings"
    assert container[container.index("--raw-bucket") + 1] == "mlops-dev-raw-<AWS::AccountId>-<AWS::Region>"
    dependencies = {i["InputName"]: i["S3Input"]["S3Uri"] for i in arguments["ProcessingInputs"]}["dependencies"]
    assert dependencies.endswith(f"/{DEPENDENCIES_PREFIX}/{dependencies_hash()}/")
    assert "placeholder" not in json.dumps(body)


def test_the_schedule_starts_the_pipeline(operations: dict[str, Any]) -> None:
    (schedule,) = [s["Properties"] for s in resources(operations, "AWS::Scheduler::Schedule").values()
                   if s["Properties"]["Name"] == "mlops-dev-ingestion"]  # fmt: skip
    assert schedule["ScheduleExpression"] == INGESTION_SECTION["schedule"]
    assert render(schedule["Target"]["Arn"]).endswith(":pipeline/mlops-dev-ingestion")


def test_the_settings_parameter_is_what_the_job_parses_and_holds_no_credentials(operations: dict[str, Any]) -> None:
    (parameter,) = [p["Properties"] for p in resources(operations, "AWS::SSM::Parameter").values()
                    if p["Properties"]["Name"] == "/mlops/dev/ingestion/settings"]  # fmt: skip
    settings = parse_settings(parameter["Value"])
    assert settings.credentials.secret_arn == INGESTION_SECTION["connection"]["secret_arn"]
    assert settings.source_columns["Y"] == "income"
    assert settings.host == INGESTION_SECTION["connection"]["host"]
    assert "password" not in parameter["Value"]


def test_the_state_table_is_encrypted_and_recoverable(operations: dict[str, Any]) -> None:
    (table,) = [t["Properties"] for t in resources(operations, "AWS::DynamoDB::Table").values()
                if t["Properties"]["TableName"] == "mlops-dev-ingestion-state"]  # fmt: skip
    assert table["KeySchema"] == [{"AttributeName": "source", "KeyType": "HASH"}]
    assert table["SSESpecification"]["SSEEnabled"] is True
    assert table["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True


def test_the_driver_is_installed_for_the_processing_image() -> None:
    folder = installed_dependencies()
    assert (folder / "requirements.txt").read_text().split() == ["psycopg==3.3.9", "psycopg-binary==3.3.9"]
    assert list(folder.glob("psycopg_binary/*.cpython-312-x86_64-linux-gnu.so"))  # the image's Python, not ours


def test_the_role_may_do_what_the_job_does(role: list[Any]) -> None:
    needs = [
        ("ssm:GetParameter", f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/mlops/dev/ingestion/settings", {}),
        ("secretsmanager:GetSecretValue", INGESTION_SECTION["connection"]["secret_arn"], {}),
        ("kms:Decrypt", INGESTION_SECTION["connection"]["secret_kms_key_arn"],
         {"kms:ViaService": f"secretsmanager.{REGION}.amazonaws.com"}),
        ("dynamodb:UpdateItem", TABLE, {"dynamodb:LeadingKeys": "adult-db"}),
        ("dynamodb:GetItem", TABLE, {"dynamodb:LeadingKeys": "adult-db"}),
        ("s3:PutObject", f"{RAW}/adult/postgres/adult-db/batch-00000000.csv", {}),
        ("s3:AbortMultipartUpload", f"{RAW}/adult/postgres/adult-db/batch-00000000.csv", {}),
        ("s3:PutObject", f"{RAW}/ingest-manifests/adult-db/batch-00000000.json", {}),
        ("s3:GetObject", f"{RAW}/ingest-manifests/adult-db/batch-00000000.json", {}),
        ("ec2:CreateNetworkInterface", f"arn:aws:ec2:{REGION}:{ACCOUNT}:subnet/subnet-0123456789abcdef0", {}),
    ]  # fmt: skip
    assert [(a, r) for a, r, c in needs if not evaluate(role, a, r, context=c).allowed] == []


def test_the_role_may_not_touch_other_data_or_sources(role: list[Any]) -> None:
    refused = [
        ("s3:PutObject", f"{RAW}/adult/adult.data.gz", {}),  # files landed by hand stay as they arrived
        ("s3:PutObject", f"{RAW}/adult/postgres/another-source/batch-00000000.csv", {}),
        ("s3:DeleteObject", f"{RAW}/adult/postgres/adult-db/batch-00000000.csv", {}),
        ("s3:PutObject", f"{RAW}/feedback/2026/01/01/x.csv", {}),
        ("dynamodb:UpdateItem", TABLE, {"dynamodb:LeadingKeys": "another-source"}),
        ("dynamodb:DeleteItem", TABLE, {"dynamodb:LeadingKeys": "adult-db"}),
        ("secretsmanager:GetSecretValue", f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:other-AbCdEf", {}),
        ("kms:Decrypt", INGESTION_SECTION["connection"]["secret_kms_key_arn"], {"kms:ViaService": "s3.amazonaws.com"}),
    ]
    assert [(a, r) for a, r, c in refused if evaluate(role, a, r, context=c).allowed] == []


def test_cfn_lint_finds_nothing_in_the_ingestion_templates(ingestion_synthesis: Synthesis) -> None:
    templates = sorted(ingestion_synthesis.outdir.glob("assembly-dev/*Operations*.template.json"))
    assert templates
    ignored = yaml.safe_load((ROOT / ".cfnlintrc.yaml").read_text())["ignore_checks"]
    matches = lint_by_config(ManualArgs(templates=[str(t) for t in templates], ignore_checks=ignored))
    assert [f"{m.rule.id} {m.filename}:{m.linenumber} {m.message}" for m in matches] == []


def test_every_ingestion_acknowledgment_has_a_reason(ingestion_synthesis: Synthesis) -> None:
    suppressed = [s for r in ingestion_synthesis.validation_report["pluginReports"] for s in r["suppressedViolations"]]
    ours = [s for s in suppressed if "/Ingestion/" in json.dumps(s["violatingConstructs"])]
    assert ours  # the role's run-time object keys, at least
    assert all(len(s["reason"]) >= 25 for s in ours)


def test_rds_iam_authentication_grants_connect_as_the_one_user_and_no_secret(tmp_path: Any) -> None:
    """The unit alone in a bare stack (no cdk-nag, no other stack): the IAM variant of the credentials, and a VPC's
    subnets given as tokens by the app rather than by the config."""
    iam_auth = section(
        connection__secret_arn=..., connection__secret_kms_key_arn=..., network=...,
        connection__iam_username="ingest", connection__iam_db_resource_id="cluster-ABCDEFGHIJ0123",
    )  # fmt: skip
    # CloudFormation's built-in validation off, as app.create_app has it: its WASM engine costs the first synth of
    # a process ~5 s of CPU, and cfn-lint checks the real templates
    app = cdk.App(outdir=str(tmp_path), builtin_cloud_formation_validation=False)
    stack = cdk.Stack(app, "Bare", env=cdk.Environment(account=ACCOUNT, region=REGION))
    key = kms.Key(stack, "Key")
    names = ResourceNames("mlops", "dev", ACCOUNT, REGION)
    zones = {z: cdk.aws_s3.Bucket.from_bucket_name(stack, z, names.zone_bucket(z)) for z in ("raw", "artifacts")}
    subnet = cdk.Fn.import_value("network-private-subnet")  # a token, as a VPC built elsewhere would hand over
    definition = PipelineDefinition.load(
        definition_path("dev", "ingestion"), code_dir=CODE_DIR, code_hash="0" * 16, staging_dir=STAGING_DIR
    )
    PostgresIngestion(
        stack,
        "Ingestion",
        names=names,
        settings=IngestionSettings.model_validate(iam_auth, strict=False),
        definition=definition,
        zones=zones,
        key=key,
        removal_policy=cdk.RemovalPolicy.DESTROY,
        log_retention=cdk.aws_logs.RetentionDays.ONE_DAY,
        vpc_subnet_ids=[subnet],
        vpc_security_group_ids=["sg-0fedcba9876543210"],
    )
    template = Template.from_stack(stack).to_json()
    statements = [s for p in resources(template, "AWS::IAM::Policy").values()
                  for s in p["Properties"]["PolicyDocument"]["Statement"]]  # fmt: skip
    connect = [s for s in statements if s.get("Sid") == "ConnectAsDatabaseUser"]
    assert [render(s["Resource"]) for s in connect] == [
        f"arn:<AWS::Partition>:rds-db:{REGION}:{ACCOUNT}:dbuser:cluster-ABCDEFGHIJ0123/ingest"
    ]
    assert not [s for s in statements if "secretsmanager" in json.dumps(s["Action"])]
    (pipeline,) = resources(template, "AWS::SageMaker::Pipeline").values()
    body = json.dumps(pipeline["Properties"]["PipelineDefinition"])
    assert "network-private-subnet" in body  # the imported subnet reached the step's VpcConfig
