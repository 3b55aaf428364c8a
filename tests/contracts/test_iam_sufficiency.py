"""Each principal's synthesized policies grant the calls it really makes, and no more than the narrowing allows.

The calls come from the artifacts themselves: the Create*/Describe*/Stop* calls, iam:PassRole, AddTags and S3
reads and writes of every job the committed definitions start (see `pipeline_requests`), the `aws-sdk` tasks of
the promotion state machine's ASL, the publishers of the alert topic. Identity and resource policies (topic and
key policies) are evaluated by `iam_policy`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from config import PlatformConfig
from naming import EnvironmentNames
from pipeline_code.feedback import feedback_key
from pipeline_definition.contract import PLACEHOLDERS, definition_path, pipelines_of
from tests.contracts.iam_policy import Resolver, Statement, evaluate, resource_policies, role_policy, statements
from tests.contracts.pipeline_requests import Run, StepRequest, deployed_names, run_requests
from tests.contracts.runs import EXECUTION_ID as EXECUTION
from tests.contracts.runs import data_snapshot, starter_parameters
from tests.release_synthesis import TOOLING, TOOLING_REGION, ReleaseSynthesis
from tests.synthesis import Synthesis, SynthesizedStack

ENVIRONMENTS = ("dev", "staging", "prod")
SAGEMAKER = {"iam:PassedToService": "sagemaker.amazonaws.com"}


class Stage:
    """The stacks of one environment, resolved with its account and region."""

    def __init__(self, synthesis: Synthesis, config: PlatformConfig, env: str) -> None:
        environment = config.environment(env)
        self.env, self.project = env, config.project_name
        self.account, self.region = environment.account or "111111111111", environment.region
        self.environment = environment
        self.stacks = [s for s in synthesis.stacks if s.stage == env]
        self.resolver = Resolver(self.stacks, self.account, self.region)

    def stack(self, stack_id: str) -> SynthesizedStack:
        return next(s for s in self.stacks if s.stack_id == stack_id)

    def role(self, stack_id: str, logical_prefix: str) -> tuple[str, list[Statement]]:
        stack = self.stack(stack_id)
        logical = next(
            k
            for k, v in stack.template["Resources"].items()
            if v["Type"] == "AWS::IAM::Role" and k.startswith(logical_prefix)
        )
        arn = self.resolver.resolve({"Fn::GetAtt": [logical, "Arn"]}, stack)
        return arn, role_policy(self.resolver, stack, logical)

    def arn(self, service: str, resource: str) -> str:
        return f"arn:aws:{service}:{self.region}:{self.account}:{resource}"

    def bucket(self, zone: str) -> str:
        return f"{self.project}-{self.env}-{zone}-{self.account}-{self.region}"

    def key_arn(self) -> str:
        data = self.stack("DataLake")
        logical = next(k for k, v in data.template["Resources"].items() if v["Type"] == "AWS::KMS::Key")
        return self.resolver.resolve({"Fn::GetAtt": [logical, "Arn"]}, data)

    def requests(self, pipeline: str, role_arn: str, property_files: dict[str, Any]) -> list[StepRequest]:
        # What CDK deploys in place of each placeholder, with this stage's own role and key.
        deployed = deployed_names(self.project, self.env, self.account, self.region) | {
            PLACEHOLDERS.role_arn: role_arn,
            PLACEHOLDERS.kms_key_arn: self.key_arn(),
        }
        files = {**property_files, "ResolvedModel": {"model_name": f"{self.project}-{self.env}-models-v12"}}
        # A run as the starters start it: on a data snapshot (a start without one runs no job).
        parameters = starter_parameters(self.project, self.env, self.account, self.region)["new-data"]
        run = Run(
            self.account,
            self.region,
            EnvironmentNames(self.project, self.env).pipeline(pipeline),
            EXECUTION,
            deployed,
            parameters if pipeline == "training" else {},
            files,
        )
        return run_requests(json.loads(definition_path(self.env, pipeline).read_text()), run)


_JOB_RESOURCE = {
    "CreateProcessingJob": ("processing-job", "ProcessingJobName", "ProcessingJob"),
    "CreateTrainingJob": ("training-job", "TrainingJobName", "TrainingJob"),
    "CreateHyperParameterTuningJob": ("hyper-parameter-tuning-job", "HyperParameterTuningJobName", None),
    "CreateTransformJob": ("transform-job", "TransformJobName", "TransformJob"),
}


def _s3_objects(node: Any) -> Iterator[str]:
    """Every s3:// URI in a request, as the ARN of the object it names or of an object under it."""
    if isinstance(node, dict):
        for value in node.values():
            yield from _s3_objects(value)
    elif isinstance(node, list):
        for value in node:
            yield from _s3_objects(value)
    elif isinstance(node, str) and node.startswith("s3://"):
        path = node.removeprefix("s3://")
        # A named file (a manifest, model.tar.gz) is itself the object; a prefix holds objects.
        is_file = not path.endswith("/") and "." in path.rsplit("/", 1)[-1]
        yield f"arn:aws:s3:::{path}" if is_file else f"arn:aws:s3:::{path.rstrip('/')}/part-0001"


