"""The training pipeline's steps that may run on several instances (`config.scale_out`), and their merge steps.

On one instance (the default, and every shipped environment) a step is what it always was. On N > 1 (the
environment's `scale_out`): the data input is `ShardedByS3Key`, the count is N (fixed with the input, not the
pipeline's ProcessingInstanceCount parameter, which would replicate the job), the step runs with
``--shard-output`` (each host's results under ``<host>/``) and a merge step on one instance reduces them
(`pipeline_code.merge`). What reads the step's results reads the merge step's outputs of the same names, so the
rest of the pipeline does not know whether the data was sharded.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sagemaker.core.workflow import PropertyFile
from sagemaker.mlops.workflow import ProcessingStep

from config.scale_out import instances
from pipeline_definition.builders.base import PROCESSING_IN, PROCESSING_OUT, PipelineBuilder

PREPROCESS_OUTPUTS = ["train", "validation", "test", "raw_test", "manifest", "baseline"]
RAW_TEST_PARTS = "raw_test_parts"  # a sharded Preprocess's raw test rows, per host; merged into raw_test


@dataclass(frozen=True)
class Validation:
    first: ProcessingStep  # what the snapshot guard starts
    last: ProcessingStep  # what Preprocess waits for


@dataclass(frozen=True)
class Preprocessing:
    step: ProcessingStep  # the splits (train, validation, test): one folder per host when sharded
    results: ProcessingStep  # manifest (with lineage.json) and baseline: the step itself, or its merge
    lineage_file: PropertyFile


def validation_steps(builder: PipelineBuilder[Any], manifest: Any, snapshot_args: list[Any]) -> Validation:
    count = instances(builder.ctx.environment.scale_out, "ValidateData")
    sharded = count > 1
    validate = builder.processing_step(
        "ValidateData",
        "validate",
        inputs=[builder.input("data", manifest, f"{PROCESSING_IN}/data", "ManifestFile", sharded=sharded)],
        outputs=["validation"],
        arguments=[
            *snapshot_args,
            "--output",
            f"{PROCESSING_OUT}/validation",
            *(["--shard-output"] if sharded else []),
        ],
        instance_count=count if sharded else None,
    )
    if not sharded:
        return Validation(validate, validate)
    merge = builder.processing_step(
        "MergeValidation",
        "merge",
        inputs=[
            builder.input("validation", builder.step_output(validate, "validation"), f"{PROCESSING_IN}/validation")
        ],
        outputs=["validation"],
        arguments=[
            "validation",
            "--parts",
            f"{PROCESSING_IN}/validation",
            "--manifest-uri",
            manifest,
            "--output",
            f"{PROCESSING_OUT}/validation",
        ],
        instance_count=1,
    )
    return Validation(validate, merge)


def preprocessing_steps(builder: PipelineBuilder[Any], manifest: Any, snapshot_args: list[Any]) -> Preprocessing:
    count = instances(builder.ctx.environment.scale_out, "Preprocess")
    sharded = count > 1
    lineage_file = PropertyFile(name="InputLineage", output_name="manifest", path="lineage.json")
    data = builder.input("data", manifest, f"{PROCESSING_IN}/data", "ManifestFile", sharded=sharded)
    if not sharded:
        step = builder.processing_step(
            "Preprocess",
            "preprocess",
            inputs=[data],
            outputs=PREPROCESS_OUTPUTS,
            arguments=[*snapshot_args, "--output", PROCESSING_OUT],
            property_files=[lineage_file],
        )
        return Preprocessing(step, step, lineage_file)
    step = builder.processing_step(
        "Preprocess",
        "preprocess",
        inputs=[data],
        outputs=PREPROCESS_OUTPUTS,
        arguments=[*snapshot_args, "--output", PROCESSING_OUT, "--shard-output"],
        instance_count=count,
        # the merged raw test split keeps the key the promotion reads (<run>/Preprocess/raw_test/test.csv)
        output_places={"raw_test": ("Preprocess", RAW_TEST_PARTS)},
    )
    merge = builder.processing_step(
        "MergePreprocess",
        "merge",
        inputs=[
            builder.input(name, builder.step_output(step, name), f"{PROCESSING_IN}/{name}")
            for name in ("manifest", "baseline", "raw_test")
        ],
        outputs=["manifest", "baseline", "raw_test"],
        arguments=[
            "preprocess",
            "--manifest",
            f"{PROCESSING_IN}/manifest",
            "--baseline",
            f"{PROCESSING_IN}/baseline",
            "--raw-test",
            f"{PROCESSING_IN}/raw_test",
            "--output",
            PROCESSING_OUT,
        ],
        property_files=[lineage_file],
        instance_count=1,
        output_places={"raw_test": ("Preprocess", "raw_test")},
    )
    return Preprocessing(step, merge, lineage_file)
