"""The operations pipelines: custom monitoring of the live model, and batch inference on data in the lake.

Both reuse `PipelineBuilder` (offline session, image, step code, job I/O) and the modules in `pipeline_code/`:

- monitoring: GatherMonitoringInputs (the last window of endpoint capture or batch predictions, plus the deployed
  model, its baseline and reference data; the window's labelled rows go back to the raw zone's `feedback/` as
  training data) → HasEnoughData → CheckDrift (feature, prediction, quality and bias
  drift; metrics to CloudWatch, a violations event to EventBridge). Scheduled by `monitoring.schedule`.
- batch inference: PrepareBatch (raw rows → the model's feature layout) and ResolveModel (the latest Approved
  package → a SageMaker model) → ScoreBatch (a Transform step; predictions joined to their inputs, in the
  curated zone). Scheduled by `schedules.batch_inference`, or started on demand.
"""

from __future__ import annotations

from typing import Any

from sagemaker.core.transformer import Transformer
from sagemaker.core.workflow import (
    ConditionGreaterThanOrEqualTo,
    ExecutionVariables,
    Join,
    JsonGet,
    ParameterInteger,
    ParameterString,
    PropertyFile,
)
from sagemaker.mlops.workflow import ConditionStep, Pipeline, TransformStep

from pipeline_definition.builder import PROCESSING_IN, PROCESSING_OUT, PipelineBuilder
from pipeline_definition.contract import (
    BATCH_PREDICTIONS_PREFIX,
    DATA_CAPTURE_PREFIX,
    FEEDBACK_PREFIX,
    GROUND_TRUTH_PREFIX,
    METRIC_NAMESPACE,
    MONITORING_REPORTS_PREFIX,
    PLACEHOLDERS,
    current_model_parameter,
    endpoint_name,
    pipeline_name,
)

MIN_MONITORING_ROWS = 100  # the drift check refuses fewer rows: effect sizes on tiny batches mislead


class MonitoringPipelineBuilder(PipelineBuilder):
    """The custom monitoring pipeline: works in every AWS account, no Model Monitor needed."""

    output_root = f"s3://{PLACEHOLDERS.artifacts_bucket}/{MONITORING_REPORTS_PREFIX}"

    def _parameters(self) -> None:
        env = self.ctx.environment
        endpoint = endpoint_name(self.ctx.project_name, env.name)
        artifacts = f"s3://{PLACEHOLDERS.artifacts_bucket}"
        self.processing_type = ParameterString("ProcessingInstanceType", default_value=env.monitoring.instance_type)
        self.processing_count = ParameterInteger("ProcessingInstanceCount", default_value=env.monitoring.instance_count)
        self.source = ParameterString("Source", default_value=env.monitoring.source, enum_values=["capture", "batch"])
        self.capture_uri = ParameterString(
            "CaptureUri", default_value=f"{artifacts}/{DATA_CAPTURE_PREFIX}/{endpoint}/AllTraffic/"
        )
        self.batch_uri = ParameterString(
            "BatchPredictionsUri", default_value=f"s3://{PLACEHOLDERS.curated_bucket}/{BATCH_PREDICTIONS_PREFIX}/"
        )
        self.ground_truth_uri = ParameterString("GroundTruthUri", default_value=f"{artifacts}/{GROUND_TRUTH_PREFIX}/")
        self.window_hours = ParameterInteger("WindowHours", default_value=env.monitoring.window_hours)

    @property
    def parameters(self) -> list[Any]:
        return [
            self.processing_type,
            self.processing_count,
            self.source,
            self.capture_uri,
            self.batch_uri,
            self.ground_truth_uri,
            self.window_hours,
        ]

    def build(self) -> Pipeline:
        env = self.ctx.environment
        prefix = f"{self.ctx.project_name}-{env.name}"
        summary = PropertyFile(name="MonitoringInputs", output_name="summary", path="summary.json")
        gather = self._processing_step(
            "GatherMonitoringInputs",
            "monitoring_inputs",
            inputs=[],
            outputs=["current", "scores", "baseline", "model", "reference", "summary"],
            arguments=[
                "--model-package-parameter",
                current_model_parameter(self.ctx.project_name, env.name),
                "--source",
                self.source,
                "--capture-uri",
                self.capture_uri,
                "--batch-uri",
                self.batch_uri,
                "--ground-truth-uri",
                self.ground_truth_uri,
                "--feedback-uri",
                f"s3://{PLACEHOLDERS.raw_bucket}/{FEEDBACK_PREFIX}",
                "--window-hours",
                self.window_hours.to_string(),
                "--end",
                ExecutionVariables.START_DATETIME,
                "--region",
                env.region,
                "--output",
                PROCESSING_OUT,
            ],
            property_files=[summary],
            cache=False,  # the window moves with every run
        )
        report_uri = self._output_uri("CheckDrift", "drift")
        t = env.thresholds
        check = self._processing_step(
            "CheckDrift",
            "drift",
            inputs=[
                self._input(name, self._step_output(gather, name), f"{PROCESSING_IN}/{name}")
                for name in ("current", "baseline", "model", "reference")
            ],
            outputs=["drift"],
            arguments=[
                "--baseline",
                f"{PROCESSING_IN}/baseline/baseline.json",
                "--data",
                f"{PROCESSING_IN}/current",
                "--model",
                f"{PROCESSING_IN}/model",
                "--reference",
                f"{PROCESSING_IN}/reference",
                "--output",
                f"{PROCESSING_OUT}/drift",
                "--numeric-psi",
                str(t.drift_psi),
                "--prediction-psi",
                str(t.drift_psi),
                "--categorical-js",
                str(t.drift_jensen_shannon),
                "--namespace",
                METRIC_NAMESPACE,
                "--dimension",
                f"Environment={prefix}",
                "--publish-cloudwatch",
                "--publish-events",
                "--report-uri",
                report_uri,
                "--environment",
                prefix,
                "--region",
                env.region,
            ],
            cache=False,
        )
        enough = ConditionStep(
            name="HasEnoughData",
            conditions=[
                ConditionGreaterThanOrEqualTo(
                    left=JsonGet(step_name=gather.name, property_file=summary, json_path="rows"),
                    right=MIN_MONITORING_ROWS,
                )
            ],
            if_steps=[check],
            else_steps=[],  # too little traffic in the window is not a failure: nothing to check yet
        )
        return Pipeline(
            name=pipeline_name(self.ctx.project_name, env.name, "monitoring"),
            parameters=self.parameters,
            steps=[gather, enough],
            sagemaker_session=self.session,
            pipeline_experiment_config=None,  # no SageMaker Experiments trial per execution (see the builder)
        )


