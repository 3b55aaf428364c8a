"""The local runner executes the committed definitions on a moto twin with the real Adult data (a sample of it).

One twin and one first training run are shared by the module; the later runs reuse its step cache, as a developer's
successive runs would, so each of them only runs what SageMaker would run again.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pipeline_definition.contract import definition_path
from pipeline_definition.local_runner import InvalidParameters, LocalRunner, RunResult, StepCache, UnsupportedConstruct
from pipeline_definition.local_runner.expressions import Context, ExpressionError, parse_path
from pipeline_definition.local_runner.jobs import JobContext
from pipeline_definition.local_runner.registry import service_constraint_errors
from pipeline_definition.local_runner.runner import resolve_parameters
from pipeline_definition.local_runner.tuning import run_tuning
from pipeline_definition.local_runner.twin import TwinNames, clients, land_adult_data, prepare_local_twin
from tests.moto_server import moto_server

REGION = "eu-west-1"  # the region the dev definition's steps are built for
NAMES = TwinNames("mlops", "dev", REGION)
PIPELINE = "mlops-dev-training"
CACHED = ("ValidateData", "Preprocess", "TrainModel", "EvaluateModel", "CheckBiasAndExplain")
FAST = {"NumRound": 10, "TriggerDetail": "test"}  # botocore refuses an empty metadata value (the default "")


class Twin:
    def __init__(self, url: str, workdir: Path) -> None:
        self.s3, self.sagemaker = clients(url, REGION)
        self.placeholders = prepare_local_twin(self.s3, NAMES, sagemaker=self.sagemaker, sample_rows=1500)
        self.workdir = workdir

    def runner(self, *, check: bool = False) -> LocalRunner:
        return LocalRunner(
            s3=self.s3, sagemaker=self.sagemaker, workdir=self.workdir, cache=StepCache(self.workdir / "cache"),
            region=REGION, placeholders=self.placeholders, check_service_constraints=check,
        )  # fmt: skip

    def run(self, parameters: dict[str, Any], *, check: bool = False, pipeline: str = "training") -> RunResult:
        runner = self.runner(check=check)
        try:
            return runner.run(definition_path("dev", pipeline), parameters, pipeline_name=f"mlops-dev-{pipeline}")
        finally:
            runner.close()


@pytest.fixture(scope="module")
def twin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Twin]:
    with moto_server() as url:
        yield Twin(url, tmp_path_factory.mktemp("local-runner"))


@pytest.fixture(scope="module")
def first_run(twin: Twin) -> RunResult:
    return twin.run(FAST)


def test_dev_training_runs_to_a_registered_package(twin: Twin, first_run: RunResult) -> None:
    assert first_run.status == "Succeeded", first_run.failure_reason
    assert [r.name for r in first_run.steps if r.status == "Succeeded"][:3] == [
        "ValidateData",
        "Preprocess",
        "IngestFeatures",
    ]
    assert first_run.step("QualityGateFailed").status == "Skipped"
    package = twin.sagemaker.describe_model_package(ModelPackageName=first_run.model_package_arn)
    assert package["ModelApprovalStatus"] == "PendingManualApproval"
    metadata = package["CustomerMetadataProperties"]
    assert metadata["pipeline_execution_arn"] == first_run.execution_arn
    assert metadata["input_data_uri"] == f"s3://{NAMES.bucket('raw')}/adult/"
    assert metadata["hyperparameters"].startswith("num_round=10;")
    # the model the package serves is the one the training job wrote, and it exists
    model_uri = first_run.step("TrainModel").outputs["ModelArtifacts"]["S3ModelArtifacts"]
    assert package["InferenceSpecification"]["Containers"][0]["ModelDataUrl"] == model_uri
    bucket, key = model_uri[len("s3://") :].split("/", 1)
    assert twin.s3.head_object(Bucket=bucket, Key=key)["ContentLength"] > 0
    # the Feature Store runtime received every train row, with the record identifier
    records = (twin.workdir / "feature-store" / "mlops-dev-adult.jsonl").read_text().splitlines()
    assert records
    assert all("record_id" in json.loads(line) for line in records[:5])


def test_rerun_after_new_data_under_the_same_prefix_is_served_from_cache(twin: Twin, first_run: RunResult) -> None:
    """Today's defect, made visible: the cache key holds the InputDataUri, not the data behind it, so new raw data
    under s3://<raw>/adult/ is never read by a re-run within 30 days (branch defs replaces the URI by a
    content-addressed manifest)."""
    land_adult_data(twin.s3, NAMES.bucket("raw"), prefix="adult/new-", sample_rows=300)
    rerun = twin.run(FAST)
    assert rerun.status == "Succeeded", rerun.failure_reason
    assert all(rerun.step(name).cache_hit for name in CACHED)
    assert first_run.execution_arn in rerun.step("Preprocess").message
    assert not rerun.step("IngestFeatures").cache_hit  # not cached in the definition: runs every time
    assert rerun.step("Preprocess").outputs == first_run.step("Preprocess").outputs  # the first run's outputs


def test_failed_quality_gate_fails_the_run_with_the_fail_steps_message(twin: Twin, first_run: RunResult) -> None:
    result = twin.run({**FAST, "MinAuc": "0.99"})
    assert result.status == "Failed"
    assert result.failure_reason is not None
    assert result.failure_reason.startswith("Model not registered: a quality gate failed. AUC 0.")
    assert "(minimum 0.99)" in result.failure_reason
    assert result.step("QualityGateFailed").status == "Failed"
    assert result.step("RegisterModel").status == "Skipped"
    assert result.model_package_arn is None


@pytest.fixture(scope="module")
def changed_cost_run(twin: Twin, first_run: RunResult) -> RunResult:
    return twin.run({**FAST, "FalsePositiveCost": "0.5"}, check=True)


def test_a_changed_cache_key_attribute_reruns_only_that_step(changed_cost_run: RunResult) -> None:
    # FalsePositiveCost is an argument of EvaluateModel's AppSpecification, and of nothing upstream
    assert not changed_cost_run.step("EvaluateModel").cache_hit
    assert changed_cost_run.step("EvaluateModel").status == "Succeeded"
    assert all(changed_cost_run.step(name).cache_hit for name in ("ValidateData", "Preprocess", "TrainModel"))


def test_registration_metadata_that_sagemaker_refuses_fails_the_step(changed_cost_run: RunResult) -> None:
    """Today's dev definition joins hyper-parameters with ';', outside CustomerMetadataProperties' pattern: SageMaker
    refuses it (moto does not), so the twin checks botocore's service model (branch defs fixes the value)."""
    assert changed_cost_run.status == "Failed"
    assert changed_cost_run.step("RegisterModel").status == "Failed"
    reason = changed_cost_run.failure_reason or ""
    assert "CustomerMetadataProperties.hyperparameters" in reason
    assert "does not match the pattern" in reason


