"""The committed pipeline definitions: what synth deploys is what the SDK builds now, offline, and it holds
together (references, instance types, gates, lineage)."""

from __future__ import annotations

import copy
import dataclasses
import filecmp
import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from config import DEFAULT_CONFIG_PATH, PlatformConfig
from pipeline_code import drift, serve
from pipeline_definition import contract, fingerprint
from pipeline_definition.references import all_steps, check_references, instance_types
from tests.pipeline_definition.conftest import OfflineGeneration

ENVIRONMENTS = ("dev", "staging", "prod")


def _definition(environment: str, pipeline: str = "training") -> dict[str, Any]:
    return json.loads(contract.definition_path(environment, pipeline).read_text())


ALL_DEFINITIONS = [
    (environment, pipeline)
    for environment in ENVIRONMENTS
    for pipeline in contract.PIPELINES
    if contract.definition_path(environment, pipeline).is_file()
]


def _step(definition: dict[str, Any], name: str) -> dict[str, Any]:
    return next(step for step in all_steps(definition) if step["Name"] == name)


# ----------------------------------------------------------------------------------- fresh, offline, deterministic


def test_committed_definitions_are_fresh(platform_config: PlatformConfig) -> None:
    """Synth refuses stale files; this names the fix early (`make pipeline-definitions`)."""
    assert fingerprint.stale_definitions(platform_config) == []


def test_synth_stops_on_a_stale_definition_naming_it_and_the_command_and_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A committed file is never rewritten by synth: a threshold change makes staging's definitions stale, and
    synth exits 1 naming staging (only), its files and the command that rebuilds them, with this config."""
    import app

    data = yaml.safe_load(DEFAULT_CONFIG_PATH.read_text())
    data["environments"]["staging"].setdefault("thresholds", {})["min_auc"] = 0.86
    config = tmp_path / "environments.yaml"
    config.write_text(yaml.safe_dump(data))
    committed = {path: (path.read_bytes(), path.stat().st_mtime_ns) for path in _files(contract.GENERATED_DIR)}
    monkeypatch.setenv("MLOPS_CONFIG", str(config))
    monkeypatch.setenv("CDK_OUTDIR", str(tmp_path / "cdk.out"))

    assert app.main() == 1

    error = capsys.readouterr().err
    stale = "the committed pipeline definitions of staging (pipeline_definition/generated/staging-*.json) are out"
    assert f"error: {stale}" in error
    command = f".venv/bin/python -m pipeline_definition.generate staging --config {config}"
    assert f"run `make pipeline-definitions` (`{command}`)" in error
    assert {path: (path.read_bytes(), path.stat().st_mtime_ns) for path in _files(contract.GENERATED_DIR)} == committed
    assert not (tmp_path / "cdk.out").exists()


def _files(folder: Path) -> list[Path]:
    return sorted(path for path in folder.rglob("*") if path.is_file())


def test_make_synth_rebuilds_stale_definitions_before_it_synthesizes() -> None:
    """The explicit step the app's check points to: `make synth` runs the generator first (a dry run here)."""
    environment = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    dry_run = subprocess.run(
        ["make", "-n", "synth"], cwd=contract.ROOT, env=environment, capture_output=True, text=True, check=True
    )
    commands = dry_run.stdout.splitlines()
    assert commands.index(".venv/bin/python -m pipeline_definition.generate") < commands.index(
        "node_modules/.bin/cdk synth --quiet"
    )


def test_the_sdk_builds_the_committed_bytes_now_without_any_network(offline_generation: OfflineGeneration) -> None:
    report = offline_generation.report
    assert report["exit"] == 0
    assert report["network_attempts"] == []  # sockets and DNS were blocked in the child: nothing tried them
    # The only AWS call the SDK attempts is ModelTrainer's IAM probe of the role; the session stops it unsent.
    assert all(call.startswith("POST https://iam.amazonaws.com") for call in report["refused_aws_calls"])
    built = sorted(p.name for p in offline_generation.out.glob("*.json"))
    assert built == sorted(p.name for p in contract.GENERATED_DIR.glob("*.json"))
    assert len(built) == len(ALL_DEFINITIONS) == 12
    for name in built:
        assert (offline_generation.out / name).read_bytes() == (contract.GENERATED_DIR / name).read_bytes(), name
    comparison = filecmp.dircmp(offline_generation.out / "staging", contract.STAGING_DIR)
    assert comparison.left_only == []
    assert comparison.right_only == []
    assert comparison.diff_files == []


