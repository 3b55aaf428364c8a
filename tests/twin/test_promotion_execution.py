"""The synthesized promotion state machine, executed on moto (twin.promotion): what each situation really does.

Each test starts a moto server, builds the environment's state machine from the session's synthesis in the
environment's own account (moto keeps the three accounts apart), registers packages as the training pipeline does
(artifacts under pipeline-runs/<run>/) in the group the environment promotes from (dev: its own; staging: dev's,
in dev's account; prod: staging's validated records) and asserts on moto's resources: the endpoint and its config,
the SSM parameter, the copies under monitoring/current/, the packages' status and lineage.
Not proven here: IAM and resource policies, Step Functions' own JSONata engine, AWS error names (the machine
catches States.ALL only), EventBridge's delivery across accounts (the test starts the execution with the event).
"""

from __future__ import annotations

import hashlib
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
# the content of a model.tar.gz decides what the endpoint (and a batch transform) answers for a raw row, as the
# model's handlers answer (pipeline_code.serve: JSON or CSV as asked, the decision at the package's threshold)
GOOD, BAD = "model-good", "model-bad"  # a constant probability; garbage
STRONG = "model-strong"  # knows the label (the raw row's last field, which the gate's transform sends): AUC 1
BAD_LIVE = "model-bad-live"  # scores the gate's batch of 20 rows, answers the smoke test's 5 with garbage
# what the training pipeline registers (pipeline_definition.builders.registration): how the container serves it
SERVING = {
    "SAGEMAKER_PROGRAM": "inference.py",
    "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code",
    "MLOPS_DECISION_THRESHOLD": "0.5",
}
ACCOUNTS = {"dev": "111111111111", "staging": "222222222222", "prod": "333333333333"}  # config/environments.yaml
SOURCES = {"dev": "dev", "staging": "dev", "prod": "staging"}  # whose group each environment promotes from
SERVICES = (
    "stepfunctions", "sagemaker", "sagemaker-runtime", "s3", "iam", "sns", "lambda", "kms", "sts", "ssm", "dynamodb",
    "application-autoscaling", "cloudwatch",
)  # fmt: skip


def _bucket(environment: str) -> str:
    return f"mlops-{environment}-artifacts-{ACCOUNTS[environment]}-{REGION}"