def test_a_failing_job_reports_the_tail_of_its_output(twin: Twin) -> None:
    """The dev monitoring definition with its defaults fails in its first job today (it passes --ground-truth-uri
    with Source=batch, which monitoring_inputs refuses); whatever the job's error, the run names it."""
    result = twin.run({}, pipeline="monitoring")
    assert result.status == "Failed"
    record = result.step("GatherMonitoringInputs")
    assert record.status == "Failed"
    execution_id = result.execution_arn.rsplit("/", 1)[-1]
    stderr = (twin.workdir / execution_id / "GatherMonitoringInputs" / "stderr.log").read_text().splitlines()
    assert stderr[-1].startswith("monitoring_inputs failed:")
    assert (result.failure_reason or "").endswith(stderr[-1])
    assert "job exited with code 1" in (result.failure_reason or "")
    assert result.step("HasEnoughData").status == "Skipped"
    assert record.outputs == {}  # a failed job reports no outputs
    assert not list(twin.s3.list_objects_v2(Bucket=NAMES.bucket("artifacts"), Prefix="monitoring/").get("Contents", []))


def test_staging_tuning_without_an_entrypoint_is_an_unsupported_construct(tmp_path: Path) -> None:
    """staging/prod's TuneModel names the SageMaker Distribution image with no command (branch defs fixes it)."""
    definition = json.loads(definition_path("staging").read_text())
    tune = next(s for s in definition["Steps"] if s["Type"] == "Tuning")
    ctx = JobContext(s3=None, step="TuneModel", step_dir=tmp_path, execution_id="x", region=REGION, account="1")
    with pytest.raises(
        UnsupportedConstruct, match=r"step 'TuneModel': TrainingJobDefinition has no ContainerEntrypoint"
    ):
        run_tuning(ctx, tune["Arguments"], max_trials=1)


def test_an_unknown_step_type_is_an_unsupported_construct(twin: Twin) -> None:
    definition = {
        "Version": "2020-12-01",
        "Parameters": [],
        "Steps": [{"Name": "Notify", "Type": "Lambda", "Arguments": {}}],
    }
    runner = twin.runner()
    with pytest.raises(UnsupportedConstruct, match="step 'Notify': step type 'Lambda'"):
        runner.run(definition)


def test_parameters_are_typed_and_undeclared_ones_refused() -> None:
    declared = [
        {"Name": "NumRound", "Type": "Integer", "DefaultValue": 300},
        {"Name": "MinAuc", "Type": "Float", "DefaultValue": 0.85},
        {"Name": "Source", "Type": "String", "DefaultValue": "batch", "EnumValues": ["capture", "batch"]},
    ]
    assert resolve_parameters(declared, {"NumRound": "20", "MinAuc": "0.9"}) == {
        "NumRound": 20, "MinAuc": 0.9, "Source": "batch",
    }  # fmt: skip
    with pytest.raises(InvalidParameters, match=r"undeclared pipeline parameter\(s\) \['NumRounds'\]"):
        resolve_parameters(declared, {"NumRounds": "20"})
    with pytest.raises(InvalidParameters, match=r"parameter 'NumRound' \(Integer\): '2\.5'"):
        resolve_parameters(declared, {"NumRound": "2.5"})
    with pytest.raises(InvalidParameters, match="not one of"):
        resolve_parameters(declared, {"Source": "stream"})


