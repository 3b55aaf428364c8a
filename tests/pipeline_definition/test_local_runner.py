"""The local runner executes the committed definitions on a moto twin with the real Adult data (a sample of it).

Cost: one twin and one full training run (started as a trigger starts one) are shared by the module; the later
runs reuse its step cache, as a developer's successive runs would, so each only runs what SageMaker would run again.
The end-to-end tests share that state, so the file runs on one pytest-xdist worker (tests/conftest.py's scheduler).
Everything else (expressions, cache, conditions, parameters, constraints) is unit-tested without a job. What the
whole loop shows (new data read through a new snapshot, an unchanged snapshot served from the cache, drift and
code-change retrains) is asserted once, by tests/twin/test_loop.py, not here.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest

from pipeline_code import feature_records
from pipeline_definition.contract import definition_path
from pipeline_definition.local_runner import (
    InvalidParameters,
    LocalRunner,
    RunResult,
    StepCache,
    StepFailed,
    UnsupportedConstruct,
    script_mode,
)
from pipeline_definition.local_runner.cache import CacheEntry, cache_key_attributes, expire_after
from pipeline_definition.local_runner.expressions import Context, ExpressionError, parse_path, walk
from pipeline_definition.local_runner.jobs import JobContext
from pipeline_definition.local_runner.runner import render_definition, resolve_parameters
from pipeline_definition.local_runner.steps import evaluate
from pipeline_definition.local_runner.tuning import run_tuning, sample
from pipeline_definition.local_runner.twin import (
    TwinNames,
    clients,
    prepare_local_twin,
    write_data_snapshot,
)
from tests.moto_server import moto_server

ROOT = Path(__file__).resolve().parents[2]
REGION = "eu-west-1"  # the region the dev definition's steps are built for
NAMES = TwinNames("mlops", "dev", REGION)
PIPELINE = "mlops-dev-training"
CACHED = ("ValidateData", "Preprocess", "IngestFeatures", "TrainModel", "EvaluateModel", "CheckBiasAndExplain")
SAMPLE_ROWS = 300  # per Adult file: ~420 train rows, enough to clear dev's quality gates (AUC ~0.9 > 0.85)
# 10 rounds on a 300-row sample land near dev's gates (AUC ~0.85-0.9, cost ~390 per 1,000): looser ones keep the
# runs that must register from failing on the sample's noise (the gate test sets an unreachable MinAuc instead).
# TriggerDetail: botocore refuses an empty metadata value (the old default "").
# F1 too: the split is a hash of each record (not stratified), so the ~90-row test split's F1 swings with the sample.
FAST = {"NumRound": 10, "MinAuc": 0.75, "MinF1": 0.3, "MaxCostPer1000": 600, "TriggerDetail": "test"}


class Twin:
    def __init__(self, url: str, workdir: Path) -> None:
        self.s3, self.sagemaker = clients(url, REGION)
        self.ssm = boto3.client(
            "ssm", endpoint_url=url, region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing"
        )
        self.placeholders = prepare_local_twin(self.s3, NAMES, sagemaker=self.sagemaker, sample_rows=SAMPLE_ROWS)
        self.workdir = workdir
        # the parameters of a fast training run: on the landed data's snapshot, where the definition reads one
        self.fast: dict[str, Any] = {**FAST, "InputManifestUri": write_data_snapshot(self.s3, NAMES)}

    def runner(self, *, check: bool = False) -> LocalRunner:
        return LocalRunner(
            s3=self.s3, sagemaker=self.sagemaker, workdir=self.workdir, cache=StepCache(self.workdir / "cache"),
            region=REGION, placeholders=self.placeholders, check_service_constraints=check,
        )  # fmt: skip

    def run(
        self, definition: dict[str, Any] | Path, parameters: dict[str, Any], *, check: bool = False, name: str = ""
    ) -> RunResult:
        runner = self.runner(check=check)
        try:
            return runner.run(definition, parameters, pipeline_name=name or None)
        finally:
            runner.close()

    def keys(self, bucket: str, prefix: str) -> list[str]:
        return [o["Key"] for o in self.s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])]


@pytest.fixture(scope="module")
def twin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Twin]:
    with moto_server() as url:
        yield Twin(url, tmp_path_factory.mktemp("local-runner"))


@pytest.fixture(scope="module")
def first_run(twin: Twin) -> RunResult:
    """The dev definition started on the twin as a trigger Lambda starts it (CreatePipeline +
    StartPipelineExecution, parameters as strings) and run with run_execution, every request checked against
    what SageMaker accepts (botocore's service model: patterns, lengths), which moto does not."""
    body = render_definition(definition_path("dev"), twin.placeholders)
    twin.sagemaker.create_pipeline(PipelineName=PIPELINE, PipelineDefinition=json.dumps(body), RoleArn=NAMES.role_arn)
    arn = twin.sagemaker.start_pipeline_execution(
        PipelineName=PIPELINE, PipelineParameters=[{"Name": k, "Value": str(v)} for k, v in twin.fast.items()]
    )["PipelineExecutionArn"]
    runner = twin.runner(check=True)
    try:
        return runner.run_execution(arn)
    finally:
        runner.close()


@pytest.fixture(scope="module")
def gate_run(twin: Twin, first_run: RunResult) -> RunResult:
    """An unreachable AUC minimum: MinAuc is read by the Condition step only (never cached), so every job is a
    cache hit (IngestFeatures too: the same split has its records in the store), and the gate fails."""
    return twin.run(definition_path("dev"), {**twin.fast, "MinAuc": "0.99"}, name=PIPELINE)


# ---------------------------------------------------------------- end to end, on the twin


def test_dev_training_runs_to_a_registered_package(twin: Twin, first_run: RunResult) -> None:
    assert first_run.status == "Succeeded", first_run.failure_reason
    succeeded = [r.name for r in first_run.steps if r.status == "Succeeded" and r.type != "Condition"]
    assert succeeded[:3] == ["ValidateData", "Preprocess", "IngestFeatures"]
    assert not any(r.cache_hit for r in first_run.steps)
    assert first_run.step("QualityGateFailed").status == "Skipped"
    package = twin.sagemaker.describe_model_package(ModelPackageName=first_run.model_package_arn)
    assert package["ModelApprovalStatus"] == "PendingManualApproval"
    metadata = package["CustomerMetadataProperties"]
    assert metadata["pipeline_execution_arn"] == first_run.execution_arn
    assert metadata["input_manifest_uri"] == twin.fast["InputManifestUri"]
    assert "num_round=10" in metadata["hyperparameters"].split()
    # the model the package serves is the one the training job wrote, and it exists
    model_uri = first_run.step("TrainModel").outputs["ModelArtifacts"]["S3ModelArtifacts"]
    assert package["InferenceSpecification"]["Containers"][0]["ModelDataUrl"] == model_uri
    bucket, key = model_uri[len("s3://") :].split("/", 1)
    assert twin.s3.head_object(Bucket=bucket, Key=key)["ContentLength"] > 0
    # the Feature Store runtime received one record per train row, with the record identifier
    records = (twin.workdir / "feature-store" / "mlops-dev-adult.jsonl").read_text().splitlines()
    train_uri = first_run.step("Preprocess").outputs["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["S3Uri"]
    train_bucket, train_prefix = train_uri[len("s3://") :].split("/", 1)
    train_key = twin.keys(train_bucket, train_prefix)[0]
    train_rows = twin.s3.get_object(Bucket=train_bucket, Key=train_key)["Body"].read().decode().splitlines()
    assert len(records) == len(train_rows) > 100
    # record ids are each row's content digest and its count among identical rows: the same row, the same id
    written = [json.loads(line) for line in records]  # written by a thread pool: in any order
    ids = {r["record_id"] for r in written}
    assert len(ids) == len(train_rows)
    for record in written:
        features = [{"FeatureName": k, "ValueAsString": v} for k, v in record.items()]
        assert record["record_id"].rsplit("-", 1)[0] == feature_records.content_digest(features)


def test_an_execution_started_on_the_twin_runs_with_its_parameters(first_run: RunResult) -> None:
    arn = first_run.execution_arn
    assert arn.startswith(f"arn:aws:sagemaker:{REGION}:123456789012:pipeline/{PIPELINE}/execution/")
    # StartPipelineExecution passes strings; they are typed per the definition, the rest are its defaults
    assert first_run.parameters["NumRound"] == 10
    assert first_run.parameters["TriggerDetail"] == "test"
    assert first_run.parameters["MinAuc"] == 0.75
    assert first_run.parameters["MinF1"] == 0.3
    assert first_run.parameters["ModelApprovalStatus"] == "PendingManualApproval"  # the definition's default


def test_failed_quality_gate_fails_the_run_with_the_fail_steps_message(gate_run: RunResult) -> None:
    assert gate_run.status == "Failed"
    assert (gate_run.failure_reason or "").startswith("Model not registered: a quality gate failed. AUC 0.")
    assert "(minimum 0.99)" in (gate_run.failure_reason or "")
    assert gate_run.step("QualityGateFailed").status == "Failed"
    assert gate_run.step("RegisterModel").status == "Skipped"
    assert gate_run.model_package_arn is None
    assert all(gate_run.step(name).cache_hit for name in CACHED)  # the first run's data and arguments


def _processing_step(name: str, script: str, inputs: list[dict[str, Any]], output_uri: str) -> dict[str, Any]:
    """A processing step whose container command is a shell script (no Python start-up: a cheap real job)."""
    return {
        "Name": name,
        "Type": "Processing",
        "Arguments": {
            "AppSpecification": {"ImageUri": "local/shell", "ContainerEntrypoint": ["/bin/sh", "-c", script]},
            "ProcessingResources": {"ClusterConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1}},
            "ProcessingInputs": inputs,
            "ProcessingOutputConfig": {
                "Outputs": [
                    {
                        "OutputName": "out",
                        "S3Output": {
                            "S3Uri": output_uri,
                            "LocalPath": "/opt/ml/processing/output/out",
                            "S3UploadMode": "EndOfJob",
                        },
                    }
                ]
            },
        },
    }


def _definition(*steps: dict[str, Any], parameters: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"Version": "2020-12-01", "Parameters": parameters or [], "Steps": list(steps)}


def test_cache_hits_on_a_rerun_and_misses_where_a_key_attribute_changed(twin: Twin) -> None:
    """Two cached steps; only `Uses` reads the parameter, in its ContainerArguments (part of its cache key)."""
    artifacts = NAMES.bucket("artifacts")
    uses = _processing_step("Uses", 'echo "$1" > /opt/ml/processing/output/out/x', [], f"s3://{artifacts}/c/uses")
    uses["Arguments"]["AppSpecification"]["ContainerArguments"] = ["sh", {"Get": "Parameters.Level"}]
    other = _processing_step("Other", "date +%s%N > /opt/ml/processing/output/out/t", [], f"s3://{artifacts}/c/other")
    for step in (uses, other):
        step["CacheConfig"] = {"Enabled": True, "ExpireAfter": "PT1H"}
    definition = _definition(uses, other, parameters=[{"Name": "Level", "Type": "Integer", "DefaultValue": 1}])

    def run(level: int) -> RunResult:
        result = twin.run(definition, {"Level": level}, name="cache-test")
        assert result.status == "Succeeded", result.failure_reason
        return result

    first, same, changed = run(1), run(1), run(2)
    assert not any(r.cache_hit for r in first.steps)
    assert all(r.cache_hit for r in same.steps)
    assert first.execution_arn in same.step("Uses").message
    assert not changed.step("Uses").cache_hit
    assert changed.step("Other").cache_hit
    written = twin.s3.get_object(Bucket=artifacts, Key="c/uses/x")["Body"].read()
    assert written == b"2\n"  # the changed step ran again with the new value


def test_ready_steps_run_together_up_to_parallel_steps_and_dependents_wait(twin: Twin) -> None:
    """Two independent jobs overlap with parallel_steps=2 (as SageMaker runs ready steps together); the step
    that depends on both starts after both have ended."""
    artifacts = NAMES.bucket("artifacts")
    times = (
        "date +%s%N > /opt/ml/processing/output/out/start; sleep 0.5; date +%s%N > /opt/ml/processing/output/out/end"
    )
    steps = [_processing_step(name, times, [], f"s3://{artifacts}/p/{name}") for name in ("A", "B", "After")]
    steps[2]["DependsOn"] = ["A", "B"]
    runner = LocalRunner(
        s3=twin.s3, sagemaker=twin.sagemaker, workdir=twin.workdir, cache=StepCache(twin.workdir / "cache"),
        region=REGION, placeholders=twin.placeholders, parallel_steps=2,
    )  # fmt: skip
    try:
        result = runner.run(_definition(*steps), {}, pipeline_name="parallel-test")
    finally:
        runner.close()
    assert result.status == "Succeeded", result.failure_reason
    assert [r.name for r in result.steps] == ["A", "B", "After"]

    def moment(step: str, which: str) -> int:
        return int(twin.s3.get_object(Bucket=artifacts, Key=f"p/{step}/{which}")["Body"].read())

    assert moment("B", "start") < moment("A", "end")  # the two ran at the same time
    assert moment("A", "start") < moment("B", "end")
    assert moment("After", "start") > max(moment("A", "end"), moment("B", "end"))
    with pytest.raises(ValueError, match="parallel_steps must be at least 1"):
        LocalRunner(
            s3=twin.s3, sagemaker=twin.sagemaker, workdir=twin.workdir, cache=StepCache(twin.workdir / "cache"),
            region=REGION, placeholders=twin.placeholders, parallel_steps=0,
        )  # fmt: skip


def test_manifest_file_input_delivers_only_the_listed_keys(twin: Twin) -> None:
    raw, artifacts = NAMES.bucket("raw"), NAMES.bucket("artifacts")
    for key in ("snap/a.csv", "snap/sub/b.csv", "snap/not-listed.csv"):
        twin.s3.put_object(Bucket=raw, Key=key, Body=f"content of {key}\n".encode())
    manifest = [{"prefix": f"s3://{raw}/snap/"}, "a.csv", "sub/b.csv"]
    twin.s3.put_object(Bucket=artifacts, Key="manifests/m.json", Body=json.dumps(manifest).encode())
    inputs = [
        {
            "InputName": "data",
            "S3Input": {
                "S3Uri": f"s3://{artifacts}/manifests/m.json", "S3DataType": "ManifestFile", "S3InputMode": "File",
                "LocalPath": "/opt/ml/processing/input/data",
            },
        }
    ]  # fmt: skip
    script = (
        "cd /opt/ml/processing/input/data && find . -type f | sort | xargs cat > /opt/ml/processing/output/out/seen"
    )
    result = twin.run(_definition(_processing_step("List", script, inputs, f"s3://{artifacts}/listed")), {})
    assert result.status == "Succeeded", result.failure_reason
    seen = twin.s3.get_object(Bucket=artifacts, Key="listed/seen")["Body"].read().decode()
    assert seen == "content of snap/a.csv\ncontent of snap/sub/b.csv\n"


def test_a_job_on_several_instances_runs_one_process_per_host_with_its_share(twin: Twin) -> None:
    """InstanceCount 3: three processes (algo-1..3), each with a resource config naming it; the ShardedByS3Key input
    deals its 4 objects round-robin in key order (one host gets two, none gets all), the FullyReplicated one gives
    every host everything; every host's output (under its own name) is uploaded."""
    raw, artifacts = NAMES.bucket("raw"), NAMES.bucket("artifacts")
    for key in ("shards/a.csv", "shards/b.csv", "shards/c.csv", "shards/d.csv", "whole/all.csv"):
        twin.s3.put_object(Bucket=raw, Key=key, Body=f"{key}\n".encode())

    def data(name: str, prefix: str, distribution: str) -> dict[str, Any]:
        return {
            "InputName": name,
            "S3Input": {
                "S3Uri": f"s3://{raw}/{prefix}/", "S3DataType": "S3Prefix", "S3InputMode": "File",
                "LocalPath": f"/opt/ml/processing/input/{name}", "S3DataDistributionType": distribution,
            },
        }  # fmt: skip

    host = '$(grep -o \'"current_host": *"[^"]*"\' /opt/ml/config/resourceconfig.json | cut -d\'"\' -f4)'
    script = (
        f"h={host}; cat /opt/ml/processing/input/shard/* /opt/ml/processing/input/whole/* 2>/dev/null "
        "> /opt/ml/processing/output/out/$h.txt"
    )
    step = _processing_step(
        "Sharded", script, [data("shard", "shards", "ShardedByS3Key"), data("whole", "whole", "FullyReplicated")],
        f"s3://{artifacts}/sharded",
    )  # fmt: skip
    step["Arguments"]["ProcessingResources"]["ClusterConfig"]["InstanceCount"] = 3
    result = twin.run(_definition(step), {})
    assert result.status == "Succeeded", result.failure_reason
    seen = {
        key.rsplit("/", 1)[-1]: twin.s3.get_object(Bucket=artifacts, Key=key)["Body"].read().decode().split()
        for key in twin.keys(artifacts, "sharded/")
    }
    assert seen == {
        "algo-1.txt": ["shards/a.csv", "shards/d.csv", "whole/all.csv"],
        "algo-2.txt": ["shards/b.csv", "whole/all.csv"],
        "algo-3.txt": ["shards/c.csv", "whole/all.csv"],
    }


def test_a_failing_job_reports_the_tail_of_its_output_and_uploads_nothing(twin: Twin) -> None:
    artifacts = NAMES.bucket("artifacts")
    script = "echo half > /opt/ml/processing/output/out/partial; echo 'reading row 7: bad value' >&2; exit 3"
    failing = _processing_step("Breaks", script, [], f"s3://{artifacts}/failing")
    after = {**_processing_step("After", "true", [], f"s3://{artifacts}/after"), "DependsOn": ["Breaks"]}
    result = twin.run(_definition(failing, after), {})
    assert result.status == "Failed"
    reason = result.failure_reason or ""
    assert reason.startswith("Step Breaks failed: job exited with code 3")
    assert reason.endswith("reading row 7: bad value")
    assert result.step("Breaks").outputs == {}  # a failed job reports no outputs...
    assert twin.keys(artifacts, "failing/") == []  # ...and uploads none
    assert result.step("After").status == "Skipped"


# A training container that reports `eta` as its objective: the best trial is known from the sampled values alone.
_TRIAL = (
    "import json, pathlib\n"
    "hp = json.loads(pathlib.Path('/opt/ml/input/config/hyperparameters.json').read_text())\n"
    "assert any(pathlib.Path('/opt/ml/input/data/train').iterdir()), 'empty train channel'\n"
    "pathlib.Path('/opt/ml/model/hp.json').write_text(json.dumps(hp))\n"
    "print('validation-auc:' + hp['eta'])\n"
)


def test_tuning_runs_trials_and_picks_the_best_by_the_objective(twin: Twin) -> None:
    """staging's TuneModel (its ranges, seed, objective and metric regex) with an entrypoint and one channel."""
    staging = json.loads(definition_path("staging").read_text())
    tune = next(s for s in staging["Steps"] if s["Type"] == "Tuning")
    job = tune["Arguments"]["TrainingJobDefinition"]
    job["AlgorithmSpecification"] |= {"ContainerEntrypoint": ["python3", "-c", _TRIAL]}
    job["InputDataConfig"] = [
        {
            "ChannelName": "train",
            "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://placeholder-raw-bucket/adult/"}},
        }
    ]
    definition = _definition(tune, parameters=staging["Parameters"])
    result = twin.run(definition, {"NumRound": 5})  # max_tuning_trials defaults to 3
    assert result.status == "Succeeded", result.failure_reason
    outputs = result.step("TuneModel").outputs
    summaries = outputs["TrainingJobSummaries"]
    assert len(summaries) == 3
    etas = [float(s["TunedHyperParameters"]["eta"]) for s in summaries]
    assert all(0.02 <= eta <= 0.3 for eta in etas)
    assert all(3 <= int(s["TunedHyperParameters"]["max_depth"]) <= 10 for s in summaries)
    best = outputs["BestTrainingJob"]
    assert float(best["TunedHyperParameters"]["eta"]) == max(etas)  # Maximize validation-auc
    assert best["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] == pytest.approx(max(etas))
    assert summaries[0] == best  # sorted best first, as get_top_model_s3_uri expects
    # the best trial's model is in S3, trained with the static and the tuned hyper-parameters
    bucket, key = best["S3ModelArtifacts"][len("s3://") :].split("/", 1)
    assert twin.s3.head_object(Bucket=bucket, Key=key)["ContentLength"] > 0
    trial_dir = next((twin.workdir / result.execution_arn.rsplit("/", 1)[-1] / "TuneModel").glob("trial-*"))
    used = json.loads((trial_dir / "ml" / "model" / "hp.json").read_text())
    assert used["num_round"] == "5"


def test_staging_tunes_in_script_mode_and_registers_the_best_trial(twin: Twin) -> None:
    """staging's committed definition as CDK deploys it: TuneModel's trials run pipeline_code/train.py in the XGBoost
    image's script mode (two trials, 10 rounds), the best by its validation-auc line is evaluated and registered."""
    staging = TwinNames("mlops", "staging", REGION)
    placeholders = prepare_local_twin(twin.s3, staging, sagemaker=twin.sagemaker, sample_rows=SAMPLE_ROWS)
    workdir = twin.workdir / "staging"
    runner = LocalRunner(
        s3=twin.s3, sagemaker=twin.sagemaker, workdir=workdir, cache=StepCache(workdir / "cache"), region=REGION,
        placeholders=placeholders, max_tuning_trials=2,
    )  # fmt: skip
    parameters = {**FAST, "InputManifestUri": write_data_snapshot(twin.s3, staging)}
    try:
        result = runner.run(definition_path("staging"), parameters, pipeline_name="mlops-staging-training")
    finally:
        runner.close()
    assert result.status == "Succeeded", result.failure_reason
    tune = result.step("TuneModel").outputs
    summaries, best = tune["TrainingJobSummaries"], tune["BestTrainingJob"]
    assert len(summaries) == 2
    assert not tune["FailedTrials"]
    objective = [s["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] for s in summaries]
    assert best == summaries[0]
    assert best["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] == max(objective)
    # each trial ran the deployed train.py from /opt/ml/code, whose last line is the metric the regex read
    for trial in sorted((workdir / result.execution_arn.rsplit("/", 1)[-1] / "TuneModel").glob("trial-*")):
        assert (trial / "ml" / "code" / "pipeline_code" / "train.py").is_file()
        assert (trial / "stdout.log").read_text().splitlines()[-1].startswith("validation-auc:")
    package = twin.sagemaker.describe_model_package(ModelPackageName=result.model_package_arn)
    assert package["InferenceSpecification"]["Containers"][0]["ModelDataUrl"] == best["S3ModelArtifacts"]
    # the registered hyper-parameters are the best trial's (read by evaluate.py from the model train.py saved)
    recorded = dict(pair.split("=") for pair in package["CustomerMetadataProperties"]["hyperparameters"].split())
    tuned = best["TunedHyperParameters"]
    assert int(recorded["max_depth"]) == int(tuned["max_depth"])
    for name in ("eta", "subsample", "min_child_weight"):
        assert float(recorded[name]) == pytest.approx(float(tuned[name]), rel=1e-5), name
    assert recorded["num_round"] == "10"  # the static hyper-parameter, from the NumRound parameter


def test_monitoring_of_a_deployed_package_with_an_empty_window(twin: Twin, first_run: RunResult) -> None:
    """The promotion writes the deployed package's ARN to SSM; no capture in the window: 0 rows, no drift check."""
    twin.ssm.put_parameter(
        Name="/mlops/dev/current-model-package", Value=str(first_run.model_package_arn), Type="String"
    )
    result = twin.run(definition_path("dev", "monitoring"), {"Source": "capture"}, name="mlops-dev-monitoring")
    assert result.status == "Succeeded", result.failure_reason
    gathered = result.step("GatherMonitoringInputs")
    assert gathered.status == "Succeeded"
    assert result.step("HasEnoughData").outputs == {"Outcome": "False"}  # rows (0) >= 100 is false
    assert result.step("CheckDrift").status == "Skipped"
    model_uri = next(
        o["S3Output"]["S3Uri"]
        for o in gathered.outputs["ProcessingOutputConfig"]["Outputs"]
        if o["OutputName"] == "model"
    )
    bucket, prefix = model_uri[len("s3://") :].split("/", 1)
    assert twin.keys(bucket, prefix)  # the deployed package's model, fetched through its Model Registry entry


def test_batch_inference_scores_raw_files_with_the_models_handlers_as_the_evaluation_scores(
    twin: Twin, first_run: RunResult, tmp_path: Path
) -> None:
    """The batch path: the dev batch-inference definition (ResolveModel, then a transform over raw files as they
    are) on the first run's model, approved: every output line is its raw input line followed by the answer of the
    model's handlers, and the probabilities are the local evaluation's for the same rows, exactly."""
    import gzip

    import numpy as np

    from pipeline_code import evaluate, serve, tabular

    sagemaker = twin.sagemaker
    package = sagemaker.describe_model_package(ModelPackageName=first_run.model_package_arn)
    container = package["InferenceSpecification"]["Containers"][0]
    assert container["Environment"]["SAGEMAKER_PROGRAM"] == serve.ENTRY_POINT
    approved = sagemaker.create_model_package(  # the same model, approved (the first run's stays pending)
        ModelPackageGroupName="mlops-dev-models",
        InferenceSpecification=package["InferenceSpecification"],
        ModelApprovalStatus="Approved",
    )["ModelPackageArn"]
    shipped = gzip.decompress((ROOT / "data" / "adult" / "adult.test.gz").read_bytes()).decode().splitlines()
    lines = shipped[:301]  # the header line, then 300 raw rows with their labels
    raw_bucket = twin.placeholders["placeholder-raw-bucket"]
    twin.s3.put_object(Bucket=raw_bucket, Key="batch/new.csv", Body=("\n".join(lines) + "\n").encode())

    result = twin.run(definition_path("dev", "batch-inference"), {}, name="mlops-dev-batch-inference")

    assert result.status == "Succeeded", result.failure_reason
    models = [sagemaker.describe_model(ModelName=m["ModelName"]) for m in sagemaker.list_models()["Models"]]
    assert [m["PrimaryContainer"].get("ModelPackageName") for m in models] == [approved]  # the newest Approved
    curated = twin.placeholders["placeholder-curated-bucket"]
    (key,) = [k for k in twin.keys(curated, "batch-predictions/") if k.endswith("new.csv.out")]
    output = twin.s3.get_object(Bucket=curated, Key=key)["Body"].read().decode().splitlines()
    assert output[0] == f"{lines[0]},probability,decision"
    assert [line.rsplit(",", 2)[0] for line in output] == lines  # each input line, in order
    served = np.array([float(line.rsplit(",", 2)[1]) for line in output[1:]], dtype=np.float32)
    raw = tmp_path / "rows.csv"
    raw.write_text("\n".join(lines) + "\n")
    (batch,) = list(tabular.iter_encoded_raw([raw]))
    processed = tabular.save_processed(tmp_path / "rows-processed.csv", batch)
    model_dir = tmp_path / "model"
    bucket, model_key = container["ModelDataUrl"][len("s3://") :].split("/", 1)
    model_dir.mkdir()
    twin.s3.download_file(bucket, model_key, str(model_dir / "model.tar.gz"))
    _, _, expected = evaluate.labelled_predictions(model_dir, processed)
    assert served.tolist() == np.asarray(expected).tolist()
    threshold = float(container["Environment"][serve.THRESHOLD_ENV])
    decisions = [int(line.rsplit(",", 1)[1]) for line in output[1:]]
    assert decisions == [int(p >= threshold) for p in served.tolist()]


def test_an_unknown_step_type_is_an_unsupported_construct(twin: Twin) -> None:
    definition = _definition({"Name": "Notify", "Type": "Lambda", "Arguments": {}})
    with pytest.raises(UnsupportedConstruct, match="step 'Notify': step type 'Lambda'"):
        twin.runner().run(definition)


# ---------------------------------------------------------------- without jobs


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"TrainingImage": "885854791233.dkr.ecr.eu-west-1.amazonaws.com/sagemaker-distribution-prod:3-cpu"},
            "no ContainerEntrypoint: the image 885854791233.* would run its own entrypoint",
        ),
        ({"sagemaker_program": None}, "the framework image .*sagemaker-xgboost:3.0-5 without a 'sagemaker_program'"),
    ],
)
def test_tuning_on_an_image_the_runner_cannot_emulate_is_an_unsupported_construct(
    tmp_path: Path, change: dict[str, Any], message: str
) -> None:
    """Script mode is emulated for SageMaker's framework images only, and only with a program to run: otherwise the
    run stops before any trial, naming the step, instead of running something else."""
    definition = json.loads(definition_path("staging").read_text())
    job = next(s for s in definition["Steps"] if s["Type"] == "Tuning")["Arguments"]["TrainingJobDefinition"]
    if "TrainingImage" in change:
        job["AlgorithmSpecification"]["TrainingImage"] = change["TrainingImage"]
    else:
        del job["StaticHyperParameters"]["sagemaker_program"]
    ctx = JobContext(s3=None, step="TuneModel", step_dir=tmp_path, execution_id="x", region=REGION, account="1")
    with pytest.raises(UnsupportedConstruct, match=f"step 'TuneModel': {message}"):
        run_tuning(ctx, {"TrainingJobDefinition": job, **_tuning_config(definition)}, max_trials=1)
    assert not any(tmp_path.iterdir())  # no trial started


def _tuning_config(definition: dict[str, Any]) -> dict[str, Any]:
    tune = next(s for s in definition["Steps"] if s["Type"] == "Tuning")["Arguments"]
    return {"HyperParameterTuningJobConfig": tune["HyperParameterTuningJobConfig"]}


def _script_job(tmp_path: Path, s3: Any, hyperparameters: dict[str, str]) -> script_mode.ScriptJob:
    return script_mode.prepare(
        s3=s3, step="Train", job_dir=tmp_path / "ml", job_name="job-1", region=REGION,
        hyperparameters=hyperparameters, data_config={"train": {}, "code": {}},
        resource_config={"current_host": "algo-1", "hosts": ["algo-1"]},
    )  # fmt: skip


def test_script_mode_runs_the_program_as_the_training_toolkit_does(tmp_path: Path) -> None:
    """A submit directory inside the container (a channel) is copied to /opt/ml/code; the toolkit's hyper-parameters
    are split off, the rest JSON-decoded and passed sorted as `--name value` (`-x` for one letter)."""
    (tmp_path / "ml" / "input" / "data" / "code" / "pkg").mkdir(parents=True)
    (tmp_path / "ml" / "input" / "data" / "code" / "pkg" / "train.py").write_text("print('hi')\n")
    job = _script_job(
        tmp_path,
        None,
        {
            "sagemaker_program": "pkg/train.py",
            "sagemaker_submit_directory": "/opt/ml/input/data/code",
            "_tuning_objective_metric": "validation-auc",
            "num_round": "10",
            "eta": "0.1",
            "k": '"text"',
            "mode": "plain",
        },
    )
    assert (tmp_path / "ml" / "code" / "pkg" / "train.py").is_file()
    assert job.workdir == "/opt/ml/code"
    assert job.command == [
        "python3",
        "pkg/train.py",
        "--eta",
        "0.1",
        "-k",
        "text",
        "--mode",
        "plain",
        "--num_round",
        "10",
    ]
    env = job.environment
    assert json.loads(env["SM_HPS"]) == {"eta": 0.1, "k": "text", "mode": "plain", "num_round": 10}
    assert env["SM_CHANNEL_TRAIN"] == "/opt/ml/input/data/train"
    assert json.loads(env["SM_CHANNELS"]) == ["code", "train"]
    assert (env["SM_MODEL_DIR"], env["SM_OUTPUT_DATA_DIR"]) == ("/opt/ml/model", "/opt/ml/output/data")
    assert (env["SM_CURRENT_HOST"], json.loads(env["SM_HOSTS"])) == ("algo-1", ["algo-1"])
    assert int(env["SM_NUM_CPUS"]) >= 1
    assert env["SM_HP_NUM_ROUND"] == "10"
    assert env["PYTHONPATH"] == "/opt/ml/code"
    assert json.loads(env["SM_USER_ARGS"]) == job.command[2:]


def test_script_mode_takes_an_s3_tarball_and_fails_where_the_toolkit_fails(twin: Twin, tmp_path: Path) -> None:
    import io
    import tarfile

    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        body = b'#!/bin/sh\necho "$@"\n'
        info = tarfile.TarInfo("run.sh")
        info.size = len(body)
        tar.addfile(info, io.BytesIO(body))
    bucket = NAMES.bucket("artifacts")
    twin.s3.put_object(Bucket=bucket, Key="src/sourcedir.tar.gz", Body=buffer.getvalue())
    submit = f"s3://{bucket}/src/sourcedir.tar.gz"
    job = _script_job(
        tmp_path, twin.s3, {"sagemaker_program": "run.sh", "sagemaker_submit_directory": submit, "a": "1"}
    )
    assert job.command == ["/bin/sh", "-c", "./run.sh -a 1"]
    assert (tmp_path / "ml" / "code" / "run.sh").stat().st_mode & 0o111
    hps = {"sagemaker_program": "missing.py", "sagemaker_submit_directory": submit}
    with pytest.raises(StepFailed, match=r"sagemaker_program 'missing.py' is not in the submit directory .*run.sh"):
        _script_job(tmp_path / "missing", twin.s3, hps)
    with pytest.raises(UnsupportedConstruct, match="'/usr/src' is in the image's file system"):
        _script_job(tmp_path / "image", None, {"sagemaker_program": "x.py", "sagemaker_submit_directory": "/usr/src"})


def test_tuning_samples_are_seeded_and_inside_the_ranges() -> None:
    import random

    ranges = {
        "ContinuousParameterRanges": [
            {"Name": "eta", "MinValue": "0.02", "MaxValue": "0.3", "ScalingType": "Logarithmic"}
        ],
        "IntegerParameterRanges": [{"Name": "max_depth", "MinValue": "3", "MaxValue": "4"}],
        "CategoricalParameterRanges": [{"Name": "booster", "Values": ["gbtree", "dart"]}],
    }  # fmt: skip
    first = [sample(ranges, rng) for rng in [random.Random(42)] for _ in range(5)]
    again = [sample(ranges, rng) for rng in [random.Random(42)] for _ in range(5)]
    assert first == again
    assert all(0.02 <= float(s["eta"]) <= 0.3 and s["max_depth"] in ("3", "4") for s in first)
    assert {s["booster"] for s in first} <= {"gbtree", "dart"}


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


def test_placeholders_are_replaced_as_cdk_does_and_none_may_remain() -> None:
    names = TwinNames("mlops", "dev", REGION)
    rendered = json.dumps(render_definition(definition_path("dev"), names.placeholders()))
    assert "placeholder-" not in rendered
    assert f"s3://{names.bucket('artifacts')}/pipeline-code/" in rendered
    with pytest.raises(ValueError, match="still holds placeholders"):
        render_definition(definition_path("dev"), {})


def _context(properties: dict[str, Any], files: dict[str, Any]) -> Context:
    return Context(
        parameters={"MinAuc": 0.85, "NumRound": 20},
        execution={"PipelineExecutionId": "abc123"},
        step_property=lambda step, tokens: walk(properties[step], tokens, step),
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


def test_conditions_of_every_type() -> None:
    auc = {"Type": "GreaterThanOrEqualTo", "LeftValue": "0.91", "RightValue": 0.85}  # JSON string vs parameter
    assert evaluate(auc, "Gate")
    assert not evaluate({**auc, "Type": "LessThan"}, "Gate")
    assert evaluate({"Type": "Equals", "LeftValue": "batch", "RightValue": "batch"}, "Gate")
    assert evaluate({"Type": "In", "QueryValue": 2, "Values": ["1", "2.0"]}, "Gate")
    assert evaluate({"Type": "Not", "Condition": {"Type": "LessThanOrEqualTo", "LeftValue": 3, "RightValue": 2}}, "G")
    above = {"Type": "GreaterThan", "LeftValue": 1, "RightValue": 0}
    either = {"Type": "Or", "Conditions": [{**auc, "Type": "LessThan"}, above]}
    assert evaluate(either, "Gate")
    with pytest.raises(UnsupportedConstruct, match="step 'Gate': condition type 'Between'"):
        evaluate({"Type": "Between"}, "Gate")
    with pytest.raises(StepFailed, match=r"condition GreaterThanOrEqualTo cannot compare None with 0\.25"):
        evaluate({"Type": "GreaterThanOrEqualTo", "LeftValue": None, "RightValue": 0.25}, "Gate")  # a JSON null


def test_cache_key_is_the_step_types_attributes_and_hits_expire(tmp_path: Path) -> None:
    arguments = {
        "AppSpecification": {"ImageUri": "i", "ContainerArguments": ["--x", "1"]},
        "ProcessingInputs": [{"S3Input": {"S3Uri": "s3://b/in/"}}],
        "ProcessingOutputConfig": {"Outputs": [{"S3Output": {"S3Uri": "s3://b/run-1/out"}}]},
        "RoleArn": "r",
    }
    attributes = cache_key_attributes("Processing", arguments)
    assert attributes is not None
    assert set(attributes) == {"AppSpecification", "ProcessingInputs"}
    key = StepCache.key("p", "Pre", "Processing", attributes)
    # outputs and role are not part of the key; an argument is
    moved = {**arguments, "ProcessingOutputConfig": {}, "RoleArn": "other"}
    assert StepCache.key("p", "Pre", "Processing", cache_key_attributes("Processing", moved) or {}) == key
    changed = {**arguments, "AppSpecification": {"ImageUri": "i", "ContainerArguments": ["--x", "2"]}}
    assert StepCache.key("p", "Pre", "Processing", cache_key_attributes("Processing", changed) or {}) != key
    assert cache_key_attributes("Condition", {}) is None  # never cached
    tuning = cache_key_attributes("Tuning", {"TrainingJobDefinition": {"RoleArn": "r", "StaticHyperParameters": {}}})
    assert tuning == {"TrainingJobDefinition": {"StaticHyperParameters": {}}}

    cache, created = StepCache(tmp_path), datetime(2025, 1, 1, tzinfo=UTC)
    cache.store(CacheEntry(key, "p", "Pre", "arn:run-1", created, {"out": 1}), attributes)
    month = expire_after({"ExpireAfter": "P30D"}, "Pre")
    hit = StepCache(tmp_path).lookup("p", key, now=created + timedelta(days=29), within=month)
    assert hit is not None
    assert (hit.properties, hit.execution_arn) == ({"out": 1}, "arn:run-1")
    assert cache.lookup("p", key, now=created + timedelta(days=31), within=month) is None
    assert cache.lookup("other-pipeline", key, now=created, within=month) is None
    with pytest.raises(ValueError, match=r"step 'Pre': CacheConfig\.ExpireAfter 'P30X'"):
        expire_after({"ExpireAfter": "P30X"}, "Pre")
