"""Feature Store, Model Registry, the training pipeline and its role, per environment."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from config import PlatformConfig
from pipeline_code import schema
from pipeline_definition import contract
from tests.stacks.rendering import as_list, policy_statements
from tests.synthesis import Synthesis

ENVIRONMENTS = ("dev", "staging", "prod")


def _only(template: dict[str, Any], kind: str) -> dict[str, Any]:
    (resource,) = [r for r in template["Resources"].values() if r["Type"] == kind]
    return resource


@pytest.fixture(params=ENVIRONMENTS)
def stage(request: pytest.FixtureRequest, synthesis: Synthesis, platform_config: PlatformConfig):
    name = request.param
    return (
        synthesis.stack(name, "DataLake").template,
        synthesis.stack(name, "MlPipeline").template,
        platform_config.environment(name),
    )


def test_feature_group_matches_the_shared_schema_with_encrypted_stores(stage) -> None:
    data, _, environment = stage
    group = _only(data, "AWS::SageMaker::FeatureGroup")["Properties"]
    assert group["FeatureGroupName"] == f"mlops-{environment.name}-adult"
    assert group["RecordIdentifierFeatureName"] == schema.RECORD_IDENTIFIER_NAME
    assert group["EventTimeFeatureName"] == schema.EVENT_TIME_NAME
    assert group["FeatureDefinitions"] == schema.feature_store_definitions()
    key_arn = {"Fn::GetAtt": ["DataLakeKey6ACD72F9", "Arn"]}
    online = group["OnlineStoreConfig"]
    assert online["EnableOnlineStore"] is environment.feature_store.online_store
    if environment.feature_store.online_store:
        assert online["SecurityConfig"] == {"KmsKeyId": key_arn}
    offline = group["OfflineStoreConfig"]
    assert offline["S3StorageConfig"]["KmsKeyId"] == key_arn
    assert json.dumps(offline["S3StorageConfig"]["S3Uri"]).count("DataLakeFeaturesZone23347C81") == 1
    assert offline["DisableGlueTableCreation"] is False
    assert offline["DataCatalogConfig"]["Database"] == f"mlops_{environment.name}"


def test_model_package_group_is_readable_only_by_the_configured_accounts(stage) -> None:
    data, _, environment = stage
    group = _only(data, "AWS::SageMaker::ModelPackageGroup")["Properties"]
    assert group["ModelPackageGroupName"] == f"mlops-{environment.name}-models"
    readers = environment.model_registry.cross_account_readers
    if not readers:
        assert "ModelPackageGroupPolicy" not in group
        return
    (statement,) = group["ModelPackageGroupPolicy"]["Statement"]
    principals = json.dumps(statement["Principal"])
    assert all(account in principals for account in readers)
    assert sorted(statement["Action"]) == [
        "sagemaker:DescribeModelPackage", "sagemaker:DescribeModelPackageGroup", "sagemaker:ListModelPackages"
    ]  # fmt: skip


def test_promotion_accounts_can_read_model_artifacts_but_nothing_else(stage) -> None:
    data, _, environment = stage
    policy = next(r for k, r in data["Resources"].items() if k.startswith("DataLakeArtifactsZonePolicy"))["Properties"][
        "PolicyDocument"
    ]["Statement"]
    promotion = [s for s in policy if s.get("Sid", "").startswith("PromotionRead")]
    assert len(promotion) == len(environment.model_registry.cross_account_readers)
    for statement in promotion:
        assert statement["Action"] == ["s3:GetObject", "s3:GetObjectVersion"]
        assert json.dumps(statement["Resource"]).endswith('/pipeline-runs/*"]]}')


def test_model_package_state_changes_are_captured(stage) -> None:
    data, _, environment = stage
    rule = _only(data, "AWS::Events::Rule")["Properties"]
    assert rule["EventPattern"] == {
        "source": ["aws.sagemaker"],
        "detail-type": ["SageMaker Model Package State Change"],
        "detail": {"ModelPackageGroupName": [f"mlops-{environment.name}-models"]},
    }
    assert rule["Targets"][0]["Arn"] == {"Fn::GetAtt": ["ModelRegistryStateChangeLog061AF8EA", "Arn"]}


def test_mlflow_tracking_server_only_where_enabled(stage) -> None:
    data, _, environment = stage
    servers = [r for r in data["Resources"].values() if r["Type"] == "AWS::SageMaker::MlflowTrackingServer"]
    assert len(servers) == int(environment.experiment_tracking.enabled)
    if servers:
        props = servers[0]["Properties"]
        assert props["TrackingServerSize"] == environment.experiment_tracking.server_size
        assert json.dumps(props["ArtifactStoreUri"]).endswith('/mlflow"]]}')


def test_pipeline_is_the_generated_definition_with_every_placeholder_replaced(stage) -> None:
    _, pipeline, environment = stage
    props = _only(pipeline, "AWS::SageMaker::Pipeline")["Properties"]
    assert props["PipelineName"] == f"mlops-{environment.name}-training"
    body = props["PipelineDefinition"]["PipelineDefinitionBody"]
    rendered = json.dumps(body)
    for name, placeholder in contract.PLACEHOLDERS.items():
        if name != "mlflow_tracking_server_arn" or environment.experiment_tracking.enabled:
            assert placeholder not in rendered, name
    role = {"Fn::GetAtt": ["TrainingPipelineExecutionRole4CBD9ADB", "Arn"]}
    assert props["RoleArn"] == role
    assert role in body["Fn::Join"][1]  # the jobs run as the pipeline's role
    # The body is the committed definition, byte for byte, except where a placeholder became a CDK token.
    committed = json.dumps(
        json.loads(contract.definition_path(environment.name).read_text()), separators=(",", ":"), sort_keys=True
    )
    chunks = re.split("|".join(re.escape(p) for _, p in contract.PLACEHOLDERS.items()), committed)
    rendered_body = "".join(part if isinstance(part, str) else "\0" for part in body["Fn::Join"][1])
    assert re.fullmatch(".+?".join(re.escape(chunk) for chunk in chunks), rendered_body, flags=re.DOTALL)


def test_the_pipeline_role_has_no_wildcard_action_and_star_only_where_iam_requires_it(stage) -> None:
    _, pipeline, _ = stage
    role_policies = policy_statements(pipeline, "TrainingPipelineExecutionRoleDefaultPolicy", effect="Allow")
    assert role_policies
    for statement in role_policies:
        actions = as_list(statement["Action"])
        assert not any(action == "*" or action.endswith(":*") for action in actions), actions
        if statement["Resource"] == "*":
            # no resource type exists for the token; SageMaker's network interfaces are made at run time (VPC)
            assert actions == ["ecr:GetAuthorizationToken"] or all(a.startswith("ec2:") for a in actions), actions


def test_the_pipeline_role_reaches_only_its_own_prefixes_of_the_artifacts_zone(stage) -> None:
    _, pipeline, environment = stage
    prefixes = set()
    for statement in policy_statements(pipeline):
        for resource in as_list(statement["Resource"]):
            parts = resource.get("Fn::Join", ["", []])[1] if isinstance(resource, dict) else []
            last = parts[-1] if parts else None
            if (
                isinstance(last, str)
                and last.endswith("*")
                and f"mlops-{environment.name}-artifacts-" in json.dumps(parts)
            ):
                prefixes.add(parts[-1].removeprefix("/"))
    # The BucketDeployment handler writes the whole bucket ("*"); the pipeline reads code and the data snapshots
    # its starters write, writes runs (and, where MLflow is on, its client writes run artifacts under mlflow/).
    mlflow = {"mlflow/*"} if environment.experiment_tracking.enabled else set()
    expected = {"*", "pipeline-code/*", "pipeline-staging/*", "data-snapshots/*", "pipeline-runs/*", *mlflow}
    assert prefixes == expected


def test_jobs_may_only_be_the_pipelines_own(stage) -> None:
    _, pipeline, _ = stage
    job_resources = [
        json.dumps(statement["Resource"])
        for statement in policy_statements(pipeline, effect="Allow")
        if any(a.startswith("sagemaker:Create") and a.endswith("Job") for a in as_list(statement["Action"]))
    ]
    assert len(job_resources) == 3
    # Tuning job names (at most 32 characters) cannot carry the pipelines- prefix; only that type is open.
    names = sorted(re.search(r"[a-z-]+-job/[^\"]*", r).group(0) for r in job_resources)  # type: ignore[union-attr]
    assert names == ["hyper-parameter-tuning-job/*", "processing-job/pipelines-*", "training-job/pipelines-*"]


def test_code_and_staged_drivers_are_deployed_where_the_definition_looks(stage) -> None:
    _, pipeline, _ = stage
    deployments = [
        r["Properties"] for r in pipeline["Resources"].values() if r["Type"] == "Custom::CDKBucketDeployment"
    ]
    prefixes = sorted(d["DestinationBucketKeyPrefix"] for d in deployments)
    from pipeline_definition import fingerprint

    assert prefixes == [
        f"{contract.CODE_PREFIX}/{fingerprint.code_hash()}/pipeline_code/",
        f"{contract.STAGING_PREFIX}/",
    ]
    assert all(d["Prune"] is False for d in deployments)  # runs in flight keep their code
