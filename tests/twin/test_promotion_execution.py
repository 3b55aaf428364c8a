"""The synthesized promotion state machine, executed on moto (twin.promotion): what each situation really does.

Each test starts a moto server, builds the environment's state machine from the session's synthesis, registers
packages as the training pipeline does (artifacts under pipeline-runs/<run>/) and asserts on moto's resources:
the endpoint and its config, the SSM parameter, the copies under monitoring/current/, the package's status.
Not proven here: IAM, Step Functions' own JSONata engine, AWS error names (the machine catches States.ALL only).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
import requests

from tests.moto_server import moto_server
from tests.synthesis import Synthesis
from twin import moto_patches
from twin.moto_patches import EndpointScript
from twin.promotion import LocalPromotion

REGION = "eu-west-1"
GOOD, BAD = "model-good", "model-bad"  # the content of a model.tar.gz decides what the endpoint answers
SERVICES = (
    "stepfunctions", "sagemaker", "sagemaker-runtime", "s3", "iam", "sns", "lambda", "kms", "sts", "ssm", "dynamodb",
    "application-autoscaling",
)  # fmt: skip


class World:
    def __init__(self, promo: LocalPromotion, environment: str) -> None:
        self.promo = promo
        self.env = environment
        self.sm = promo.clients["sagemaker"]
        self.s3 = promo.clients["s3"]
        self.sfn = promo.clients["stepfunctions"]
        self.bucket = next(b for b in promo.buckets if "-artifacts-" in b)
        self.group = f"mlops-{environment}-models"
        self.sm.create_model_package_group(ModelPackageGroupName=self.group)
        self.runs = 0

    def register(self, model: str = GOOD, *, baseline: bool = True) -> str:
        """An Approved package as the training pipeline registers it, with its run's artifacts in S3."""
        self.runs += 1
        run = f"pipeline-runs/exec-{self.runs}"
        rows = "".join(f"{i % 2},{i},{i * 2},3\n" for i in range(20))
        self.s3.put_object(Bucket=self.bucket, Key=f"{run}/Preprocess/test/test.csv", Body=rows)
        self.s3.put_object(Bucket=self.bucket, Key=f"{run}/Preprocess/baseline.json", Body=f'{{"run": {self.runs}}}')
        self.s3.put_object(Bucket=self.bucket, Key=f"{run}/TrainModel/output/model.tar.gz", Body=model)
        uri = f"s3://{self.bucket}/{run}"
        extra: dict[str, Any] = {}
        if baseline:
            extra["DriftCheckBaselines"] = {
                "ModelDataQuality": {
                    "Statistics": {"ContentType": "application/json", "S3Uri": f"{uri}/Preprocess/baseline.json"}
                }
            }
        return str(
            self.sm.create_model_package(
                ModelPackageGroupName=self.group,
                InferenceSpecification={
                    "Containers": [
                        {
                            "Image": "1.dkr.ecr.eu-west-1.amazonaws.com/xgb:3",
                            "ModelDataUrl": f"{uri}/TrainModel/output/model.tar.gz",
                        }
                    ],
                    "SupportedContentTypes": ["text/csv"],
                    "SupportedResponseMIMETypes": ["text/csv"],
                },
                ModelMetrics={
                    "ModelQuality": {
                        "Statistics": {
                            "ContentType": "application/json",
                            "S3Uri": f"{uri}/EvaluateModel/evaluation/evaluation.json",
                        }
                    }
                },
                ModelApprovalStatus="Approved",
                **extra,
            )["ModelPackageArn"]
        )

    def promote(self, package: str, *, approve: bool | None = None) -> dict[str, Any]:
        execution = self.promo.start(package)
        if approve is None:
            approve = self.env == "prod"
        if approve:
            token = self.promo.task_token(execution)
            self.sfn.send_task_success(taskToken=token, output=json.dumps({"approved": True}))
        result = self.promo.wait(execution, timeout=30)
        result["states"] = self.promo.states_entered(execution)
        return result

    def endpoint(self) -> dict[str, Any]:
        """The endpoint once no change is in flight (a rollback's update may still be running)."""
        for _ in range(10):
            described = dict(self.sm.describe_endpoint(EndpointName=self.promo.endpoint_name))
            if described["EndpointStatus"] not in ("Creating", "Updating", "Deleting"):
                break
        return described

    def current(self, name: str) -> str:
        key = f"monitoring/current/{name}"
        return str(self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read().decode())

    def live_package(self) -> str:
        ssm = self.promo.clients["ssm"]
        name = self.promo.definition["States"]["RecordCurrentPackage"]["Arguments"]["Name"]
        return str(ssm.get_parameter(Name=name)["Parameter"]["Value"])

    def status(self, package: str) -> dict[str, Any]:
        return dict(self.sm.describe_model_package(ModelPackageName=package))