def _outputs(request: StepRequest) -> list[str]:
    p = request.params
    found = [o["S3Output"]["S3Uri"] for o in p.get("ProcessingOutputConfig", {}).get("Outputs", [])]
    definition = p.get("TrainingJobDefinition", p)
    if "OutputDataConfig" in definition:
        found.append(definition["OutputDataConfig"]["S3OutputPath"])
    if "CheckpointConfig" in definition:
        found.append(definition["CheckpointConfig"]["S3Uri"])
    if "TransformOutput" in p:
        found.append(p["TransformOutput"]["S3OutputPath"])
    return [next(_s3_objects(uri)) for uri in found]


def _manifest_objects(stage: Stage, params: dict[str, Any]) -> list[str]:
    snapshot = data_snapshot(stage.project, stage.env, stage.account, stage.region)
    manifests = [
        i["S3Input"]["S3Uri"]
        for i in params.get("ProcessingInputs", [])
        if i.get("S3Input", {}).get("S3DataType") == "ManifestFile"
    ]
    assert set(manifests) <= {snapshot.uri}, manifests
    return [snapshot.source + key for key in snapshot.keys] if manifests else []


def _needs(stage: Stage, requests: list[StepRequest]) -> list[tuple[str, str, dict[str, str]]]:
    """(action, resource, condition context) of every call Pipelines and the jobs make as the pipeline role."""
    needs: list[tuple[str, str, dict[str, str]]] = []
    for request in requests:
        p = request.params
        if request.operation in _JOB_RESOURCE:
            kind, member, noun = _JOB_RESOURCE[request.operation]
            arn = stage.arn("sagemaker", f"{kind}/{p[member].lower()}")
            noun = noun or "HyperParameterTuningJob"
            for verb in ("Create", "Describe", "Stop"):
                needs.append((f"sagemaker:{verb}{noun}", arn, {}))
            needs.append(("sagemaker:AddTags", arn, {}))
            role = p.get("RoleArn") or p.get("TrainingJobDefinition", {}).get("RoleArn")
            if role:
                needs.append(("iam:PassRole", role, SAGEMAKER))
            written = _outputs(request)
            for obj in written:
                needs += [("s3:PutObject", obj, {}), ("kms:GenerateDataKey", stage.key_arn(), {})]
            read = set(_s3_objects(p)) - set(written)
            # A ManifestFile input: SageMaker reads the manifest, then every object it lists, as the job's role.
            read |= {f"arn:aws:s3:::{obj.removeprefix('s3://')}" for obj in _manifest_objects(stage, p)}
            for obj in sorted(read):
                needs += [("s3:GetObject", obj, {}), ("kms:Decrypt", stage.key_arn(), {})]
        elif request.operation == "CreateModelPackage":
            group = p["ModelPackageGroupName"]
            needs.append(("sagemaker:CreateModelPackage", stage.arn("sagemaker", f"model-package-group/{group}"), {}))
            # Pipelines describes the package it registered to record the step's properties.
            needs.append(("sagemaker:DescribeModelPackage", stage.arn("sagemaker", f"model-package/{group}/7"), {}))
    return needs


