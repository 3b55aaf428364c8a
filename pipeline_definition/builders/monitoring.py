"""The custom monitoring pipeline (`monitoring.backend: custom`): drift of the live model, in every AWS account.

GatherMonitoringInputs (the last window of endpoint capture or batch predictions, plus the deployed model, its
baseline and reference data; the window's labelled rows go back to the raw zone's `feedback/` as training data)
→ HasEnoughData → CheckDrift (feature, prediction, quality and bias drift; metrics to CloudWatch, a violations
event to EventBridge). Scheduled by `monitoring.schedule`. It runs the same deployed `pipeline_code/` version as
the training pipeline, through the shared `PipelineBuilder`.
"""

from __future__ import annotations

from sagemaker.core.workflow import ConditionGreaterThanOrEqualTo, ExecutionVariables, JsonGet, PropertyFile
from sagemaker.mlops.workflow import ConditionStep, Pipeline

from pipeline_definition.builders.base import PROCESSING_IN, PROCESSING_OUT, PipelineBuilder
from pipeline_definition.builders.parameters import MonitoringParameters
from pipeline_definition.contract import FEEDBACK_PREFIX, MONITORING_REPORTS_PREFIX, PLACEHOLDERS

MIN_MONITORING_ROWS = 100  # the drift check refuses fewer rows: effect sizes on tiny batches mislead


class MonitoringPipelineBuilder(PipelineBuilder[MonitoringParameters]):
    """The custom monitoring pipeline: works in every AWS account, no Model Monitor needed."""

    output_root = f"s3://{PLACEHOLDERS.artifacts_bucket}/{MONITORING_REPORTS_PREFIX}"

    def build(self) -> Pipeline:
        env = self.ctx.environment
        names = self.ctx.names
        summary = PropertyFile(name="MonitoringInputs", output_name="summary", path="summary.json")
        gather = self.processing_step(
            "GatherMonitoringInputs",
            "monitoring_inputs",
            inputs=[],
            outputs=["current", "scores", "baseline", "model", "reference", "summary"],
            arguments=[
                "--model-package-parameter",
                names.current_model_parameter,
                "--source",
                self.params.source,
                "--capture-uri",
                self.params.capture_uri,
                "--batch-uri",
                self.params.batch_uri,
                "--ground-truth-uri",
                self.params.ground_truth_uri,
                "--feedback-uri",
                f"s3://{PLACEHOLDERS.raw_bucket}/{FEEDBACK_PREFIX}",
                "--window-hours",
                self.params.window_hours.to_string(),
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
        report_uri = self.output_uri("CheckDrift", "drift")
        t = env.thresholds
        check = self.processing_step(
            "CheckDrift",
            "drift",
            inputs=[
                self.input(name, self.step_output(gather, name), f"{PROCESSING_IN}/{name}")
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
                names.metric_namespace,
                "--dimension",
                f"{names.metric_dimension}={names.prefix}",
                "--publish-cloudwatch",
                "--publish-events",
                "--report-uri",
                report_uri,
                "--environment",
                names.prefix,
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
            name=names.monitoring_pipeline,
            parameters=self.parameters,
            steps=[gather, enough],
            sagemaker_session=self.session,
            pipeline_experiment_config=None,  # no SageMaker Experiments trial per execution (see training.py)
        )