def _answer(model_data_url: str, body: str) -> str:
    """What the endpoint answers: a probability per row for a good model, garbage for a bad one."""
    model = model_data_url  # the twin passes the ModelDataUrl; the test's bucket holds its content
    rows = [line for line in body.split("\n") if line]
    return "\n".join("0.25" for _ in rows) if _CONTENT[model] == GOOD else "not a number"


_CONTENT: dict[str, str] = {}


@pytest.fixture(scope="module")
def moto_clients() -> Iterator[dict[str, Any]]:
    """One moto server and its clients for the module: each test starts from a reset (clients cost ~50 ms each)."""
    with moto_server() as url:
        yield {
            service: boto3.client(
                service, region_name=REGION, endpoint_url=url, aws_access_key_id="t", aws_secret_access_key="t"
            )
            for service in SERVICES
        }


@pytest.fixture
def world(synthesis: Synthesis, moto_clients: dict[str, Any], request: pytest.FixtureRequest) -> Iterator[World]:
    environment = request.param
    moto_patches.reset_twin_state()
    requests.post(f"{moto_clients['s3'].meta.endpoint_url}/moto-api/reset", timeout=10).raise_for_status()
    # Every request of an aws-sdk task is checked against botocore's service model, patterns and limits included
    # (the twin's default); this empties the problems found so far.
    moto_patches.validate_requests()
    promo = LocalPromotion.from_cloud_assembly(synthesis.outdir, environment, clients=moto_clients)
    w = World(promo, environment)

    def answer(model_data_url: str, body: str) -> str:
        bucket, key = model_data_url.removeprefix("s3://").split("/", 1)
        _CONTENT[model_data_url] = w.s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode()
        return _answer(model_data_url, body)

    moto_patches.set_model_behaviour(answer)
    yield w
    problems = list(moto_patches.request_problems)
    moto_patches.validate_requests()
    moto_patches.reset_twin_state()
    assert problems == [], "requests AWS would refuse"


ALL = pytest.mark.parametrize("world", ["dev", "staging", "prod"], indirect=True)
DEV = pytest.mark.parametrize("world", ["dev"], indirect=True)
STAGING = pytest.mark.parametrize("world", ["staging"], indirect=True)
PROD = pytest.mark.parametrize("world", ["prod"], indirect=True)


@ALL
def test_first_promotion_creates_the_endpoint_and_publishes_the_package(world: World) -> None:
    package = world.register()
    result = world.promote(package)
    assert result["status"] == "SUCCEEDED", result.get("cause")
    endpoint = world.endpoint()
    assert endpoint["EndpointStatus"] == "InService"
    assert endpoint["EndpointConfigName"].startswith(f"mlops-{world.env}-v1-")
    assert world.live_package() == package
    assert world.current("baseline.json") == '{"run": 1}'
    assert world.current("model.tar.gz") == GOOD
    assert world.status(package)["ModelApprovalStatus"] == "Approved"
    assert ("WaitForApproval" in result["states"]) == (world.env == "prod")


@STAGING
def test_a_second_promotion_updates_the_endpoint(world: World) -> None:
    first = world.promote(world.register())
    first_config = world.endpoint()["EndpointConfigName"]
    second_package = world.register()
    second = world.promote(second_package)
    assert (first["status"], second["status"]) == ("SUCCEEDED", "SUCCEEDED")
    assert "UpdateEndpoint" in second["states"]
    assert "CreateEndpoint" not in second["states"]
    config = world.endpoint()["EndpointConfigName"]
    assert config != first_config
    assert config.startswith("mlops-staging-v2-")
    assert world.live_package() == second_package
    assert world.current("baseline.json") == '{"run": 2}'


