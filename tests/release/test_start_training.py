"""The manual start against moto: `python -m release.start_training --env dev` snapshots the data and starts."""

from __future__ import annotations

import json
from typing import Any

import pytest

from config import load_config
from release.aws import Clients
from release.start_training import main
from tests.release.conftest import REGION

CONFIG = load_config()
# dev's account as configured (the script names the buckets with it; moto serves any name), else moto's own
ACCOUNT = CONFIG.environments["dev"].account or "123456789012"
PIPELINE = f"{CONFIG.project_name}-dev-training"
RAW = f"{CONFIG.project_name}-dev-raw-{ACCOUNT}-{REGION}"
ARTIFACTS = f"{CONFIG.project_name}-dev-artifacts-{ACCOUNT}-{REGION}"
PARAMETERS = ("Trigger", "TriggerDetail", "InputManifestUri", "CodeVersion")


@pytest.fixture(scope="module")
def dev(clients: Clients) -> Clients:
    assert CONFIG.environments["dev"].region == REGION
    for bucket in (RAW, ARTIFACTS):
        clients.s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    definition = {"Version": "2020-12-01", "Parameters": [{"Name": p, "Type": "String"} for p in PARAMETERS]}
    clients.sagemaker.create_pipeline(
        PipelineName=PIPELINE, PipelineDefinition=json.dumps(definition), RoleArn=f"arn:aws:iam::{ACCOUNT}:role/sm"
    )
    return clients


@pytest.fixture
def cli(dev: Clients, moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    for obj in dev.s3.list_objects_v2(Bucket=RAW).get("Contents", []):
        dev.s3.delete_object(Bucket=RAW, Key=obj["Key"])
    return lambda *args: main(["--env", "dev", "--endpoint-url", moto_endpoint, *args])


def _executions(clients: Clients) -> list[dict[str, Any]]:
    summaries = clients.sagemaker.list_pipeline_executions(PipelineName=PIPELINE)["PipelineExecutionSummaries"]
    return [
        clients.sagemaker.describe_pipeline_execution(PipelineExecutionArn=s["PipelineExecutionArn"])
        | {
            "Parameters": {
                p["Name"]: p["Value"]
                for p in clients.sagemaker.list_pipeline_parameters_for_execution(
                    PipelineExecutionArn=s["PipelineExecutionArn"]
                )["PipelineParameters"]
            }
        }
        for s in summaries
    ]


def test_a_manual_run_reads_a_snapshot_and_records_why(cli: Any, dev: Clients, capsys) -> None:
    dev.s3.put_object(Bucket=RAW, Key="adult/adult.data", Body=b"age\n39\n")
    dev.s3.put_object(Bucket=RAW, Key="feedback/2026/11/26/20261126T060000Z.csv", Body=b"age\n40\n")
    before = len(_executions(dev))
    assert cli("--reason", "new labelling guideline (v2)") == 0
    executions = _executions(dev)
    assert len(executions) == before + 1
    run = next(e for e in executions if "guideline" in e["Parameters"]["TriggerDetail"])
    manifest_uri = run["Parameters"]["InputManifestUri"]
    assert run["Parameters"]["Trigger"] == "manual"
    assert run["Parameters"]["TriggerDetail"] == "new labelling guideline _v2_"
    assert "new labelling guideline (v2)" in run["PipelineExecutionDescription"]
    assert manifest_uri.startswith(f"s3://{ARTIFACTS}/data-snapshots/")
    key = manifest_uri.removeprefix(f"s3://{ARTIFACTS}/")
    assert json.loads(dev.s3.get_object(Bucket=ARTIFACTS, Key=key)["Body"].read()) == [
        {"prefix": f"s3://{RAW}/"},
        "adult/adult.data",
        "feedback/2026/11/26/20261126T060000Z.csv",
    ]
    assert f"on {manifest_uri} (2 object(s))" in capsys.readouterr().out


def test_a_dry_run_lists_and_starts_nothing(cli: Any, dev: Clients, capsys) -> None:
    dev.s3.put_object(Bucket=RAW, Key="adult/adult.data", Body=b"age\n39\n")
    before = len(_executions(dev))
    written = dev.s3.list_objects_v2(Bucket=ARTIFACTS).get("KeyCount", 0)
    assert cli("--dry-run") == 0
    out = capsys.readouterr().out
    assert f"s3://{RAW}/adult/adult.data" in out
    assert len(_executions(dev)) == before
    assert dev.s3.list_objects_v2(Bucket=ARTIFACTS).get("KeyCount", 0) == written


def test_no_data_is_an_error_naming_the_prefixes(cli: Any, dev: Clients, capsys) -> None:
    before = len(_executions(dev))
    assert cli() == 1
    assert f"under s3://{RAW}/adult/, s3://{RAW}/feedback/" in capsys.readouterr().err
    assert len(_executions(dev)) == before


def test_an_unknown_environment_is_named(cli: Any, capsys) -> None:
    assert main(["--env", "qa"]) == 2
    assert "no environment 'qa'" in capsys.readouterr().err