def _feedback_writes(stage: Stage, requests: list[StepRequest]) -> list[tuple[str, str, dict[str, str]]]:
    """GatherMonitoringInputs puts the window's labelled rows under its --feedback-uri (pipeline_code.feedback)."""
    (gather,) = [r for r in requests if r.step == "GatherMonitoringInputs"]
    arguments = gather.params["AppSpecification"]["ContainerArguments"]
    uri = arguments[arguments.index("--feedback-uri") + 1]
    key = feedback_key(uri.removeprefix("s3://"), datetime(2026, 12, 2, 9, tzinfo=UTC))
    assert key.startswith(f"{stage.bucket('raw')}/feedback/"), key
    return [("s3:PutObject", f"arn:aws:s3:::{key}", {}), ("kms:GenerateDataKey", stage.key_arn(), {})]


def _missing(policy: list[Statement], needs: list[tuple[str, str, dict[str, str]]]) -> list[str]:
    return sorted(
        {
            f"{action} on {resource}"
            for action, resource, context in needs
            if not evaluate(policy, action, resource, context=context).allowed
        }
    )


@pytest.fixture(scope="module", params=ENVIRONMENTS)
def stage(request: pytest.FixtureRequest, synthesis: Synthesis, platform_config: PlatformConfig) -> Stage:
    return Stage(synthesis, platform_config, request.param)


def test_training_pipeline_role_grants_every_call_of_its_steps(stage: Stage, property_files: dict[str, Any]) -> None:
    role_arn, policy = stage.role("MlPipeline", "TrainingPipelineExecutionRole")
    requests = stage.requests("training", role_arn, property_files)
    assert {r.step for r in requests} >= {"ValidateData", "Preprocess", "RegisterModel"}
    needs = _needs(stage, requests)
    assert any("feedback/" in resource for _, resource, _ in needs), "the snapshot's feedback file is read"
    if stage.environment.experiment_tracking.enabled:
        # MLflow's client uploads run artifacts (models, plots) straight to the server's artifact store.
        artifact = f"arn:aws:s3:::{stage.bucket('artifacts')}/mlflow/3/0f1e2d3c/artifacts/model/model.ubj"
        needs += [("s3:PutObject", artifact, {}), ("s3:GetObject", artifact, {})]
    group = stage.arn("sagemaker", f"feature-group/{stage.project}-{stage.env}-adult")
    needs.append(("sagemaker:PutRecord", group, {}))
    if stage.environment.feature_store.online_store:  # IngestFeatures --skip-existing looks the ids up first
        needs.append(("sagemaker:BatchGetRecord", group, {}))
    assert _missing(policy, needs) == []


def test_operations_pipeline_role_grants_every_call_of_its_steps(stage: Stage, property_files: dict[str, Any]) -> None:
    role_arn, policy = stage.role("Operations", "OperationsPipelinesExecutionRole")
    needs = []
    for pipeline in pipelines_of(stage.environment):
        if pipeline != "training":
            needs += _needs(stage, stage.requests(pipeline, role_arn, property_files))
        if pipeline == "monitoring":
            needs += _feedback_writes(stage, stage.requests(pipeline, role_arn, property_files))
    model = stage.arn("sagemaker", f"model/{stage.project}-{stage.env}-models-v12")
    needs += [("sagemaker:CreateModel", model, {}), ("iam:PassRole", role_arn, SAGEMAKER)]
    assert _missing(policy, needs) == []
    # Monitoring adds labelled rows to the raw zone's feedback/ only: the training data stays as it arrived.
    training_data = f"arn:aws:s3:::{stage.bucket('raw')}/adult/adult.data.gz"
    for action in ("s3:PutObject", "s3:DeleteObject"):
        assert not evaluate(policy, action, training_data).allowed, action