@STAGING
def test_a_failed_smoke_test_rolls_the_endpoint_back_and_rejects_the_package(world: World) -> None:
    good = world.register()
    world.promote(good)
    live_config = world.endpoint()["EndpointConfigName"]
    bad = world.register(BAD)
    result = world.promote(bad)
    assert result["status"] == "FAILED"
    assert "RevertEndpoint" in result["states"]
    assert world.endpoint()["EndpointConfigName"] == live_config
    reason = world.status(bad)["ApprovalDescription"]
    assert world.status(bad)["ModelApprovalStatus"] == "Rejected"
    assert "sent 5 rows, the endpoint answered 1 values" in reason
    assert reason in result["cause"]
    assert world.live_package() == good
    assert world.current("model.tar.gz") == GOOD
    # e: the rejected package's config and model are gone at once: they never count among keep_endpoint_configs
    assert [c["EndpointConfigName"] for c in world.sm.list_endpoint_configs()["EndpointConfigs"]] == [live_config]
    assert [m["ModelName"] for m in world.sm.list_models()["Models"]] == [live_config]
    # d: scaling is registered again only once the revert is InService (AAS refuses an Updating endpoint)
    assert "autoscaling" not in reason
    scaling = world.promo.clients["application-autoscaling"]
    targets = scaling.describe_scalable_targets(ServiceNamespace="sagemaker")["ScalableTargets"]
    assert [t["ResourceId"] for t in targets] == [f"endpoint/{world.promo.endpoint_name}/variant/AllTraffic"]
    assert result["states"].index("CheckRevert") < result["states"].index("RestoreScalableTarget")


@STAGING
def test_a_failure_after_the_baseline_copies_restores_the_live_packages_files(world: World) -> None:
    """b: RecordCurrentPackage fails after monitoring/current/ got the new package's files: they go back."""
    good = world.register()
    assert world.promote(good)["status"] == "SUCCEEDED"
    late = world.register()
    moto_patches.fail_next_request("ssm", "PutParameter", "parameter store unavailable")
    result = world.promote(late)
    assert result["status"] == "FAILED"
    assert "parameter store unavailable" in result["cause"]
    assert world.live_package() == good
    assert world.current("baseline.json") == '{"run": 1}'  # not run 2's
    assert "RestoreBaseline" in result["states"]
    assert "not restored" not in result["cause"]


@DEV
def test_one_state_change_sent_twice_promotes_once(world: World) -> None:
    """g: SageMaker may deliver one state change more than once (other event ids): one promotion."""
    package = world.register()
    first, second = (world.promo.start(package, event_id=event) for event in ("event-a", "event-b"))
    results = [world.promo.wait(first), world.promo.wait(second)]
    assert [r["status"] for r in results] == ["SUCCEEDED", "SUCCEEDED"]
    ends = sorted(world.promo.states_entered(e)[-1] for e in (first, second))
    assert ends == ["DuplicateApproval", "Promoted"]
    assert len(world.sm.list_models()["Models"]) == 1
    assert world.live_package() == package


@DEV
def test_a_failed_first_deploy_deletes_the_endpoint(world: World) -> None:
    bad = world.register(BAD)
    result = world.promote(bad)
    assert result["status"] == "FAILED"
    assert "DeleteNewEndpoint" in result["states"]
    with pytest.raises(world.sm.exceptions.ClientError, match="Could not find endpoint"):
        world.endpoint()


@DEV
def test_a_package_without_a_baseline_is_rejected_before_anything_is_deployed(world: World) -> None:
    package = world.register(baseline=False)
    result = world.promote(package)
    assert result["status"] == "FAILED"
    assert result["states"][:6] == [
        "Start", "ClaimApproval", "DescribePackage", "BaselinesPublished", "NewModelUnused", "RejectPackage",
    ]  # fmt: skip
    assert world.status(package)["ModelApprovalStatus"] == "Rejected"
    assert world.sm.list_models()["Models"] == []
    assert world.sm.list_endpoints()["Endpoints"] == []


@PROD
def test_prod_deploys_only_after_a_person_approves(world: World) -> None:
    package = world.register()
    execution = world.promo.start(package)
    token = world.promo.task_token(execution)
    assert world.sfn.describe_execution(executionArn=execution)["status"] == "RUNNING"
    assert world.sm.list_models()["Models"] == []  # nothing is created before the decision
    world.sfn.send_task_success(taskToken=token, output=json.dumps({"approved": True}))
    assert world.promo.wait(execution)["status"] == "SUCCEEDED"
    assert world.live_package() == package


