"""Each pipeline's execution parameters: what a run may change without a new definition.

One frozen dataclass per pipeline, built once from the environment's config (defaults) and handed to its builder.
The field order is the order of the definition's `Parameters` list (`base.declared`): reordering fields changes
the committed definitions. The names are the interface the starters use (`lambdas.shared.run_request`,
`release/`): renaming one is a contract change, caught by `tests/lambdas/test_contract.py`.
"""

from __future__ import annotations

from dataclasses import dataclass

from sagemaker.core.workflow import ParameterFloat, ParameterInteger, ParameterString

from config import EnvironmentConfig
from naming import EnvironmentNames
from pipeline_definition.contract import (
    BATCH_PREDICTIONS_PREFIX,
    DATA_CAPTURE_PREFIX,
    GROUND_TRUTH_PREFIX,
    PLACEHOLDERS,
)

# The InputManifestUri of a run started without a data snapshot: the training pipeline stops at once on it.
NO_DATA_SNAPSHOT = "none"


@dataclass(frozen=True)
class TrainingParameters:
    # The data, as a content-addressed snapshot: SageMaker's cache key of a Processing step holds input URIs,
    # never bytes, so only an immutable manifest makes "same key" mean "same data".
    manifest: ParameterString
    processing_type: ParameterString
    processing_count: ParameterInteger
    training_type: ParameterString
    training_count: ParameterInteger
    min_auc: ParameterFloat
    min_f1: ParameterFloat
    max_cost: ParameterFloat
    fp_cost: ParameterFloat
    fn_cost: ParameterFloat
    min_di: ParameterFloat
    num_round: ParameterInteger
    max_depth: ParameterInteger
    eta: ParameterFloat
    subsample: ParameterFloat
    min_child_weight: ParameterFloat
    # Lineage: what started this run, and from which code.
    trigger: ParameterString
    trigger_detail: ParameterString  # registered as model metadata, whose values must be 1-256 characters
    code_version: ParameterString
    approval_status: ParameterString

    @classmethod
    def from_config(cls, env: EnvironmentConfig) -> TrainingParameters:
        hp = env.training.hyperparameters
        t = env.thresholds
        return cls(
            manifest=ParameterString("InputManifestUri", default_value=NO_DATA_SNAPSHOT),
            processing_type=ParameterString("ProcessingInstanceType", default_value=env.processing.instance_type),
            processing_count=ParameterInteger("ProcessingInstanceCount", default_value=env.processing.instance_count),
            training_type=ParameterString("TrainingInstanceType", default_value=env.training.instance_type),
            training_count=ParameterInteger("TrainingInstanceCount", default_value=env.training.instance_count),
            min_auc=ParameterFloat("MinAuc", default_value=t.min_auc),
            min_f1=ParameterFloat("MinF1", default_value=t.min_f1),
            max_cost=ParameterFloat("MaxCostPer1000", default_value=t.max_cost_per_1000),
            fp_cost=ParameterFloat("FalsePositiveCost", default_value=t.false_positive_cost),
            fn_cost=ParameterFloat("FalseNegativeCost", default_value=t.false_negative_cost),
            min_di=ParameterFloat("MinDisparateImpact", default_value=t.min_disparate_impact),
            num_round=ParameterInteger("NumRound", default_value=hp.num_round),
            max_depth=ParameterInteger("MaxDepth", default_value=hp.max_depth),
            eta=ParameterFloat("Eta", default_value=hp.eta),
            subsample=ParameterFloat("Subsample", default_value=hp.subsample),
            min_child_weight=ParameterFloat("MinChildWeight", default_value=hp.min_child_weight),
            trigger=ParameterString("Trigger", default_value="manual", enum_values=None),
            trigger_detail=ParameterString("TriggerDetail", default_value="none"),  # never empty (see above)
            code_version=ParameterString("CodeVersion", default_value="unreleased"),
            approval_status=ParameterString("ModelApprovalStatus", default_value="PendingManualApproval"),
        )


@dataclass(frozen=True)
class MonitoringParameters:
    processing_type: ParameterString
    processing_count: ParameterInteger
    source: ParameterString  # which window to check: endpoint capture or batch predictions
    capture_uri: ParameterString
    batch_uri: ParameterString
    ground_truth_uri: ParameterString
    window_hours: ParameterInteger

    @classmethod
    def from_config(cls, names: EnvironmentNames, env: EnvironmentConfig) -> MonitoringParameters:
        monitoring = env.monitoring
        endpoint = names.endpoint
        artifacts = f"s3://{PLACEHOLDERS.artifacts_bucket}"
        return cls(
            processing_type=ParameterString("ProcessingInstanceType", default_value=monitoring.instance_type),
            processing_count=ParameterInteger("ProcessingInstanceCount", default_value=monitoring.instance_count),
            source=ParameterString("Source", default_value=monitoring.source, enum_values=["capture", "batch"]),
            capture_uri=ParameterString(
                "CaptureUri", default_value=f"{artifacts}/{DATA_CAPTURE_PREFIX}/{endpoint}/AllTraffic/"
            ),
            batch_uri=ParameterString(
                "BatchPredictionsUri", default_value=f"s3://{PLACEHOLDERS.curated_bucket}/{BATCH_PREDICTIONS_PREFIX}/"
            ),
            ground_truth_uri=ParameterString("GroundTruthUri", default_value=f"{artifacts}/{GROUND_TRUTH_PREFIX}/"),
            window_hours=ParameterInteger("WindowHours", default_value=monitoring.window_hours),
        )


@dataclass(frozen=True)
class BatchInferenceParameters:
    processing_type: ParameterString
    processing_count: ParameterInteger
    input_data: ParameterString
    transform_type: ParameterString

    @classmethod
    def from_config(cls, env: EnvironmentConfig) -> BatchInferenceParameters:
        return cls(
            processing_type=ParameterString("ProcessingInstanceType", default_value=env.processing.instance_type),
            processing_count=ParameterInteger("ProcessingInstanceCount", default_value=1),
            input_data=ParameterString("InputDataUri", default_value=f"s3://{PLACEHOLDERS.raw_bucket}/batch/"),
            transform_type=ParameterString("TransformInstanceType", default_value=env.inference.instance_type),
        )