# ------------------------------------------------------------------------------------------- reference integrity


@pytest.mark.parametrize(("environment", "pipeline"), ALL_DEFINITIONS)
def test_every_reference_resolves_and_there_is_no_cycle(environment: str, pipeline: str) -> None:
    assert check_references(_definition(environment, pipeline)) == []


def _mutated(change: str) -> dict[str, Any]:
    definition = copy.deepcopy(_definition("dev"))
    preprocess = _step(definition, "Preprocess")
    if change == "duplicate":
        _step(definition, "IngestFeatures")["Name"] = "Preprocess"
    elif change == "dangling step":
        preprocess["DependsOn"] = ["Validate"]
    elif change == "unknown parameter":
        preprocess["Arguments"]["ProcessingResources"]["ClusterConfig"]["InstanceType"] = {"Get": "Parameters.Nope"}
    elif change == "unknown property file":
        gate = _step(definition, "CheckQualityGates")
        gate["Arguments"]["Conditions"][0]["LeftValue"]["Std:JsonGet"]["PropertyFile"] = {
            "Get": "Steps.EvaluateModel.PropertyFiles.Missing"
        }
    elif change == "cycle":
        _step(definition, "ValidateData")["DependsOn"] = ["EvaluateModel"]
    return definition


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ("duplicate", "duplicate step name 'Preprocess'"),
        ("dangling step", "DependsOn 'Validate' names no step"),
        ("unknown parameter", "Parameters.Nope is not a pipeline parameter"),
        ("unknown property file", "declares no such PropertyFile"),
        ("cycle", "dependency cycle: ValidateData -> EvaluateModel"),
    ],
)
def test_the_reference_check_catches_real_mistakes(change: str, expected: str) -> None:
    problems = check_references(_mutated(change))
    assert any(expected in problem for problem in problems), problems


@pytest.mark.parametrize(("environment", "pipeline"), ALL_DEFINITIONS)
def test_every_instance_type_comes_from_the_environment_config(
    platform_config: PlatformConfig, environment: str, pipeline: str
) -> None:
    env = platform_config.environment(environment)
    processing = env.monitoring.instance_type if pipeline == "monitoring" else env.processing.instance_type
    expected = {
        "Processing": processing,
        "Training": env.training.instance_type,
        "Tuning": env.training.instance_type,
        "RegisterModel": env.inference.instance_type,
        "Transform": env.inference.instance_type,
    }
    definition = _definition(environment, pipeline)
    found = instance_types(definition)
    assert found
    for step in all_steps(definition):
        if step["Name"] in found:
            assert set(found[step["Name"]]) == {expected[step["Type"]]}, step["Name"]


# ------------------------------------------------------------------------------------------------ what it does


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_steps_run_in_the_documented_order(environment: str, platform_config: PlatformConfig) -> None:
    definition = _definition(environment)
    train = "TuneModel" if platform_config.environment(environment).tuning.enabled else "TrainModel"
    top = [step["Name"] for step in definition["Steps"]]
    assert top == ["CheckDataSnapshot", "Preprocess", "IngestFeatures", train, "EvaluateModel", "CheckBiasAndExplain",
                   "CheckQualityGates"]  # fmt: skip
    guard = _step(definition, "CheckDataSnapshot")["Arguments"]
    assert [s["Name"] for s in guard["ElseSteps"]] == ["ValidateData"]  # runs only with a data snapshot
    assert _step(definition, "Preprocess")["DependsOn"] == ["ValidateData"]
    gate = _step(definition, "CheckQualityGates")["Arguments"]
    assert [s["Name"] for s in gate["IfSteps"]] == ["RegisterModel"]
    assert [s["Name"] for s in gate["ElseSteps"]] == ["QualityGateFailed"]