# What a registered package points at, written by an earlier run (pipeline-runs/<execution>/<step>/...).
REGISTERED = (
    "pipeline-runs/0aa1bb2cc3dd/EvaluateModel/evaluation/evaluation.json",
    "pipeline-runs/0aa1bb2cc3dd/Preprocess/baseline/baseline.json",
    "pipeline-runs/models/pipelines-0aa1bb2cc3dd-TrainModel-a1B2c3D4e5/output/model.tar.gz",
)


def test_no_job_role_can_delete_registered_artifacts_and_operations_cannot_overwrite_them(stage: Stage) -> None:
    _, training = stage.role("MlPipeline", "TrainingPipelineExecutionRole")
    _, operations = stage.role("Operations", "OperationsPipelinesExecutionRole")
    for key in REGISTERED:
        obj = f"arn:aws:s3:::{stage.bucket('artifacts')}/{key}"
        for policy in (training, operations):
            assert evaluate(policy, "s3:GetObject", obj).allowed, obj
            assert not evaluate(policy, "s3:DeleteObject", obj).allowed, obj
            assert not evaluate(policy, "s3:DeleteObjectVersion", obj).allowed, obj
        assert not evaluate(operations, "s3:PutObject", obj).allowed, obj


def test_the_training_role_reads_data_snapshots_but_cannot_change_them(stage: Stage) -> None:
    _, policy = stage.role("MlPipeline", "TrainingPipelineExecutionRole")
    manifest = data_snapshot(stage.project, stage.env, stage.account, stage.region).uri
    obj = f"arn:aws:s3:::{manifest.removeprefix('s3://')}"
    assert evaluate(policy, "s3:GetObject", obj).allowed
    for action in ("s3:PutObject", "s3:DeleteObject"):  # a snapshot is the immutable record of a run's input
        assert not evaluate(policy, action, obj).allowed, action


def test_tuning_jobs_are_granted_under_the_names_pipelines_gives_them(stage: Stage) -> None:
    _, policy = stage.role("MlPipeline", "TrainingPipelineExecutionRole")
    name = f"{EXECUTION}-TuneModel-a1b2c3d4e5"
    arn = stage.arn("sagemaker", f"hyper-parameter-tuning-job/{name.lower()}")
    for action in ("Create", "Describe", "Stop"):
        assert evaluate(policy, f"sagemaker:{action}HyperParameterTuningJob", arn).allowed


def test_offline_store_role_may_set_object_acls_as_feature_store_does(stage: Stage) -> None:
    _, policy = stage.role("DataLake", "FeatureStoreOfflineStoreRole")
    obj = f"arn:aws:s3:::{stage.bucket('features')}/offline-store/{stage.account}/sagemaker/x/data/part.parquet"
    for action in ("s3:PutObject", "s3:PutObjectAcl", "s3:GetObject"):
        assert evaluate(policy, action, obj).allowed, action
    assert evaluate(policy, "kms:GenerateDataKey", stage.key_arn()).allowed


def test_cloudwatch_alarms_can_publish_to_the_alert_topic(stage: Stage) -> None:
    operations = stage.stack("Operations")
    topic_logical = next(k for k, v in operations.template["Resources"].items() if v["Type"] == "AWS::SNS::Topic")
    topic = stage.resolver.resolve({"Ref": topic_logical}, operations)
    policy = resource_policies(stage.resolver, [operations], "AWS::SNS::TopicPolicy", "PolicyDocument")
    alarm = stage.arn("cloudwatch", f"alarm:{stage.project}-{stage.env}-drift-violations")
    context = {"aws:SecureTransport": "true", "aws:SourceAccount": stage.account, "aws:SourceArn": alarm}
    verdict = evaluate(policy, "sns:Publish", topic, principal="cloudwatch.amazonaws.com", context=context)
    assert verdict.allowed, verdict
    elsewhere = {**context, "aws:SourceAccount": "999999999999"}
    assert not evaluate(policy, "sns:Publish", topic, principal="cloudwatch.amazonaws.com", context=elsewhere).allowed
    # The topic is encrypted with the lake key: CloudWatch needs the key policy too.
    key_policy = resource_policies(stage.resolver, [stage.stack("DataLake")], "AWS::KMS::Key", "KeyPolicy")
    for action in ("kms:GenerateDataKey", "kms:Decrypt"):
        assert evaluate(
            key_policy, action, stage.key_arn(), principal="cloudwatch.amazonaws.com", context=context
        ).allowed, action