def _context(properties: dict[str, Any], files: dict[str, Any]) -> Context:
    def step_property(step: str, tokens: list[str | int]) -> Any:
        from pipeline_definition.local_runner.expressions import walk

        return walk(properties[step], tokens, step)

    return Context(
        parameters={"MinAuc": 0.85, "NumRound": 20},
        execution={"PipelineExecutionId": "abc123"},
        step_property=step_property,
        property_file=lambda step, name: files[f"{step}.{name}"],
    )


def test_expressions_resolve_get_join_and_json_get() -> None:
    outputs = [
        {"OutputName": "train", "S3Output": {"S3Uri": "s3://b/train"}},
        {"OutputName": "test", "S3Output": {"S3Uri": "s3://b/test"}},
    ]
    context = _context(
        {
            "Pre": {"ProcessingOutputConfig": {"Outputs": outputs}},
            "Tune": {"TrainingJobSummaries": [{"TrainingJobName": "t-1"}]},
        },
        {"Eval.Report": {"metrics": {"auc": {"value": 0.91}}, "list": [{"x": 3}]}},
    )
    assert context.resolve({"Get": "Steps.Pre.ProcessingOutputConfig.Outputs['test'].S3Output.S3Uri"}) == "s3://b/test"
    assert context.resolve({"Get": "Steps.Pre.ProcessingOutputConfig.Outputs[0].S3Output.S3Uri"}) == "s3://b/train"
    joined = {
        "Std:Join": {
            "On": "/",
            "Values": ["s3://b/runs", {"Get": "Execution.PipelineExecutionId"}, {"Get": "Parameters.NumRound"}],
        }
    }
    assert context.resolve(joined) == "s3://b/runs/abc123/20"
    assert context.resolve({"Get": "Steps.Tune.TrainingJobSummaries[0].TrainingJobName"}) == "t-1"
    json_get = {
        "Std:JsonGet": {"Path": "metrics.auc.value", "PropertyFile": {"Get": "Steps.Eval.PropertyFiles.Report"}}
    }
    assert context.resolve({"LeftValue": json_get, "Other": [1, "a"]}) == {"LeftValue": 0.91, "Other": [1, "a"]}
    assert (
        context.resolve(
            {"Std:JsonGet": {"Path": "list[0].x", "PropertyFile": {"Get": "Steps.Eval.PropertyFiles.Report"}}}
        )
        == 3
    )
    assert parse_path('Steps.A.Outputs["x"].B') == ["Steps", "A", "Outputs", "x", "B"]


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ({"Get": "Parameters.Missing"}, "no parameter 'Missing'"),
        ({"Get": "Execution.Nope"}, "unknown execution variable 'Nope'"),
        ({"Get": "Steps.Pre.ProcessingOutputConfig.Outputs['nope'].S3Output"}, "no item named 'nope'"),
        (
            {"Std:JsonGet": {"Path": "metrics.f1", "PropertyFile": {"Get": "Steps.Eval.PropertyFiles.Report"}}},
            "no property 'f1'",
        ),
        ({"Std:Join": {"On": "/"}}, "Std:Join needs On and a Values list"),
        ({"Std:Frobnicate": {}}, "unsupported function 'Std:Frobnicate'"),
    ],
)
def test_bad_expressions_name_the_problem(expression: dict[str, Any], message: str) -> None:
    context = _context({"Pre": {"ProcessingOutputConfig": {"Outputs": []}}}, {"Eval.Report": {"metrics": {}}})
    with pytest.raises(ExpressionError, match=message.replace("(", "\\(").replace("[", "\\[")):
        context.resolve(expression)


def test_service_constraints_follow_botocores_model(twin: Twin) -> None:
    shape = twin.sagemaker.meta.service_model.operation_model("CreateModelPackage").input_shape
    fine = {
        "ModelPackageGroupName": "g",
        "CustomerMetadataProperties": {"eta": "eta=0.1 max_depth=6", "uri": "s3://b/k"},
    }
    assert service_constraint_errors(shape, fine) == []
    errors = service_constraint_errors(shape, {"CustomerMetadataProperties": {"hp": "a=1;b=2", "long": "x" * 257}})
    assert any(e.startswith("CustomerMetadataProperties.hp: value 'a=1;b=2' does not match") for e in errors)
    assert any(e.startswith("CustomerMetadataProperties.long: 257 characters, at most 256") for e in errors)