def test_the_gate_compares_each_metric_with_its_configured_threshold() -> None:
    definition = _definition("prod")
    conditions = _step(definition, "CheckQualityGates")["Arguments"]["Conditions"]
    compared = {(c["Type"], c["LeftValue"]["Std:JsonGet"]["Path"], c["RightValue"]["Get"]) for c in conditions}
    assert compared == {
        ("GreaterThanOrEqualTo", "binary_classification_metrics.auc.value", "Parameters.MinAuc"),
        ("GreaterThanOrEqualTo", "binary_classification_metrics.f1.value", "Parameters.MinF1"),
        ("LessThanOrEqualTo", "business_metric.expected_cost_per_1000", "Parameters.MaxCostPer1000"),
        ("GreaterThanOrEqualTo", "summary.min_disparate_impact", "Parameters.MinDisparateImpact"),
    }
    message = json.dumps(_step(definition, "QualityGateFailed")["Arguments"]["ErrorMessage"])
    for threshold in ("MinAuc", "MinF1", "MaxCostPer1000", "MinDisparateImpact"):
        assert f"Parameters.{threshold}" in message  # the failure names each metric beside its threshold


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_parameter_defaults_come_from_config(platform_config: PlatformConfig, environment: str) -> None:
    env = platform_config.environment(environment)
    defaults = {p["Name"]: p.get("DefaultValue") for p in _definition(environment)["Parameters"]}
    assert defaults["MinAuc"] == env.thresholds.min_auc
    assert defaults["MaxCostPer1000"] == env.thresholds.max_cost_per_1000
    assert defaults["ProcessingInstanceType"] == env.processing.instance_type
    assert defaults["TrainingInstanceType"] == env.training.instance_type
    assert defaults["NumRound"] == env.training.hyperparameters.num_round
    assert defaults["ModelApprovalStatus"] == "PendingManualApproval"


