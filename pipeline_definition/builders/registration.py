"""The training pipeline's RegisterModel step: the model package it writes to the Model Registry.

The package carries what the promotion and the monitoring read later: the serving image and its environment, the
evaluation, bias and explainability reports (model metrics), the drift-check baselines, and the run's lineage as
metadata (snapshot, code, trigger, hyper-parameters, and, with native checks, where SageMaker's baselines are).

The model serves raw records (`pipeline_code.serve`): SageMaker's XGBoost framework container in script mode runs
the handlers packed in ``model.tar.gz`` (``SAGEMAKER_PROGRAM``, ``SAGEMAKER_SUBMIT_DIRECTORY``), and decides at the
threshold the evaluation found cheapest at the configured costs (``MLOPS_DECISION_THRESHOLD``, from
``evaluation.json``'s ``serving.decision_threshold``). The environment is part of the package: every environment
that promotes it serves it the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sagemaker.core import image_uris
from sagemaker.core.drift_check_baselines import DriftCheckBaselines
from sagemaker.core.model_metrics import MetricsSource, ModelMetrics
from sagemaker.core.workflow import ExecutionVariables, Join, JsonGet, PropertyFile
from sagemaker.mlops.workflow import ModelStep, ProcessingStep
from sagemaker.serve.model_builder import ModelBuilder

from pipeline_code import schema, serve
from pipeline_definition.builders.base import SERVING_IMAGE, PipelineBuilder
from pipeline_definition.builders.parameters import TrainingParameters
from pipeline_definition.contract import PLACEHOLDERS


@dataclass(frozen=True)
class RunResults:
    """What the steps before the gate produced, as the registration reads them."""

    model_data: Any  # the trained (or the tuning job's best) model's S3 URI
    preprocess: ProcessingStep
    lineage_file: PropertyFile  # Preprocess's lineage.json
    evaluate: ProcessingStep
    evaluation_report: PropertyFile  # EvaluateModel's evaluation.json
    bias: ProcessingStep
    model_metadata: dict[str, Any]  # more metadata (native checks' baselines), possibly none


def register_step(builder: PipelineBuilder[TrainingParameters], run: RunResults) -> ModelStep:
    """RegisterModel: a package in the group, with the approval status the run was given (pending by default)."""
    env = builder.ctx.environment
    label = schema.load(builder.ctx.names.dataset).label
    params = builder.params
    serving_image = image_uris.retrieve(SERVING_IMAGE[0], region=env.region, version=SERVING_IMAGE[1])
    evaluation_uri = Join(on="/", values=[builder.step_output(run.evaluate, "evaluation"), "evaluation.json"])
    bias_uri = Join(on="/", values=[builder.step_output(run.bias, "bias"), "bias_report.json"])
    explain_uri = Join(on="/", values=[builder.step_output(run.bias, "bias"), "explainability.json"])
    baseline_uri = Join(on="/", values=[builder.step_output(run.preprocess, "baseline"), "baseline.json"])
    metrics = ModelMetrics(
        model_statistics=MetricsSource(s3_uri=evaluation_uri, content_type="application/json"),
        bias_post_training=MetricsSource(s3_uri=bias_uri, content_type="application/json"),
        explainability=MetricsSource(s3_uri=explain_uri, content_type="application/json"),
    )
    baselines = DriftCheckBaselines(
        model_data_statistics=MetricsSource(s3_uri=baseline_uri, content_type="application/json"),
        model_statistics=MetricsSource(s3_uri=evaluation_uri, content_type="application/json"),
        bias_post_training_constraints=MetricsSource(s3_uri=bias_uri, content_type="application/json"),
    )
    threshold = JsonGet(
        step_name=run.evaluate.name, property_file=run.evaluation_report, json_path="serving.decision_threshold"
    )
    model = ModelBuilder(
        s3_model_data_url=run.model_data,
        image_uri=serving_image,
        role_arn=PLACEHOLDERS.role_arn,
        sagemaker_session=builder.session,
        env_vars={**serve.SCRIPT_MODE_ENV, serve.THRESHOLD_ENV: threshold},
    )
    step_args = model.register(
        model_package_group_name=PLACEHOLDERS.model_package_group,
        content_types=[serve.CSV, serve.JSON],
        response_types=[serve.JSON, serve.CSV],
        inference_instances=[env.inference.instance_type],
        transform_instances=[env.inference.instance_type],
        model_metrics=metrics,
        drift_check_baselines=baselines,
        approval_status=params.approval_status,
        description=f"{label} classifier trained by {builder.ctx.names.training_pipeline}",
        # Every value must be 1-256 characters of [\p{L}\p{Z}\p{N}_.:/=+\-@] (the registry refuses the package
        # otherwise): URIs, hex digests, ARNs, sanitized parameters and the evaluation's metadata-safe summary.
        # Lineage that does not fit (every input object) is in the JSON document at lineage_uri.
        customer_metadata_properties={
            "input_manifest_uri": params.manifest,
            "input_data_sha256": JsonGet(
                step_name=run.preprocess.name, property_file=run.lineage_file, json_path="input.sha256"
            ),
            "lineage_uri": Join(on="/", values=[builder.step_output(run.preprocess, "manifest"), "lineage.json"]),
            "code_version": params.code_version,
            "code_hash": builder.code_hash,
            "pipeline_execution_arn": ExecutionVariables.PIPELINE_EXECUTION_ARN,
            "trigger": params.trigger,
            "trigger_detail": params.trigger_detail,
            # What the registered model was trained with: for a tuned run the winning job's, read from the
            # model by the evaluation (pipeline_code.evaluate).
            "hyperparameters": JsonGet(
                step_name=run.evaluate.name, property_file=run.evaluation_report, json_path="hyperparameters_summary"
            ),
            **run.model_metadata,
        },
    )
    return ModelStep(name="RegisterModel", step_args=step_args)