class BatchInferencePipelineBuilder(PipelineBuilder):
    """Scores a data set in the lake with the latest approved model; predictions go to the curated zone."""

    def _parameters(self) -> None:
        env = self.ctx.environment
        self.processing_type = ParameterString("ProcessingInstanceType", default_value=env.processing.instance_type)
        self.processing_count = ParameterInteger("ProcessingInstanceCount", default_value=1)
        self.input_data = ParameterString("InputDataUri", default_value=f"s3://{PLACEHOLDERS.raw_bucket}/batch/")
        self.transform_type = ParameterString("TransformInstanceType", default_value=env.inference.instance_type)

    @property
    def parameters(self) -> list[Any]:
        return [self.processing_type, self.processing_count, self.input_data, self.transform_type]

    def build(self) -> Pipeline:
        env = self.ctx.environment
        prepare = self._processing_step(
            "PrepareBatch",
            "batch_prepare",
            inputs=[self._input("data", self.input_data, f"{PROCESSING_IN}/data")],
            outputs=["features"],
            arguments=["--input", f"{PROCESSING_IN}/data", "--output", f"{PROCESSING_OUT}/features"],
        )
        resolved = PropertyFile(name="ResolvedModel", output_name="model", path="model.json")
        resolve = self._processing_step(
            "ResolveModel",
            "resolve_model",
            inputs=[],
            outputs=["model"],
            arguments=[
                "--model-package-group",
                PLACEHOLDERS.model_package_group,
                "--execution-role-arn",
                PLACEHOLDERS.role_arn,
                "--region",
                env.region,
                "--output",
                f"{PROCESSING_OUT}/model",
            ],
            property_files=[resolved],
            cache=False,  # "the latest approved model" changes between runs
        )
        transformer = Transformer(
            model_name=JsonGet(step_name=resolve.name, property_file=resolved, json_path="model_name"),
            # The SDK's TransformResources takes no pipeline variable for the count: it comes from config.
            instance_count=env.inference.initial_instance_count,
            instance_type=self.transform_type,
            strategy="MultiRecord",
            assemble_with="Line",
            accept="text/csv",
            output_path=Join(
                on="/",
                values=[
                    f"s3://{PLACEHOLDERS.curated_bucket}/{BATCH_PREDICTIONS_PREFIX}",
                    ExecutionVariables.PIPELINE_EXECUTION_ID,
                ],
            ),
            output_kms_key=PLACEHOLDERS.kms_key_arn,
            volume_kms_key=PLACEHOLDERS.kms_key_arn,
            sagemaker_session=self.session,
        )
        score = TransformStep(
            name="ScoreBatch",
            step_args=transformer.transform(
                # The file itself: the folder also holds manifest.json, which is not data to score.
                data=Join(on="/", values=[self._step_output(prepare, "features"), "features.csv"]),
                content_type="text/csv",
                split_type="Line",
                join_source="Input",  # each output line: the features the model saw, then its score
            ),
        )
        return Pipeline(
            name=pipeline_name(self.ctx.project_name, env.name, "batch-inference"),
            parameters=self.parameters,
            steps=[prepare, resolve, score],
            sagemaker_session=self.session,
            pipeline_experiment_config=None,  # no SageMaker Experiments trial per execution (see the builder)
        )