def test_registration_records_metrics_baselines_and_lineage() -> None:
    register = _step(_definition("dev"), "RegisterModel")["Arguments"]
    assert register["ModelApprovalStatus"] == {"Get": "Parameters.ModelApprovalStatus"}
    assert set(register["ModelMetrics"]) == {"ModelQuality", "Bias", "Explainability"}
    assert set(register["DriftCheckBaselines"]) == {"ModelDataQuality", "ModelQuality", "Bias"}
    lineage = register["CustomerMetadataProperties"]
    assert lineage["trigger"] == {"Get": "Parameters.Trigger"}
    assert lineage["code_version"] == {"Get": "Parameters.CodeVersion"}
    assert lineage["code_hash"] == fingerprint.code_hash()
    assert lineage["pipeline_execution_arn"] == {"Get": "Execution.PipelineExecutionArn"}
    assert lineage["input_manifest_uri"] == {"Get": "Parameters.InputManifestUri"}
    assert lineage["input_data_sha256"]["Std:JsonGet"]["Path"] == "input.sha256"  # the exact input bytes
    assert "Outputs['manifest']" in json.dumps(lineage["lineage_uri"])  # every input object, by URI
    assert "hyperparameters" in lineage


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_the_package_serves_raw_records_with_the_models_own_encoding_and_the_evaluations_threshold(
    environment: str,
) -> None:
    """Script mode: the handlers and the manifest travel in model.tar.gz (training gets Preprocess's manifest as a
    channel and packs both); the package's environment names the entry point and the evaluation's threshold."""
    definition = _definition(environment)
    register = _step(definition, "RegisterModel")["Arguments"]["InferenceSpecification"]
    (container,) = register["Containers"]
    assert container["Image"].endswith("/sagemaker-xgboost:3.0-5")
    environment_variables = container["Environment"]
    assert {k: environment_variables[k] for k in serve.SCRIPT_MODE_ENV} == serve.SCRIPT_MODE_ENV
    threshold = environment_variables[serve.THRESHOLD_ENV]["Std:JsonGet"]
    assert threshold == {
        "Path": "serving.decision_threshold",
        "PropertyFile": {"Get": "Steps.EvaluateModel.PropertyFiles.EvaluationReport"},
    }
    assert register["SupportedContentTypes"] == [serve.CSV, serve.JSON]
    assert register["SupportedResponseMIMETypes"] == [serve.JSON, serve.CSV]
    train = next(s for s in all_steps(definition) if s["Type"] in {"Training", "Tuning"})["Arguments"]
    job = train.get("TrainingJobDefinition", train)
    channels = {c["ChannelName"]: c for c in job["InputDataConfig"]}
    assert channels["manifest"]["DataSource"]["S3DataSource"]["S3Uri"] == {
        "Get": "Steps.Preprocess.ProcessingOutputConfig.Outputs['manifest'].S3Output.S3Uri"
    }
    outputs = [
        o["OutputName"] for o in _step(definition, "Preprocess")["Arguments"]["ProcessingOutputConfig"]["Outputs"]
    ]
    assert "raw_test" in outputs  # what the promotion's gate and smoke test send


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_spot_training_checkpoints_and_stopping_conditions_follow_config(
    platform_config: PlatformConfig, environment: str
) -> None:
    env = platform_config.environment(environment)
    definition = _definition(environment)
    train = next(s for s in definition["Steps"] if s["Type"] in {"Training", "Tuning"})
    job = train["Arguments"].get("TrainingJobDefinition", train["Arguments"])
    assert job["EnableManagedSpotTraining"] is env.training.use_spot_instances
    assert job["StoppingCondition"]["MaxRuntimeInSeconds"] == env.training.max_runtime_seconds
    if env.training.use_spot_instances:
        assert job["StoppingCondition"]["MaxWaitTimeInSeconds"] == env.training.max_wait_seconds
        assert job["CheckpointConfig"]["S3Uri"].startswith(f"s3://{contract.PLACEHOLDERS.artifacts_bucket}/")
    if env.tuning.enabled:
        limits = train["Arguments"]["HyperParameterTuningJobConfig"]["ResourceLimits"]
        assert limits == {
            "MaxNumberOfTrainingJobs": env.tuning.max_jobs,
            "MaxParallelTrainingJobs": env.tuning.max_parallel_jobs,
        }


def test_every_job_is_cached_and_no_cached_step_carries_a_per_execution_value() -> None:
    definition = _definition("dev")
    for name in ("ValidateData", "Preprocess", "IngestFeatures", "TrainModel", "EvaluateModel", "CheckBiasAndExplain"):
        step = _step(definition, name)
        assert step["CacheConfig"]["Enabled"] is True, name
        assert "Execution." not in json.dumps(step["Arguments"].get("AppSpecification", {})), name


def test_steps_run_the_deployed_code_version() -> None:
    code_uri = f"s3://{contract.PLACEHOLDERS.artifacts_bucket}/{contract.CODE_PREFIX}/{fingerprint.code_hash()}/"
    definition = _definition("dev")
    for step in all_steps(definition):
        if step["Type"] == "Processing":
            inputs = {i["InputName"]: i["S3Input"]["S3Uri"] for i in step["Arguments"]["ProcessingInputs"]}
            assert inputs["code"] == code_uri, step["Name"]
            assert step["Arguments"]["AppSpecification"]["ContainerEntrypoint"][:2] == ["python3", "-m"]
    channels = {c["ChannelName"]: c for c in _step(definition, "TrainModel")["Arguments"]["InputDataConfig"]}
    assert channels["code"]["DataSource"]["S3DataSource"]["S3Uri"] == code_uri


def test_the_definition_holds_no_account_or_bucket_of_this_machine(tmp_path: Path) -> None:
    text = "".join(contract.definition_path(e).read_text() for e in ENVIRONMENTS)
    assert "/tmp/" not in text
    assert str(contract.ROOT) not in text
    assert "000000000000" not in text.replace(contract.PLACEHOLDERS.role_arn, "").replace(
        contract.PLACEHOLDERS.kms_key_arn, ""
    ).replace(contract.PLACEHOLDERS.mlflow_tracking_server_arn, "")