# SDK operations whose IAM actions have other names (Service Authorization Reference).
_IAM_ACTIONS = {
    "s3:CopyObject": ("s3:GetObject", "s3:PutObject"),
    "s3:HeadObject": ("s3:GetObject",),
    "s3:ListObjectsV2": ("s3:ListBucket",),
}


# Step Functions names some services otherwise than IAM's action prefixes.
_IAM_PREFIXES = {"applicationautoscaling": "application-autoscaling"}


def _sdk_tasks(asl: dict[str, Any]) -> Iterator[str]:
    for state in asl["States"].values():
        resource = state.get("Resource", "")
        if found := re.fullmatch(r"arn:aws:states:::aws-sdk:(\w[\w-]*):(\w+)(\.\w+)?", resource):
            service = _IAM_PREFIXES.get(found[1], found[1])
            operation = f"{service}:{found[2][0].upper()}{found[2][1:]}"
            yield from _IAM_ACTIONS.get(operation, (operation,))
        for branch in state.get("Branches", []) + ([state["ItemProcessor"]] if "ItemProcessor" in state else []):
            yield from _sdk_tasks(branch)


def test_promotion_state_machine_role_grants_every_sdk_task(stage: Stage) -> None:
    operations = stage.stack("Operations")
    machine = next(
        v for v in operations.template["Resources"].values() if v["Type"] == "AWS::StepFunctions::StateMachine"
    )
    asl = json.loads(stage.resolver.resolve(machine["Properties"]["DefinitionString"], operations))
    _, policy = stage.role("Operations", "ModelPromotionStateMachineRole")
    actions = sorted(set(_sdk_tasks(asl)))
    assert actions, "no aws-sdk task found in the promotion ASL"
    granted = {s_action for s in policy if s.effect == "Allow" for s_action in s.actions}
    # Resources are decided at run time (names with a random suffix): the action must be granted somewhere.
    missing = [a for a in actions if not any(re.fullmatch(g.replace("*", ".*"), a, re.I) for g in granted)]
    assert missing == []


@pytest.mark.parametrize("function", ["RetrainingTriggersRetrainOnDriftRole", "RetrainingTriggersRetrainOnNewDataRole"])
def test_retraining_lambda_roles_grant_their_boto3_calls(stage: Stage, function: str) -> None:
    _, policy = stage.role("Operations", function)
    pipeline = stage.arn("sagemaker", f"pipeline/{stage.project}-{stage.env}-training")
    for action in ("sagemaker:StartPipelineExecution", "sagemaker:ListPipelineExecutions"):
        assert evaluate(policy, action, pipeline).allowed, action


