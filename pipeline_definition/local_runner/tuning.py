"""A hyper-parameter tuning job, locally: a few training jobs on ranges sampled with a fixed seed.

SageMaker's Bayesian search cannot be reproduced; the local runner samples the definition's ranges at random
(seeded by the definition's RandomSeed) for at most `max_trials` jobs, reads each job's objective metric from its
logs with the definition's MetricDefinitions, and exposes the best as SageMaker does (BestTrainingJob and
TrainingJobSummaries sorted best first, which `get_top_model_s3_uri` indexes).
"""

from __future__ import annotations

import math
import random
from dataclasses import replace
from typing import Any

from pipeline_definition.local_runner import script_mode
from pipeline_definition.local_runner.errors import StepFailed, UnsupportedConstruct
from pipeline_definition.local_runner.jobs import JobContext, run_training

TUNING_OBJECTIVE = "_tuning_objective_metric"


def sample(ranges: dict[str, Any], rng: random.Random) -> dict[str, str]:
    """One value per range, as the strings SageMaker passes to the training job."""
    values: dict[str, str] = {}
    for spec in ranges.get("ContinuousParameterRanges", []):
        low, high = float(spec["MinValue"]), float(spec["MaxValue"])
        if spec.get("ScalingType") == "Logarithmic":
            values[spec["Name"]] = repr(math.exp(rng.uniform(math.log(low), math.log(high))))
        else:
            values[spec["Name"]] = repr(rng.uniform(low, high))
    for spec in ranges.get("IntegerParameterRanges", []):
        values[spec["Name"]] = str(rng.randint(int(spec["MinValue"]), int(spec["MaxValue"])))
    for spec in ranges.get("CategoricalParameterRanges", []):
        values[spec["Name"]] = str(rng.choice(spec["Values"]))
    return values


def run_tuning(ctx: JobContext, args: dict[str, Any], *, max_trials: int) -> dict[str, Any]:
    if "TrainingJobDefinitions" in args:
        raise UnsupportedConstruct(ctx.step, "TrainingJobDefinitions (several algorithms in one tuning job)")
    config = args["HyperParameterTuningJobConfig"]
    definition = args["TrainingJobDefinition"]
    objective = config["HyperParameterTuningJobObjective"]
    algorithm = definition.get("AlgorithmSpecification", {})
    if not algorithm.get("ContainerEntrypoint"):  # refused before any trial runs, unless script mode applies
        static = definition.get("StaticHyperParameters", {})
        script_mode.check_script_mode(ctx.step, algorithm.get("TrainingImage", "?"), static)
    trials = min(max_trials, int(config["ResourceLimits"]["MaxNumberOfTrainingJobs"]))
    rng = random.Random(config.get("RandomSeed", 0))
    tuning_name = ctx.job_name()[:32]
    summaries, failures = [], []
    for number in range(1, trials + 1):
        tuned = sample(config.get("ParameterRanges", {}), rng)
        job = {
            **{k: v for k, v in definition.items() if k != "StaticHyperParameters"},
            # SageMaker adds the objective's name to each trial's hyper-parameters (the toolkit keeps it from the
            # program's arguments)
            "HyperParameters": {
                **definition.get("StaticHyperParameters", {}),
                **tuned,
                TUNING_OBJECTIVE: objective["MetricName"],
            },
        }
        trial_ctx = replace(ctx, step_dir=ctx.step_dir / f"trial-{number:03d}")
        try:
            result = run_training(trial_ctx, job, suffix=f"trial-{number}")
        except StepFailed as err:
            failures.append(f"trial {number}: {err}")
            continue
        value = next(
            (m["Value"] for m in result["FinalMetricDataList"] if m["MetricName"] == objective["MetricName"]), None
        )
        if value is None:
            failures.append(
                f"trial {number}: the objective metric {objective['MetricName']} never appeared in its logs"
            )
            continue
        summaries.append(
            {
                "TrainingJobName": result["TrainingJobName"],
                "TrainingJobArn": result["TrainingJobArn"],
                "TrainingJobStatus": "Completed",
                "TunedHyperParameters": tuned,
                "FinalHyperParameterTuningJobObjectiveMetric": {"MetricName": objective["MetricName"], "Value": value},
                "S3ModelArtifacts": result["ModelArtifacts"]["S3ModelArtifacts"],
            }
        )
    if not summaries:
        raise StepFailed(f"no training job of {trials} succeeded with an objective value: " + "; ".join(failures))
    best_first = objective["Type"] == "Maximize"
    summaries.sort(key=lambda s: float(s["FinalHyperParameterTuningJobObjectiveMetric"]["Value"]), reverse=best_first)
    return {
        **args,
        "HyperParameterTuningJobName": tuning_name,
        "HyperParameterTuningJobStatus": "Completed",
        "BestTrainingJob": summaries[0],
        "TrainingJobSummaries": summaries,
        "FailedTrials": failures,
    }