def test_native_checks_add_model_monitor_and_clarify_baselines_when_switched_on(
    offline_generation: OfflineGeneration,
) -> None:
    native = json.loads((offline_generation.native / "staging-training.json").read_text())
    assert check_references(native) == []
    steps = {step["Name"]: step for step in native["Steps"]}
    assert steps["NativeDataQualityBaseline"]["Type"] == "QualityCheck"
    assert steps["NativeDataBiasBaseline"]["Type"] == "ClarifyCheck"
    for name in ("NativeDataQualityBaseline", "NativeDataBiasBaseline"):
        assert steps[name]["SkipCheck"] is True
        assert steps[name]["RegisterNewBaseline"] is True
        # staging has a network: SageMaker's own baseline jobs run in it, isolated (they call nothing)
        assert steps[name]["Arguments"]["NetworkConfig"] == {
            "EnableInterContainerTrafficEncryption": True,
            "EnableNetworkIsolation": True,
            "VpcConfig": {"SecurityGroupIds": ["sg-00000000placeholder"], "Subnets": ["subnet-00000000placeholder"]},
        }
    # Off by default: the shipped definitions have none of them.
    native_steps = {"NativeBaselineInputs", "NativeDataQualityBaseline", "NativeDataBiasBaseline"}
    assert not native_steps & {s["Name"] for s in _definition("staging")["Steps"]}


def test_the_native_data_quality_baseline_sees_the_request_layout_and_the_package_records_it(
    offline_generation: OfflineGeneration,
) -> None:
    """Model Monitor compares captured requests (raw records) column by column with its baseline: the baseline job
    must read the train split as raw requests, and the package must say where the baselines are."""
    native = json.loads((offline_generation.native / "staging-training.json").read_text())
    steps = {step["Name"]: step for step in native["Steps"]}
    inputs = steps["NativeBaselineInputs"]["Arguments"]
    assert inputs["AppSpecification"]["ContainerEntrypoint"][-1].endswith("pipeline_code.model_monitor_inputs")
    sources = {i["InputName"]: i["S3Input"]["S3Uri"] for i in inputs["ProcessingInputs"] if i["InputName"] != "code"}
    assert sources == {  # the manifest decodes the train split into the raw records the endpoint receives
        "train": {"Get": "Steps.Preprocess.ProcessingOutputConfig.Outputs['train'].S3Output.S3Uri"},
        # this build's Preprocess is sharded (offline_generation.SHARDED): baseline and manifest are the merge's
        "baseline": {"Get": "Steps.MergePreprocess.ProcessingOutputConfig.Outputs['baseline'].S3Output.S3Uri"},
        "manifest": {"Get": "Steps.MergePreprocess.ProcessingOutputConfig.Outputs['manifest'].S3Output.S3Uri"},
    }
    dataset = json.dumps(steps["NativeDataQualityBaseline"]["Arguments"])
    assert "Steps.NativeBaselineInputs.ProcessingOutputConfig.Outputs['features']" in dataset
    assert "Outputs['train']" not in dataset
    metadata = _step(native, "RegisterModel")["Arguments"]["CustomerMetadataProperties"]
    assert metadata["model_monitor_statistics"] == {
        "Get": "Steps.NativeDataQualityBaseline.CalculatedBaselineStatistics"
    }
    assert metadata["model_monitor_constraints"] == {
        "Get": "Steps.NativeDataQualityBaseline.CalculatedBaselineConstraints"
    }
    assert "Outputs['shap']" in json.dumps(metadata["model_monitor_shap_baseline"])
    assert "model_monitor_statistics" not in json.dumps(_definition("staging"))