def test_the_evaluator_honours_deny_wildcards_not_action_and_unknown_conditions() -> None:
    policy = statements(
        {
            "Statement": [
                {"Effect": "Allow", "Action": "s3:Get*", "Resource": "arn:aws:s3:::b/*"},
                {"Effect": "Deny", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/secret/*"},
                {
                    "Effect": "Allow",
                    "NotAction": "iam:*",
                    "Resource": "arn:aws:sqs:*",
                    "Condition": {"IpAddress": {"aws:SourceIp": "1.2.3.4"}},
                },
            ]
        },
        "test",
    )
    assert evaluate(policy, "s3:GetObject", "arn:aws:s3:::b/x").allowed
    assert not evaluate(policy, "s3:GetObject", "arn:aws:s3:::b/secret/x").allowed
    assert not evaluate(policy, "s3:PutObject", "arn:aws:s3:::b/x").allowed
    verdict = evaluate(policy, "sqs:SendMessage", "arn:aws:sqs:eu-west-1:1:q", context={"aws:SourceIp": "1.2.3.4"})
    assert not verdict.allowed
    assert verdict.unevaluated == ("test: IpAddress aws:SourceIp (no value given)",)


# ------------------------------------------------------------------------------ the release's code-change trigger


class CodeChangeTrigger:
    """The dev stage's StartTrainingOnCodeChange step of the release pipeline: its CodeBuild role (tooling account),
    the role it assumes in dev (RELEASE_ROLE_ARN) and the settings it runs `release/code_change_trigger.py` with."""

    def __init__(self, release: ReleaseSynthesis) -> None:
        (action,) = [a for a in release.stage("dev") if a["Name"] == "StartTrainingOnCodeChange"]
        project = release.project(action)
        self.env = {e["Name"]: e["Value"] for e in project["Environment"]["EnvironmentVariables"]}
        pipeline = SynthesizedStack("", "mlops-release", "mlops-release", release.template, {})
        tooling = Resolver([pipeline], TOOLING, TOOLING_REGION)
        self.codebuild = role_policy(tooling, pipeline, project["ServiceRole"]["Fn::GetAtt"][0])
        environment = release.config.environment("dev")
        self.account, self.region = environment.account or "", environment.region
        stacks = [s for s in release.stages.stacks if s.stage == "mlops-release/dev"]
        self.resolver = Resolver(stacks, self.account, self.region)
        role_name = self.env["RELEASE_ROLE_ARN"].rsplit("/", 1)[1]
        ((self.access, self.role_logical),) = [
            (s, logical)
            for s in stacks
            for logical, r in s.template["Resources"].items()
            if r["Type"] == "AWS::IAM::Role" and r["Properties"].get("RoleName") == role_name
        ]
        self.policy = role_policy(self.resolver, self.access, self.role_logical)
        data_lake = next(s for s in stacks if s.stack_id == "dev/DataLake")
        key = next(k for k, v in data_lake.template["Resources"].items() if v["Type"] == "AWS::KMS::Key")
        self.key_arn = self.resolver.resolve({"Fn::GetAtt": [key, "Arn"]}, data_lake)
        self.key_policy = resource_policies(self.resolver, [data_lake], "AWS::KMS::Key", "KeyPolicy")
        self.bucket_policies = resource_policies(self.resolver, [data_lake], "AWS::S3::BucketPolicy", "PolicyDocument")

    def arn(self, service: str, resource: str) -> str:
        return f"arn:aws:{service}:{self.region}:{self.account}:{resource}"

    def calls(self) -> list[tuple[str, str, dict[str, str]]]:
        """(action, resource, condition context) of every AWS call the script makes as the assumed role: the
        hash parameter (release.aws.ParameterStore), the pipeline (TrainingPipelines), the data snapshot
        (lambdas.shared.adapters.DataSnapshots: ListObjectsV2 per prefix, PutObject of the manifest, which the
        artifacts zone's default SSE-KMS encrypts with the lake key, a bucket key: the context is the bucket)."""
        parameter = self.arn("ssm", f"parameter/{self.env['CODE_HASH_PARAMETER'].lstrip('/')}")
        pipeline = self.arn("sagemaker", f"pipeline/{self.env['TRAINING_PIPELINE_NAME']}")
        artifacts, _, folder = self.env["SNAPSHOTS_URI"].removeprefix("s3://").partition("/")
        manifest = f"arn:aws:s3:::{artifacts}/{folder}{'0' * 64}.manifest"
        via_s3 = {
            "kms:ViaService": f"s3.{self.region}.amazonaws.com",
            "kms:EncryptionContext:aws:s3:arn": f"arn:aws:s3:::{artifacts}",
        }
        raw = f"arn:aws:s3:::{self.env['RAW_BUCKET_NAME']}"
        return [
            ("ssm:GetParameter", parameter, {}),
            ("ssm:PutParameter", parameter, {}),
            ("sagemaker:DescribePipeline", pipeline, {}),
            ("sagemaker:StartPipelineExecution", pipeline, {}),
            *[("s3:ListBucket", raw, {"s3:prefix": p}) for p in self.env["SNAPSHOT_PREFIXES"].split(",")],
            ("s3:PutObject", manifest, {}),
            ("kms:GenerateDataKey", self.key_arn, via_s3),
        ]


@pytest.fixture(scope="module")
def code_change_trigger(release: ReleaseSynthesis) -> CodeChangeTrigger:
    return CodeChangeTrigger(release)


def test_the_code_change_trigger_may_assume_its_role_in_dev(code_change_trigger: CodeChangeTrigger) -> None:
    trigger = code_change_trigger
    assert evaluate(trigger.codebuild, "sts:AssumeRole", trigger.env["RELEASE_ROLE_ARN"]).allowed
    trust = statements(
        trigger.resolver.resolve(
            trigger.access.template["Resources"][trigger.role_logical]["Properties"]["AssumeRolePolicyDocument"],
            trigger.access,
        ),
        "trust",
    )
    codebuild_role = f"arn:aws:iam::{TOOLING}:role/mlops-release-StartTrainingOnCodeChangeRole"
    assert evaluate(trust, "sts:AssumeRole", trigger.env["RELEASE_ROLE_ARN"], principal=codebuild_role).allowed


def test_the_code_change_trigger_role_grants_every_call_of_the_script(code_change_trigger: CodeChangeTrigger) -> None:
    trigger = code_change_trigger
    assert set(trigger.env["SNAPSHOT_PREFIXES"].split(",")) == {"adult/", "feedback/"}
    assert _missing(trigger.policy, trigger.calls()) == []
    # The lake key's policy lets the account's IAM policies decide (the role is in dev's account), and no bucket
    # policy of the zones denies a call over TLS.
    role_arn = trigger.env["RELEASE_ROLE_ARN"]
    assert evaluate(trigger.key_policy, "kms:GenerateDataKey", trigger.key_arn, principal=role_arn).allowed
    tls = {"aws:SecureTransport": "true"}
    for action, resource, context in trigger.calls():
        if action.startswith("s3:"):
            verdict = evaluate(
                trigger.bucket_policies, action, resource, principal=role_arn, context={**context, **tls}
            )
            assert verdict.denied_by == (), (action, resource, verdict)


def test_the_code_change_trigger_role_deletes_nothing(code_change_trigger: CodeChangeTrigger) -> None:
    trigger = code_change_trigger
    for action, resource, context in trigger.calls():
        service = action.split(":")[0]
        deletes = {
            "s3": ("s3:DeleteObject", "s3:DeleteObjectVersion", "s3:DeleteBucket", "s3:PutLifecycleConfiguration"),
            "ssm": ("ssm:DeleteParameter", "ssm:DeleteParameters"),
            "sagemaker": ("sagemaker:DeletePipeline", "sagemaker:UpdatePipeline"),
            "kms": ("kms:ScheduleKeyDeletion", "kms:DisableKey"),
        }[service]
        for delete in deletes:
            assert not evaluate(trigger.policy, delete, resource, context=context).allowed, (delete, resource)
    training_data = f"arn:aws:s3:::{trigger.env['RAW_BUCKET_NAME']}/adult/adult.data.gz"
    for action in ("s3:PutObject", "s3:DeleteObject", "s3:GetObject"):
        assert not evaluate(trigger.policy, action, training_data).allowed, action


# ------------------------------------------------------------------ promotion across accounts (promotion.source)


@pytest.mark.parametrize(("consumer", "source"), [("staging", "dev"), ("prod", "staging")])
def test_a_promotion_reads_its_sources_package_artifacts_and_key_and_the_source_grants_exactly_that(
    synthesis: Synthesis, platform_config: PlatformConfig, consumer: str, source: str
) -> None:
    """Both sides of every cross-account read an import makes: the consumer's identity policies (state machine,
    checks Lambda) and the source's registry policy, bucket policy and key policy; reads only, the key via S3."""
    to, of = Stage(synthesis, platform_config, consumer), Stage(synthesis, platform_config, source)
    assert platform_config.environment(consumer).promotion.source == source
    machine_arn, machine = to.role("Operations", "ModelPromotionStateMachineRole")
    checks_arn, checks = to.role("Operations", "ModelPromotionChecksRole")
    package = of.arn("sagemaker", f"model-package/{of.project}-{source}-models/3")
    run_object = f"arn:aws:s3:::{of.bucket('artifacts')}/pipeline-runs/exec-1/TrainModel/output/model.tar.gz"
    key = of.key_arn()
    via_s3 = {"kms:ViaService": f"s3.{of.region}.amazonaws.com"}
    tls = {"aws:SecureTransport": "true"}

    assert evaluate(machine, "sagemaker:DescribeModelPackage", package).allowed
    for policy in (machine, checks):
        assert evaluate(policy, "s3:GetObject", run_object).allowed
        assert evaluate(policy, "kms:Decrypt", key, context=via_s3).allowed
        assert not evaluate(
            policy, "kms:Decrypt", key, context={"kms:ViaService": "sns.eu-west-1.amazonaws.com"}
        ).allowed
        assert not evaluate(policy, "s3:PutObject", run_object).allowed

    data_lake = of.stack("DataLake")
    registry = resource_policies(
        of.resolver, [data_lake], "AWS::SageMaker::ModelPackageGroup", "ModelPackageGroupPolicy"
    )
    bucket = resource_policies(of.resolver, [data_lake], "AWS::S3::BucketPolicy", "PolicyDocument")
    key_policy = resource_policies(of.resolver, [data_lake], "AWS::KMS::Key", "KeyPolicy")
    for principal in (machine_arn, checks_arn):
        assert evaluate(registry, "sagemaker:DescribeModelPackage", package, principal=principal).allowed
        assert not evaluate(registry, "sagemaker:UpdateModelPackage", package, principal=principal).allowed
        assert evaluate(bucket, "s3:GetObject", run_object, principal=principal, context=tls).allowed
        assert not evaluate(bucket, "s3:PutObject", run_object, principal=principal, context=tls).allowed
        assert evaluate(key_policy, "kms:Decrypt", key, principal=principal, context=via_s3).allowed
        assert not evaluate(key_policy, "kms:Decrypt", key, principal=principal).allowed  # only through S3
    # another environment's account gets nothing: dev grants staging, not prod
    if source == "dev":
        prod_role = f"arn:aws:iam::{platform_config.environment('prod').account}:role/any"
        assert not evaluate(registry, "sagemaker:DescribeModelPackage", package, principal=prod_role).allowed
        assert not evaluate(bucket, "s3:GetObject", run_object, principal=prod_role, context=tls).allowed


def test_a_source_forwards_its_approvals_to_its_consumers_bus_which_accepts_only_its_account(
    synthesis: Synthesis, platform_config: PlatformConfig
) -> None:
    dev, staging = Stage(synthesis, platform_config, "dev"), Stage(synthesis, platform_config, "staging")
    rules = [r for r in dev.stack("Operations").template["Resources"].values() if r["Type"] == "AWS::Events::Rule"]
    (forward,) = [
        r for r in rules if "ForwardTo" in json.dumps(r) or "mlops-staging" in r["Properties"].get("Description", "")
    ]
    target = dev.resolver.resolve(forward["Properties"]["Targets"][0]["Arn"], dev.stack("Operations"))
    assert target == staging.arn("events", "event-bus/default")
    assert forward["Properties"]["EventPattern"]["detail"]["ModelApprovalStatus"] == ["Approved"]
    (bus_policy,) = [
        r
        for r in staging.stack("Operations").template["Resources"].values()
        if r["Type"] == "AWS::Events::EventBusPolicy"
    ]
    statement = staging.resolver.resolve(bus_policy["Properties"]["Statement"], staging.stack("Operations"))
    accepted = statements({"Statement": [statement]}, "bus")
    assert evaluate(accepted, "events:PutEvents", target, principal=f"arn:aws:iam::{dev.account}:role/x").allowed
    assert not evaluate(accepted, "events:PutEvents", target, principal="arn:aws:iam::444444444444:role/x").allowed