@PROD
def test_prod_refusal_rejects_the_package_with_the_persons_cause(world: World) -> None:
    package = world.register()
    execution = world.promo.start(package)
    token = world.promo.task_token(execution)
    world.sfn.send_task_failure(taskToken=token, error="NotApproved", cause="AUC too low for prod")
    result = world.promo.wait(execution)
    assert result["status"] == "FAILED"
    assert world.status(package)["ModelApprovalStatus"] == "Rejected"
    assert world.status(package)["ApprovalDescription"] == "refused by a person: NotApproved: AUC too low for prod"
    assert world.sm.list_endpoints()["Endpoints"] == []


@STAGING
def test_a_busy_endpoint_is_waited_for(world: World) -> None:
    world.promote(world.register())
    moto_patches.set_endpoint_status(world.promo.endpoint_name, "Updating", "Updating", "InService")
    package = world.register()
    result = world.promote(package)
    assert result["status"] == "SUCCEEDED", result.get("cause")
    assert result["states"].count("WaitWhileBusy") == 2
    assert world.live_package() == package


@STAGING
def test_a_failed_update_rolled_back_by_sagemaker_rejects_with_its_reason(world: World) -> None:
    world.promote(world.register())
    live_config = world.endpoint()["EndpointConfigName"]
    moto_patches.script_next_change(
        world.promo.endpoint_name, EndpointScript(("Updating", "Failed"), failure_reason="image pull failed")
    )
    package = world.register()
    result = world.promote(package)
    assert result["status"] == "FAILED"
    assert world.endpoint()["EndpointConfigName"] == live_config
    assert "image pull failed" in world.status(package)["ApprovalDescription"]


# ------------------------------------------------------------------------------------ fixed defects


@DEV
def test_superseded_configs_and_models_are_really_deleted(world: World) -> None:
    """keep_endpoint_configs (3): three earlier promotions' configs (made as promotions name them, oldest first)
    and a fourth promotion: only the three newest configs and their models remain."""
    earlier = [_any_config(world, f"mlops-dev-v{version}-0000000{version}") for version in (1, 2, 3)]
    assert world.promote(world.register())["status"] == "SUCCEEDED"
    configs = sorted(c["EndpointConfigName"] for c in world.sm.list_endpoint_configs()["EndpointConfigs"])
    models = sorted(m["ModelName"] for m in world.sm.list_models()["Models"])
    live = world.endpoint()["EndpointConfigName"]
    assert configs == sorted([*earlier[1:], live])  # the oldest one went, with its model
    assert models == configs


@DEV
def test_a_failed_endpoint_is_replaced_instead_of_blocking_every_promotion(world: World) -> None:
    moto_patches.script_next_change(
        world.promo.endpoint_name, EndpointScript(("Creating", "Failed"), failure_reason="capacity")
    )
    first = world.promote(world.register())
    assert first["status"] == "FAILED"
    # The rollback of a first deploy deletes it; a Failed endpoint left by anything else must not block:
    world.sm.create_endpoint(EndpointName=world.promo.endpoint_name, EndpointConfigName=_any_config(world))
    moto_patches.set_endpoint_status(world.promo.endpoint_name, "Failed", failure_reason="capacity")
    package = world.register()
    result = world.promote(package)
    assert result["status"] == "SUCCEEDED", result.get("cause")
    assert "DeleteFailedEndpoint" in result["states"]
    assert world.endpoint()["EndpointStatus"] == "InService"
    assert world.live_package() == package


def _any_config(world: World, config: str = "") -> str:
    config = config or f"mlops-{world.env}-handmade"
    world.sm.create_model(
        ModelName=config, ExecutionRoleArn="arn:aws:iam::123456789012:role/x", PrimaryContainer={"Image": "i"}
    )
    world.sm.create_endpoint_config(
        EndpointConfigName=config,
        ProductionVariants=[
            {"VariantName": "AllTraffic", "ModelName": config, "InstanceType": "ml.m5.large", "InitialInstanceCount": 1}
        ],
    )
    return config