# -------------------------------------------------------------------------------------- operations pipelines


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_monitoring_checks_the_live_model_with_the_configured_thresholds_and_publishes(
    platform_config: PlatformConfig, environment: str
) -> None:
    env = platform_config.environment(environment)
    definition = _definition(environment, "monitoring")
    gather = _step(definition, "GatherMonitoringInputs")["Arguments"]
    arguments = gather["AppSpecification"]["ContainerArguments"]
    assert arguments[arguments.index("--model-package-parameter") + 1] == f"/mlops/{environment}/current-model-package"
    assert arguments[arguments.index("--end") + 1] == {"Get": "Execution.StartDateTime"}
    defaults = {p["Name"]: p.get("DefaultValue") for p in definition["Parameters"]}
    assert defaults["WindowHours"] == env.monitoring.window_hours
    assert defaults["CaptureUri"].endswith(f"/data-capture/mlops-{environment}-endpoint/AllTraffic/")
    condition = _step(definition, "HasEnoughData")["Arguments"]
    assert condition["Conditions"][0]["RightValue"] == env.monitoring.min_rows
    assert [s["Name"] for s in condition["IfSteps"]] == ["CheckDrift"]
    assert condition["ElseSteps"] == []  # quiet windows are skipped, not failed
    check = _step(definition, "CheckDrift")["Arguments"]["AppSpecification"]["ContainerArguments"]
    t, m = env.thresholds, env.monitoring
    limits = {  # every limit of the drift check comes from the environment's config
        "--false-alarm-rate": t.drift_false_alarm_rate,
        "--numeric-wasserstein": t.drift_wasserstein,
        "--tail-wasserstein": t.drift_tail_wasserstein,
        "--zero-inflated-share": t.drift_zero_inflated_share,
        "--numeric-psi": t.drift_psi,
        "--prediction-psi": t.drift_psi,
        "--categorical-js": t.drift_jensen_shannon,
        "--label-rate-change": t.drift_label_rate_change,
        "--auc-drop": t.drift_auc_drop,
        "--bias-dppl-change": t.drift_bias_change,
        "--attribution-ndcg": t.drift_attribution_ndcg,
        "--min-rows": m.min_rows,
        "--min-facet-group": m.min_facet_group_rows,
        "--attribution-rows": m.attribution_sample_rows,
    }
    assert {option: check[check.index(option) + 1] for option in limits} == {k: str(v) for k, v in limits.items()}
    drift_options = {f"--{f.name.replace('_', '-')}" for f in dataclasses.fields(drift.Thresholds)}
    assert drift_options - set(limits) == {"--psi-bins", "--decision-threshold"}  # fixed by design, not config
    latest = check[check.index("--latest-report-uri") + 1]
    assert latest == f"s3://{contract.PLACEHOLDERS.artifacts_bucket}/{contract.LATEST_REPORT_KEY}"
    assert check[check.index("--namespace") + 1] == "MLOps/Monitoring"
    assert check[check.index("--dimension") + 1] == f"Environment=mlops-{environment}"
    assert "--publish-cloudwatch" in check
    assert "--publish-events" in check


def test_batch_inference_scores_with_the_resolved_model_and_keeps_inputs_beside_predictions() -> None:
    definition = _definition("prod", "batch-inference")
    # no preparation step: the transform reads the raw files, which the model's handlers encode as the endpoint does
    assert [s["Name"] for s in definition["Steps"]] == ["ResolveModel", "ScoreBatch"]
    transform = _step(definition, "ScoreBatch")["Arguments"]
    assert transform["TransformInput"]["DataSource"]["S3DataSource"]["S3Uri"] == {"Get": "Parameters.InputDataUri"}
    assert transform["TransformInput"]["ContentType"] == transform["TransformOutput"]["Accept"] == serve.CSV
    assert transform["ModelName"] == {
        "Std:JsonGet": {"Path": "model_name", "PropertyFile": {"Get": "Steps.ResolveModel.PropertyFiles.ResolvedModel"}}
    }
    assert transform["DataProcessing"]["JoinSource"] == "Input"
    assert transform["TransformInput"]["SplitType"] == "Line"
    output = json.dumps(transform["TransformOutput"]["S3OutputPath"])
    assert contract.PLACEHOLDERS.curated_bucket in output
    assert "batch-predictions" in output
    resolve = _step(definition, "ResolveModel")
    assert "CacheConfig" not in resolve  # "the latest approved model" must be looked up on every run
