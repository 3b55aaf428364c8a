"""Which pipeline steps may run on several instances, and why the others may not.

A step whose work splits by rows runs on N instances with its data input `ShardedByS3Key` (each instance gets a
share of the objects), writes partial results under its own host name, and a merge step after it combines them
exactly (`pipeline_code.partials`). A step that needs every row at once, or that does one indivisible thing,
cannot: a count above 1 for it is refused when the config loads, with the reason below, never silently
replicated (N instances each doing all the work and overwriting each other's outputs).

Standard library only: the config imports it, and the pipeline builders read the same tables.
"""

from __future__ import annotations

from collections.abc import Mapping

# step -> what one instance does with its share of the objects
SHARDABLE_STEPS: dict[str, str] = {
    "ValidateData": "checks its share of the snapshot's objects; MergeValidation sums the counts and decides",
    "Preprocess": "encodes and splits its share (the split is a hash of each record, the encoding the schema's); "
    "MergePreprocess merges the baseline statistics and the input lineage",
}

# step -> why it runs on one instance
SINGLE_INSTANCE_STEPS: dict[str, str] = {
    "IngestFeatures": "its record identifiers are the train split's content digest and row numbers, which only "
    "one reader of the whole split can number",
    "EvaluateModel": "AUC, the ROC curve and the cost-optimal threshold rank every test row against every other",
    "CheckBiasAndExplain": "the facet metrics and the SHAP explanations read the whole test split with the model",
    "NativeBaselineInputs": "it writes the train split as one request file and a one-row SHAP baseline of medians "
    "over every row",
    "GatherMonitoringInputs": "it gathers one window of captured requests into one current.csv and one summary",
    "CheckDrift": "it reads GatherMonitoringInputs' one current.csv, a single object that sharding by S3 key would "
    "hand to one instance (the check itself merges shards exactly: drift --shard-output / --parts)",
    "ResolveModel": "it makes one API call",
    "IngestPostgres": "it reads past one watermark per source in one transaction, exactly once",
    "MergeValidation": "it is the reduce step of ValidateData",
    "MergePreprocess": "it is the reduce step of Preprocess",
}

MAX_INSTANCES = 100


def scale_out_problems(counts: Mapping[str, int]) -> list[str]:
    """What is wrong with a `scale_out` mapping (step -> instances): unknown steps, bad counts, and counts above
    1 for steps that cannot shard, each with its reason. Empty when it is fine."""
    problems = []
    for step, count in counts.items():
        key = f"scale_out.{step}"
        if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_INSTANCES:
            problems.append(f"{key}: {count!r} is not an instance count (a whole number from 1 to {MAX_INSTANCES})")
        elif step in SINGLE_INSTANCE_STEPS:
            if count > 1:
                problems.append(f"{key}: {step} cannot run on several instances: {SINGLE_INSTANCE_STEPS[step]}")
        elif step not in SHARDABLE_STEPS:
            problems.append(
                f"{key}: no step named {step!r}; steps that can run on several instances: {', '.join(SHARDABLE_STEPS)}"
            )
    return problems


def shared_count_problem(key: str, count: int, steps: list[str]) -> str | None:
    """A count that applies to every job of a pipeline (`processing.instance_count`) may not exceed 1 while one
    of those jobs cannot shard: the message names the key, the steps, their reasons and the fix."""
    blocked = [step for step in steps if step in SINGLE_INSTANCE_STEPS]
    if count <= 1 or not blocked:
        return None
    reasons = "; ".join(f"{step}: {SINGLE_INSTANCE_STEPS[step]}" for step in blocked)
    return (
        f"{key} is {count}, but it applies to every job of the pipeline and these cannot run on several "
        f"instances ({reasons}); keep {key} at 1 and give the steps that can shard their own count in scale_out "
        f"({', '.join(SHARDABLE_STEPS)})"
    )


def training_problem(training_count: int, counts: Mapping[str, int]) -> str | None:
    """Distributed training shards the train split by S3 key: it must be at least one object per instance, which
    Preprocess on as many instances writes (one file a host)."""
    preprocess = instances(counts, "Preprocess")
    if training_count <= 1 or preprocess >= training_count:
        return None
    return (
        f"training.instance_count is {training_count}: distributed training gives each instance a share of the train "
        f"split's objects (ShardedByS3Key), and Preprocess on {preprocess} instance(s) writes {preprocess} "
        f"(instances beyond it would train on nothing); set scale_out.Preprocess to at least {training_count}"
    )


def instances(counts: Mapping[str, int], step: str) -> int:
    """The instances `step` runs on (1 unless `scale_out` names it)."""
    return counts.get(step, 1)
