"""Steps on several instances (`scale_out`): sharded inputs, per-host parts, merge steps, and nothing else changed."""

from __future__ import annotations

import json
from typing import Any

import pytest

from pipeline_definition import contract
from pipeline_definition.references import all_steps, check_references
from tests.pipeline_definition.conftest import OfflineGeneration
from tests.pipeline_definition.offline_generation import SHARDED

ENVIRONMENTS = ("dev", "staging", "prod")


def _steps(definition: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {step["Name"]: step for step in all_steps(definition)}


def _inputs(step: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {i["InputName"]: i["S3Input"] for i in step["Arguments"]["ProcessingInputs"] if i["InputName"] != "code"}


def _outputs(step: dict[str, Any]) -> dict[str, Any]:
    return {o["OutputName"]: o["S3Output"]["S3Uri"] for o in step["Arguments"]["ProcessingOutputConfig"]["Outputs"]}


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_shipped_steps_run_on_one_instance_with_every_object(environment: str) -> None:
    definition = json.loads(contract.definition_path(environment, "training").read_text())
    text = json.dumps(definition)
    assert "ShardedByS3Key" not in text
    assert "--shard-output" not in text
    assert not {"MergeValidation", "MergePreprocess"} & set(_steps(definition))


def test_sharded_steps_get_a_share_each_and_a_merge_step_reduces_their_parts(
    offline_generation: OfflineGeneration,
) -> None:
    definition = json.loads((offline_generation.native / "staging-training.json").read_text())
    assert check_references(definition) == []
    steps = _steps(definition)
    for name, count in SHARDED.items():
        step = steps[name]["Arguments"]
        # the count is the config's, fixed: the ProcessingInstanceCount parameter cannot replicate the job
        assert step["ProcessingResources"]["ClusterConfig"]["InstanceCount"] == count
        assert _inputs(steps[name])["data"]["S3DataDistributionType"] == "ShardedByS3Key"
        assert _inputs(steps[name])["data"]["S3DataType"] == "ManifestFile"
        assert step["AppSpecification"]["ContainerArguments"][-1] == "--shard-output"
    for merge in ("MergeValidation", "MergePreprocess"):
        arguments = steps[merge]["Arguments"]
        assert arguments["ProcessingResources"]["ClusterConfig"]["InstanceCount"] == 1
        assert arguments["AppSpecification"]["ContainerEntrypoint"][-1] == "pipeline_code.merge"
        assert all(
            i.get("S3DataDistributionType", "FullyReplicated") == "FullyReplicated"
            for i in _inputs(steps[merge]).values()
        )
    # Preprocess waits for the merged verdict, not for the shards
    assert steps["Preprocess"]["DependsOn"] == ["MergeValidation"]
    # the merged raw test split keeps the key the promotion reads; the hosts' parts go beside it
    raw_parts = json.dumps(_outputs(steps["Preprocess"])["raw_test"])
    assert '"Preprocess", "raw_test_parts"' in raw_parts
    assert '"Preprocess", "raw_test"]' in json.dumps(_outputs(steps["MergePreprocess"])["raw_test"])
    # everything that reads the baseline, the encoding or the lineage reads the merge's
    merged = "Steps.MergePreprocess.ProcessingOutputConfig.Outputs['{}']"
    trainer = json.dumps(steps.get("TrainModel", steps.get("TuneModel")))  # staging tunes
    assert merged.format("manifest") in trainer
    assert "Steps.Preprocess.ProcessingOutputConfig.Outputs['manifest']" not in trainer
    metadata = json.dumps(steps["RegisterModel"]["Arguments"])  # drift-check baselines, lineage
    assert merged.format("baseline") in metadata
    assert merged.format("manifest") in metadata
    readers = [
        name
        for name, step in steps.items()
        if "Steps.Preprocess.ProcessingOutputConfig.Outputs['baseline']" in json.dumps(step)
    ]
    assert readers == ["MergePreprocess"]
    # two training instances (XGBoost's distributed mode): each a share of the train split's objects; the
    # validation split and the manifest go to every worker; staging's tuning job trains the same way
    tuning = steps["TuneModel"]["Arguments"]["TrainingJobDefinition"]
    sources = {c["ChannelName"]: c["DataSource"]["S3DataSource"] for c in tuning["InputDataConfig"]}
    assert sources["train"]["S3DataDistributionType"] == "ShardedByS3Key"
    assert sources["validation"]["S3DataDistributionType"] == "FullyReplicated"
    assert tuning["ResourceConfig"]["InstanceCount"] == {"Get": "Parameters.TrainingInstanceCount"}
    defaults = {p["Name"]: p.get("DefaultValue") for p in definition["Parameters"]}
    assert defaults["TrainingInstanceCount"] == 2
    # steps that cannot shard stay on the pipeline's count with every object
    for name in ("IngestFeatures", "EvaluateModel", "CheckBiasAndExplain", "NativeBaselineInputs"):
        assert all(
            i.get("S3DataDistributionType", "FullyReplicated") == "FullyReplicated"
            for i in _inputs(steps[name]).values()
        )
