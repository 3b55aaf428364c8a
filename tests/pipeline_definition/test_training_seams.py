"""The training pipeline's seams: data snapshots and step caching, registry metadata, the recorded
hyper-parameters and what the tuning job's training jobs run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
import regex

from pipeline_code import evaluate, preprocess
from pipeline_definition import contract, fingerprint
from pipeline_definition.local_runner.jobs import pack_folder
from pipeline_definition.references import all_steps
from tests.pipeline_code.snapshot import MANIFEST_URI, write_delivery
from tests.pipeline_definition.cache_keys import Run, cache_keys
from twin.api_contract import validate_request

ENVIRONMENTS = ("dev", "staging", "prod")
TUNED = ("staging", "prod")
SNAPSHOT = "s3://{bucket}/data-snapshots/{digest}.manifest"


def _definition(environment: str) -> dict[str, Any]:
    return json.loads(contract.definition_path(environment).read_text())


def _steps(definition: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {step["Name"]: step for step in all_steps(definition)}


def _snapshot(digest: str) -> str:
    return SNAPSHOT.format(bucket=contract.PLACEHOLDERS.artifacts_bucket, digest=digest)


# --------------------------------------------------------------------------------------------- data snapshots


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_validate_and_preprocess_read_exactly_the_snapshot(environment: str) -> None:
    definition = _definition(environment)
    assert "InputDataUri" not in {p["Name"] for p in definition["Parameters"]}
    steps = _steps(definition)
    for name in ("ValidateData", "Preprocess"):
        arguments = steps[name]["Arguments"]
        (data,) = [i["S3Input"] for i in arguments["ProcessingInputs"] if i["InputName"] == "data"]
        assert data["S3DataType"] == "ManifestFile"
        assert data["S3Uri"] == {"Get": "Parameters.InputManifestUri"}
        container = arguments["AppSpecification"]["ContainerArguments"]
        assert container[container.index("--manifest-uri") + 1] == {"Get": "Parameters.InputManifestUri"}


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_a_run_without_a_snapshot_fails_before_any_job_with_how_to_start_one(environment: str) -> None:
    definition = _definition(environment)
    defaults = {p["Name"]: p.get("DefaultValue") for p in definition["Parameters"]}
    guard = definition["Steps"][0]
    assert guard["Type"] == "Condition"
    (condition,) = guard["Arguments"]["Conditions"]
    assert condition["QueryValue"] == {"Get": "Parameters.InputManifestUri"}
    assert defaults["InputManifestUri"] in condition["Values"]
    (fail,) = guard["Arguments"]["IfSteps"]
    assert fail["Type"] == "Fail"
    message = fail["Arguments"]["ErrorMessage"]
    assert "InputManifestUri" in message
    assert f"{contract.PLACEHOLDERS.artifacts_bucket}/data-snapshots/" in message
    assert [s["Name"] for s in guard["Arguments"]["ElseSteps"]] == ["ValidateData"]
    # Nothing else may start on its own: every other job waits, directly or not, for ValidateData.
    steps = _steps(definition)

    def waits_for_validate(name: str, seen: frozenset[str] = frozenset()) -> bool:
        step = steps[name]
        upstream = set(step.get("DependsOn", [])) | {
            ref.split(".")[1] for ref in _gets(step.get("Arguments", {})) if ref.startswith("Steps.")
        }
        return "ValidateData" in upstream or any(waits_for_validate(u, seen | {name}) for u in upstream - seen)

    top_level = [s["Name"] for s in definition["Steps"][1:]]
    assert top_level
    assert all(waits_for_validate(name) for name in top_level), top_level


def _gets(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        if set(node) == {"Get"}:
            yield node["Get"]
        for value in node.values():
            yield from _gets(value)
    elif isinstance(node, list):
        for value in node:
            yield from _gets(value)


# ----------------------------------------------------------------------------------------------------- caching


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_cached_steps_hit_for_the_same_snapshot_and_miss_for_another(environment: str) -> None:
    definition = _definition(environment)
    first = cache_keys(definition, Run("exec0000000001", {"InputManifestUri": _snapshot("0123456789abcdef")}))
    # Another execution of the same snapshot, started by something else, from another commit.
    same_data = {"InputManifestUri": _snapshot("0123456789abcdef")}
    lineage = {"Trigger": "new-data", "TriggerDetail": "3 objects", "CodeVersion": "4f2a9c1"}
    again = cache_keys(definition, Run("exec0000000002", same_data | lineage))
    other = cache_keys(definition, Run("exec0000000003", {"InputManifestUri": _snapshot("fedcba9876543210")}))
    train = "TuneModel" if environment in TUNED else "TrainModel"
    assert set(first) == {"ValidateData", "Preprocess", "IngestFeatures", train, "EvaluateModel", "CheckBiasAndExplain"}
    assert first == again
    assert [name for name in first if first[name] == other[name]] == []


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_no_cached_step_has_a_per_execution_value_in_its_cache_key(environment: str) -> None:
    definition = _definition(environment)
    keys = cache_keys(definition, Run("exec0000000001", {"InputManifestUri": _snapshot("0123456789abcdef")}))
    for name, key in keys.items():
        assert "exec0000000001" not in key, name


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_pipelines_create_no_sagemaker_experiment_per_execution(environment: str) -> None:
    for pipeline in contract.PIPELINES:
        definition = json.loads(contract.definition_path(environment, pipeline).read_text())
        assert definition.get("PipelineExperimentConfig") is None, pipeline


# -------------------------------------------------------------------------------- a small run of the real steps


@pytest.fixture(scope="module")
def snapshot_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Validate, preprocess, train (as a tuning job's script mode starts it) and evaluate a small snapshot."""
    out = tmp_path_factory.mktemp("snapshot-run")
    write_delivery(out / "data")
    snapshot = ["--input", str(out / "data"), "--manifest-uri", MANIFEST_URI]
    from pipeline_code import validate

    assert validate.main([*snapshot, "--output", str(out / "validation")]) == 0
    assert preprocess.main([*snapshot, "--output", str(out / "preprocess")]) == 0
    # A tuning job's values, as the framework container passes them: SM_HPS (with its own settings) and --args.
    tuned = {"num_round": "40", "max_depth": "4", "eta": "0.0456789", "subsample": "0.8", "min_child_weight": "2.5"}
    hps = {**tuned, "sagemaker_program": "pipeline_code/train.py", "sagemaker_submit_directory": "/opt/ml/code"}
    model_dir = out / "model"
    completed = subprocess.run(
        [sys.executable, str(contract.CODE_DIR / "train.py"),
         "--train", str(out / "preprocess" / "train"), "--validation", str(out / "preprocess" / "validation"),
         "--model-dir", str(model_dir), *[token for k, v in tuned.items() for token in (f"--{k}", v)]],
        env={**os.environ, "SM_HPS": json.dumps(hps), "MLFLOW_TRACKING_URI": ""},
        capture_output=True, text=True, check=False, cwd=out,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stderr
    archive = out / "model-artifact"  # what a later step gets: the job's model folder as model.tar.gz
    archive.mkdir()
    pack_folder(model_dir, archive / "model.tar.gz")
    assert evaluate.main(["--model", str(archive), "--test", str(out / "preprocess" / "test"),
                          "--output", str(out / "evaluation")]) == 0  # fmt: skip
    return {"out": out, "stdout": completed.stdout, "tuned": tuned}


@pytest.mark.parametrize("environment", TUNED)
def test_the_tuning_metric_regex_reads_what_train_prints(environment: str, snapshot_run: dict[str, Any]) -> None:
    (tune,) = [s for s in _definition(environment)["Steps"] if s["Type"] == "Tuning"]
    job = tune["Arguments"]["TrainingJobDefinition"]
    objective = tune["Arguments"]["HyperParameterTuningJobConfig"]["HyperParameterTuningJobObjective"]
    (metric,) = [m for m in job["AlgorithmSpecification"]["MetricDefinitions"] if m["Name"] == objective["MetricName"]]
    values = [float(v) for v in regex.findall(metric["Regex"], snapshot_run["stdout"])]
    assert len(values) == 1
    assert 0.5 < values[0] <= 1.0


@pytest.mark.parametrize("environment", TUNED)
def test_tuning_jobs_start_the_training_code_as_train_model_does(environment: str) -> None:
    (tune,) = [s for s in _definition(environment)["Steps"] if s["Type"] == "Tuning"]
    job = tune["Arguments"]["TrainingJobDefinition"]
    code_uri = f"s3://{contract.PLACEHOLDERS.artifacts_bucket}/{contract.CODE_PREFIX}/{fingerprint.code_hash()}/"
    channels = {c["ChannelName"]: c["DataSource"]["S3DataSource"]["S3Uri"] for c in job["InputDataConfig"]}
    assert channels["code"] == code_uri
    drivers = contract.STAGING_DIR / channels["sm_drivers"].split(f"{contract.PLACEHOLDERS.artifacts_bucket}/")[1]
    assert "python3 -m pipeline_code.train" in (drivers / "sm_train.sh").read_text()
    static = job["StaticHyperParameters"]
    # Script mode: the container's entrypoint runs this file from the code channel, where it lies.
    assert (contract.CODE_DIR.parent / static["sagemaker_program"]).is_file()
    assert static["sagemaker_program"].startswith("pipeline_code/")
    assert static["sagemaker_submit_directory"] == "/opt/ml/input/data/code"
    tuned = {r["Name"] for ranges in tune["Arguments"]["HyperParameterTuningJobConfig"]["ParameterRanges"].values()
             for r in ranges}  # fmt: skip
    assert {"num_round", "max_depth", "eta", "subsample", "min_child_weight"} <= tuned | set(static)
    assert job["ResourceConfig"]["VolumeKmsKeyId"] == contract.PLACEHOLDERS.kms_key_arn


# ------------------------------------------------------------------------------------ hyper-parameters recorded


def test_the_evaluation_reports_the_hyperparameters_the_model_was_trained_with(snapshot_run: dict[str, Any]) -> None:
    report = json.loads((snapshot_run["out"] / "evaluation" / "evaluation.json").read_text())
    used = report["hyperparameters"]
    for name, value in snapshot_run["tuned"].items():
        assert float(used[name]) == float(value), name  # the tuning job's values, not the config's defaults
    assert "eta=0.0456789 " in report["hyperparameters_summary"]
    assert "max_depth=4 " in report["hyperparameters_summary"]


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_registration_takes_the_hyperparameters_from_the_evaluation(environment: str) -> None:
    metadata = _steps(_definition(environment))["RegisterModel"]["Arguments"]["CustomerMetadataProperties"]
    assert metadata["hyperparameters"]["Std:JsonGet"] == {
        "Path": "hyperparameters_summary",
        "PropertyFile": {"Get": "Steps.EvaluateModel.PropertyFiles.EvaluationReport"},
    }


# ------------------------------------------------------------------------------------------ registry metadata


def _metadata_problems(metadata: dict[str, str]) -> list[str]:
    """What SageMaker's CreateModelPackage would refuse in these CustomerMetadataProperties (botocore's model)."""
    return validate_request(
        "sagemaker", "CreateModelPackage", {"ModelPackageGroupName": "g", "CustomerMetadataProperties": metadata}
    )


def _produced(snapshot_run: dict[str, Any], json_get: dict[str, Any]) -> Any:
    """The value a Std:JsonGet reads, from the file the real step wrote in the small run."""
    step, _, file = json_get["PropertyFile"]["Get"].removeprefix("Steps.").partition(".PropertyFiles.")
    written = {
        ("Preprocess", "InputLineage"): snapshot_run["out"] / "preprocess" / "manifest" / "lineage.json",
        ("EvaluateModel", "EvaluationReport"): snapshot_run["out"] / "evaluation" / "evaluation.json",
    }
    assert (step, file) in written, f"no producer known for {step}.{file}: run it in snapshot_run"
    value = json.loads(written[step, file].read_text())
    for part in json_get["Path"].split("."):
        value = value[part]
    return value


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_every_registry_metadata_value_fits_sagemaker(environment: str, snapshot_run: dict[str, Any]) -> None:
    definition = _definition(environment)
    steps = _steps(definition)
    defaults = {p["Name"]: p.get("DefaultValue") for p in definition["Parameters"]}
    # Deploy-time names at their longest plausible length (a bucket name has at most 63 characters).
    longest_bucket = "mlops-prod-artifacts-123456789012-ap-southeast-2".ljust(63, "x")
    realistic = {contract.PLACEHOLDERS.artifacts_bucket: longest_bucket}
    execution = {
        "PipelineExecutionArn": "arn:aws:sagemaker:ap-southeast-2:123456789012:pipeline/mlops-prod-training/"
        "execution/abcdef123456",
        "PipelineExecutionId": "abcdef123456",
    }

    def value(node: Any) -> str:
        if isinstance(node, (str, int, float)):
            text = str(node)
            for placeholder, name in realistic.items():
                text = text.replace(placeholder, name)
            return text
        if "Std:Join" in node:
            return str(node["Std:Join"]["On"]).join(value(v) for v in node["Std:Join"]["Values"])
        if "Std:JsonGet" in node:
            return value(_produced(snapshot_run, node["Std:JsonGet"]))
        kind, _, rest = node["Get"].partition(".")
        if kind == "Parameters":
            return value(defaults[rest])
        if kind == "Execution":
            return execution[rest]
        step, _, output = rest.partition(".ProcessingOutputConfig.Outputs['")
        (uri,) = [
            o["S3Output"]["S3Uri"]
            for o in steps[step]["Arguments"]["ProcessingOutputConfig"]["Outputs"]
            if o["OutputName"] == output.split("'")[0]
        ]
        return value(uri)

    metadata = steps["RegisterModel"]["Arguments"]["CustomerMetadataProperties"]
    assert {"input_manifest_uri", "lineage_uri", "hyperparameters", "trigger_detail"} <= set(metadata)
    assert _metadata_problems({key: value(node) for key, node in metadata.items()}) == []


def test_the_metadata_check_refuses_what_sagemaker_refuses() -> None:
    assert _metadata_problems({"hyperparameters": "num_round=400 max_depth=6 eta=0.1 ünïcode"}) == []
    for refused in ("", "num_round=400;max_depth=6", "drift alarm (p99)", "x" * 257, "a,b"):
        assert _metadata_problems({"hyperparameters": refused}), refused
    assert _metadata_problems({"hyper parameters;": "x"}), "keys have a pattern too"