class World:
    """One environment's promotion, and the registry it promotes from (its own, or its source's account)."""

    def __init__(self, promo: LocalPromotion, environment: str, clients: dict[str, dict[str, Any]]) -> None:
        self.promo = promo
        self.env = environment
        self.sm = promo.clients["sagemaker"]
        self.s3 = promo.clients["s3"]
        self.sfn = promo.clients["stepfunctions"]
        self.bucket = _bucket(environment)
        self.source = SOURCES[environment]
        self.imports = self.source != environment
        source = clients[ACCOUNTS[self.source]]
        self.source_sm, self.source_s3 = source["sagemaker"], source["s3"]
        self.source_bucket = _bucket(self.source)
        for s3, bucket in ((self.source_s3, self.source_bucket), (self.s3, self.bucket)):
            if bucket not in [b["Name"] for b in s3.list_buckets()["Buckets"]]:
                s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
        self.group = f"mlops-{self.source}-models"
        self.own_group = f"mlops-{environment}-models"
        for sm, group in ((self.source_sm, self.group), (self.sm, self.own_group)):
            if not sm.list_model_package_groups(NameContains=group)["ModelPackageGroupSummaryList"]:
                sm.create_model_package_group(ModelPackageGroupName=group)
        self.runs = 0

    def register(self, model: str = GOOD, *, baseline: bool = True) -> str:
        """An Approved package as the training pipeline registers it (or, for prod, as staging records what it
        validated), with its run's artifacts in the source's bucket."""
        self.runs += 1
        run = f"pipeline-runs/exec-{self.runs}"
        rows = "".join(f"{i % 2},{i},{i * 2},3\n" for i in range(20))
        # the same rows as raw records (Preprocess's raw_test: the label word last), what the gate and smoke test send
        raw = "".join(f"{30 + i},Private,{i * 2},HS-grad,{('<=50K', '>50K')[i % 2]}\n" for i in range(20))
        s3, bucket = self.source_s3, self.source_bucket
        s3.put_object(Bucket=bucket, Key=f"{run}/Preprocess/test/test.csv", Body=rows)
        s3.put_object(Bucket=bucket, Key=f"{run}/Preprocess/raw_test/test.csv", Body=raw)
        s3.put_object(Bucket=bucket, Key=f"{run}/Preprocess/baseline.json", Body=f'{{"run": {self.runs}}}')
        s3.put_object(Bucket=bucket, Key=f"{run}/TrainModel/output/model.tar.gz", Body=model)
        s3.put_object(Bucket=bucket, Key=f"{run}/EvaluateModel/evaluation/evaluation.json", Body="{}")
        uri = f"s3://{bucket}/{run}"
        metadata = {"pipeline_execution_arn": f"arn:aws:sagemaker:{REGION}:{ACCOUNTS['dev']}:pipeline/run-{self.runs}"}
        if self.source == "staging":  # what staging's record carries (import_package, publish)
            metadata = {
                "training_run": metadata["pipeline_execution_arn"],
                "artifact_sha256": hashlib.sha256(model.encode()).hexdigest(),
                "validated_by": (
                    f"arn:aws:states:{REGION}:{ACCOUNTS['staging']}:execution:mlops-staging-promotion:v{self.runs}"
                ),
            }
        extra: dict[str, Any] = {}
        if baseline:
            extra["DriftCheckBaselines"] = {
                "ModelDataQuality": {
                    "Statistics": {"ContentType": "application/json", "S3Uri": f"{uri}/Preprocess/baseline.json"}
                }
            }
        return str(
            self.source_sm.create_model_package(
                ModelPackageGroupName=self.group,
                CustomerMetadataProperties=metadata,
                InferenceSpecification={
                    "Containers": [
                        {
                            "Image": "1.dkr.ecr.eu-west-1.amazonaws.com/xgb:3",
                            "ModelDataUrl": f"{uri}/TrainModel/output/model.tar.gz",
                            "Environment": SERVING,
                        }
                    ],
                    "SupportedContentTypes": ["text/csv", "application/json"],
                    "SupportedResponseMIMETypes": ["application/json", "text/csv"],
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
        """The package live here, as the source registered it (an imported package's record names it)."""
        ssm = self.promo.clients["ssm"]
        name = self.promo.definition["States"]["RecordCurrentPackage"]["Arguments"]["Name"]
        live = str(ssm.get_parameter(Name=name)["Parameter"]["Value"])
        if not self.imports:
            return live
        assert live.split(":")[4] == ACCOUNTS[self.env]  # the record, in this account's group
        return str(
            self.sm.describe_model_package(ModelPackageName=live)["CustomerMetadataProperties"]["source_package"]
        )

    def record(self, package: str) -> dict[str, Any]:
        """This environment's record of an imported package (the newest one naming it)."""
        summaries = self.sm.list_model_packages(ModelPackageGroupName=self.own_group)["ModelPackageSummaryList"]
        described = [self.sm.describe_model_package(ModelPackageName=s["ModelPackageArn"]) for s in summaries]
        mine = [d for d in described if d.get("CustomerMetadataProperties", {}).get("source_package") == package]
        assert mine, f"no record of {package} in {self.own_group}"
        return dict(max(mine, key=lambda d: d["ModelPackageVersion"]))

    def status(self, package: str) -> dict[str, Any]:
        """The package's approval here: its own (dev), or this environment's record of it (the source's registry
        is read-only across accounts)."""
        if self.imports:
            return self.record(package)
        return dict(self.sm.describe_model_package(ModelPackageName=package))


def _answer(call: moto_patches.ModelCall) -> moto_patches.ModelAnswer:
    """What the endpoint answers: a probability and decision per raw row for a good model, garbage for a bad one;
    a model whose container environment does not run the handlers fails every request (model_fn never ran)."""
    if call.environment != SERVING:  # CreateModel (and an import's RegisterImported) must pass the package's on
        return moto_patches.ModelAnswer(f"not served in script mode: {call.environment}", "text/plain", 500)
    rows = [line for line in call.body.split("\n") if line]
    content = _CONTENT[call.model_data_url]
    if content == BAD or (content == BAD_LIVE and len(rows) < 20):
        return moto_patches.ModelAnswer("not a number", call.accept)
    if content == STRONG:
        probabilities = [0.9 if row.rsplit(",", 1)[1] == ">50K" else 0.1 for row in rows]
    else:
        probabilities = [0.25 for _ in rows]
    threshold = float(call.environment["MLOPS_DECISION_THRESHOLD"])
    if call.accept == "application/json":
        predictions = [{"probability": p, "decision": int(p >= threshold)} for p in probabilities]
        return moto_patches.ModelAnswer(json.dumps({"predictions": predictions, "threshold": threshold}), call.accept)
    return moto_patches.ModelAnswer("\n".join(f"{p},{int(p >= threshold)}" for p in probabilities), call.accept)


_CONTENT: dict[str, str] = {}


@pytest.fixture(scope="module")
def moto_clients() -> Iterator[dict[str, dict[str, Any]]]:
    """One moto server and its clients for the module, per account: each test starts from a reset (clients cost
    ~50 ms each)."""
    with moto_server() as url:
        by_account = {}
        for account in ACCOUNTS.values():
            clients = {
                service: boto3.client(
                    service, region_name=REGION, endpoint_url=url, aws_access_key_id="t", aws_secret_access_key="t"
                )
                for service in SERVICES
            }
            moto_patches.account_clients(clients, account)
            by_account[account] = clients
        yield by_account


def _fresh(synthesis: Synthesis, moto_clients: dict[str, dict[str, Any]]) -> None:
    moto_patches.reset_twin_state()
    any_client = moto_clients[ACCOUNTS["dev"]]["s3"]
    requests.post(f"{any_client.meta.endpoint_url}/moto-api/reset", timeout=10).raise_for_status()
    # Every request of an aws-sdk task is checked against botocore's service model, patterns and limits included
    # (the twin's default); this empties the problems found so far.
    moto_patches.validate_requests()

    def answer(call: moto_patches.ModelCall) -> moto_patches.ModelAnswer:
        bucket, key = call.model_data_url.removeprefix("s3://").split("/", 1)
        _CONTENT[call.model_data_url] = any_client.get_object(Bucket=bucket, Key=key)["Body"].read().decode()
        return _answer(call)

    moto_patches.set_model_behaviour(answer)


def _world(synthesis: Synthesis, moto_clients: dict[str, dict[str, Any]], environment: str) -> World:
    clients = moto_clients[ACCOUNTS[environment]]
    promo = LocalPromotion.from_cloud_assembly(synthesis.outdir, environment, clients=clients)
    return World(promo, environment, moto_clients)


@pytest.fixture
def world(
    synthesis: Synthesis, moto_clients: dict[str, dict[str, Any]], request: pytest.FixtureRequest
) -> Iterator[World]:
    _fresh(synthesis, moto_clients)
    w = _world(synthesis, moto_clients, request.param)
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
    bad = world.register(BAD_LIVE)
    result = world.promote(bad)
    assert result["status"] == "FAILED"
    assert "RevertEndpoint" in result["states"]
    assert world.endpoint()["EndpointConfigName"] == live_config
    reason = world.status(bad)["ApprovalDescription"]
    assert world.status(bad)["ModelApprovalStatus"] == "Rejected"
    assert "the endpoint answered something other than predictions: 'not a number'" in reason
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
def test_the_execution_history_reads_as_motos_own_serializer_writes_it(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The twin writes GetExecutionHistory itself (twin.moto_patches: moto's serializer costs 60-90 ms a history).
    botocore reads the same events from it as from moto's serializer: a failed update's history (task failures,
    catches, a Fail state) with every detail and timestamp."""
    from moto.stepfunctions.responses import StepFunctionResponse

    world.promote(world.register())
    failed = world.promo.start(world.register(BAD_LIVE))
    world.promo.wait(failed, timeout=30)
    written = world.promo.history(failed)
    monkeypatch.setattr(StepFunctionResponse, "get_execution_history", moto_patches.moto_execution_history[0])
    assert world.promo.history(failed) == written
    kinds = {e["type"] for e in written}
    assert {"ExecutionStarted", "TaskStateEntered", "TaskSucceeded", "TaskFailed", "ExecutionFailed"} <= kinds
    assert all(e["timestamp"].tzinfo is not None for e in written)


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
    bad = world.register(BAD_LIVE)
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
    # nothing of the endpoint is created before the decision (the gate's candidate model is)
    assert world.sm.list_endpoint_configs()["EndpointConfigs"] == []
    assert world.sm.list_endpoints()["Endpoints"] == []
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
    # FindChampion sees the first Updating (the config being updated still serves: the champion), then two waits
    moto_patches.set_endpoint_status(world.promo.endpoint_name, "Updating", "Updating", "Updating", "InService")
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


# ------------------------------------------------------------------ build once, promote everywhere; gates


def test_one_model_goes_dev_to_staging_to_prod_as_the_same_bytes_with_its_lineage(
    synthesis: Synthesis, moto_clients: dict[str, dict[str, Any]]
) -> None:
    """Three accounts: dev's Approved package is imported, gated, soaked and recorded as validated by staging;
    prod deploys staging's record after one approval, its digest checked, its lineage naming the dev run, the
    staging validation and the approver. No environment writes to another's registry."""
    _fresh(synthesis, moto_clients)
    dev, staging, prod = (_world(synthesis, moto_clients, env) for env in ("dev", "staging", "prod"))
    package = dev.register(STRONG)
    assert dev.promote(package)["status"] == "SUCCEEDED"

    staged = staging.promote(package)  # the event dev's forwarding rule puts on staging's bus
    assert staged["status"] == "SUCCEEDED", staged.get("cause")
    assert "Soak" in staged["states"]
    assert "CheckDigest" in staged["states"]
    record = staging.record(package)
    assert record["ModelApprovalStatus"] == "Approved"  # validated: what prod's rule starts on
    lineage = record["CustomerMetadataProperties"]
    digest = hashlib.sha256(STRONG.encode()).hexdigest()
    assert lineage["artifact_sha256"] == digest
    assert lineage["training_run"] == f"arn:aws:sagemaker:{REGION}:{ACCOUNTS['dev']}:pipeline/run-1"
    assert lineage["validated_by"].startswith(f"arn:aws:states:{REGION}:{ACCOUNTS['staging']}:execution:")
    assert lineage["gate_champion"] == "none"
    assert lineage["gate_candidate_auc"] == "1.0000"
    staged_model = record["InferenceSpecification"]["Containers"][0]["ModelDataUrl"]
    assert staged_model.startswith(f"s3://{staging.bucket}/pipeline-runs/imported/dev-v1/")
    assert dev.status(package)["ModelApprovalStatus"] == "Approved"  # dev's registry untouched

    execution = prod.promo.start(record["ModelPackageArn"])
    token = prod.promo.task_token(execution)
    prod.sfn.send_task_success(taskToken=token, output=json.dumps({"approved": True, "approver": "alice@example.com"}))
    done = prod.promo.wait(execution)
    assert done["status"] == "SUCCEEDED", done.get("cause")
    released = prod.record(record["ModelPackageArn"])["CustomerMetadataProperties"]
    assert released["artifact_sha256"] == digest  # the same bytes, compared with staging's digest
    assert released["training_run"] == lineage["training_run"]
    assert released["source_validation"] == lineage["validated_by"]
    assert released["approver"] == "alice@example.com"
    assert prod.current("model.tar.gz") == STRONG
    assert prod.live_package() == record["ModelPackageArn"]


def test_prod_refuses_bytes_other_than_those_staging_validated(
    synthesis: Synthesis, moto_clients: dict[str, dict[str, Any]]
) -> None:
    _fresh(synthesis, moto_clients)
    prod = _world(synthesis, moto_clients, "prod")
    package = prod.register(GOOD)  # staging's record: artifact_sha256 of GOOD
    model = prod.source_sm.describe_model_package(ModelPackageName=package)
    bucket, key = model["InferenceSpecification"]["Containers"][0]["ModelDataUrl"][5:].split("/", 1)
    prod.source_s3.put_object(Bucket=bucket, Key=key, Body="model-overwritten-after-validation")
    result = prod.promote(package, approve=False)
    assert result["status"] == "FAILED"
    assert "not the bytes it validated" in result["cause"]
    assert "WaitForApproval" not in result["states"]  # refused before anyone is asked
    assert prod.sm.list_endpoints()["Endpoints"] == []


@DEV
def test_the_first_model_has_no_champion_and_passes(world: World) -> None:
    result = world.promote(world.register(STRONG))
    assert result["status"] == "SUCCEEDED", result.get("cause")
    assert "NoChampion" in result["states"]
    transforms = world.sm.list_transform_jobs()["TransformJobSummaries"]
    assert [t["TransformJobName"].rsplit("-", 1)[1] for t in transforms] == ["candidate"]


@DEV
def test_a_challenger_worse_than_the_live_model_is_rejected_with_the_figures(world: World) -> None:
    champion = world.register(STRONG)
    assert world.promote(champion)["status"] == "SUCCEEDED"
    live_config = world.endpoint()["EndpointConfigName"]
    challenger = world.register(GOOD)  # a constant score: AUC 0.5 on the same rows
    result = world.promote(challenger)
    assert result["status"] == "FAILED"
    reason = world.status(challenger)["ApprovalDescription"]
    assert world.status(challenger)["ModelApprovalStatus"] == "Rejected"
    assert "champion/challenger" in reason
    assert "AUC 0.5000 is more than 0.01 below the live model's 1.0000" in reason
    assert "same 20 held-out rows" in reason
    assert "CreateEndpointConfig" not in result["states"]  # refused before the endpoint changed
    assert world.endpoint()["EndpointConfigName"] == live_config
    assert world.live_package() == champion
    # both models scored the challenger's test split: one transform job each
    roles = sorted(
        t["TransformJobName"].rsplit("-", 1)[1] for t in world.sm.list_transform_jobs()["TransformJobSummaries"]
    )
    assert roles == ["candidate", "candidate", "champion"]


@DEV
def test_a_model_answering_garbage_is_stopped_by_the_gate_before_it_is_deployed(world: World) -> None:
    result = world.promote(world.register(BAD))
    assert result["status"] == "FAILED"
    # its transform job fails, as SageMaker fails one whose answers do not line up with the records
    assert "candidate (mlops-dev-v1-" in result["cause"]
    assert "ended Failed: the model answered 1 line(s) for 20 record(s)" in result["cause"]
    assert world.sm.list_endpoints()["Endpoints"] == []


@STAGING
def test_a_canary_is_rolled_back_by_its_alarm(world: World) -> None:
    """A blue/green canary update whose 5xx alarm fires while it shifts: SageMaker rolls it back (the twin as
    SageMaker), the promotion sees the old config live and rejects the package with the alarm as reason."""
    first = world.register(STRONG)
    assert world.promote(first)["status"] == "SUCCEEDED"
    live_config = world.endpoint()["EndpointConfigName"]
    update = world.promo.definition["States"]["UpdateEndpoint"]["Arguments"]["DeploymentConfig"]
    assert update["BlueGreenUpdatePolicy"]["TrafficRoutingConfiguration"]["Type"] == "CANARY"
    (alarm, *_) = [a["AlarmName"] for a in update["AutoRollbackConfiguration"]["Alarms"]]
    cloudwatch = world.promo.clients["cloudwatch"]
    cloudwatch.put_metric_alarm(
        AlarmName=alarm, MetricName="Invocation5XXErrors", Namespace="AWS/SageMaker", Statistic="Sum", Period=60,
        EvaluationPeriods=2, Threshold=1.0, ComparisonOperator="GreaterThanThreshold",
    )  # fmt: skip
    moto_patches.script_next_change(world.promo.endpoint_name, EndpointScript(("Updating", "Updating", "InService")))
    cloudwatch.set_alarm_state(AlarmName=alarm, StateValue="ALARM", StateReason="5xx on the canary")
    candidate = world.register(STRONG)
    result = world.promote(candidate)
    assert result["status"] == "FAILED"
    assert f"CloudWatch alarm {alarm} went to ALARM" in result["cause"]
    assert world.endpoint()["EndpointConfigName"] == live_config
    assert world.status(candidate)["ModelApprovalStatus"] == "Rejected"  # staging's record of it
    assert world.live_package() == first
