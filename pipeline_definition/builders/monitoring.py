"""The custom monitoring pipeline (`monitoring.backend: custom`): drift of the live model, in every AWS account.

GatherMonitoringInputs (the last window of endpoint capture or batch predictions, plus the deployed model, its
baseline and reference data; the window's labelled rows go back to the raw zone's `feedback/` as training data)
→ HasEnoughData (at least `monitoring.min_rows`) → CheckDrift (feature, label, prediction, quality, bias and
attribution drift at the `thresholds.drift_*` of the environment; metrics to CloudWatch, a violations event to
EventBridge, report.html beside the JSON and copied to `LATEST_REPORT_KEY`). Scheduled by
`monitoring.schedule`. It runs the same deployed `pipeline_code/` version as the training pipeline, through the
shared `PipelineBuilder`.
"""

from __future__ import annotations

from sagemaker.core.workflow import ConditionGreaterThanOrEqualTo, ExecutionVariables, JsonGet, PropertyFile
from sagemaker.mlops.workflow import ConditionStep, Pipeline

from config import EnvironmentConfig
from pipeline_definition.builders.base import PROCESSING_IN, PROCESSING_OUT, PipelineBuilder
from pipeline_definition.builders.parameters import MonitoringParameters
from pipeline_definition.contract import FEEDBACK_PREFIX, LATEST_REPORT_KEY, MONITORING_REPORTS_PREFIX, PLACEHOLDERS


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
                *drift_limit_arguments(env),
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
                "--latest-report-uri",
                f"s3://{PLACEHOLDERS.artifacts_bucket}/{LATEST_REPORT_KEY}",
                "--title",
                f"{names.prefix}: {env.monitoring.window_hours} h window ending at the run's start",
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
                    right=env.monitoring.min_rows,
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


def drift_limit_arguments(env: EnvironmentConfig) -> list[str]:
    """The drift check's limits (``pipeline_code.drift.Thresholds``) from the environment's config."""
    t, m = env.thresholds, env.monitoring
    limits: dict[str, float | int] = {
        "false-alarm-rate": t.drift_false_alarm_rate,
        "numeric-wasserstein": t.drift_wasserstein,
        "tail-wasserstein": t.drift_tail_wasserstein,
        "zero-inflated-share": t.drift_zero_inflated_share,
        "numeric-psi": t.drift_psi,
        "prediction-psi": t.drift_psi,
        "categorical-js": t.drift_jensen_shannon,
        "label-rate-change": t.drift_label_rate_change,
        "auc-drop": t.drift_auc_drop,
        "bias-dppl-change": t.drift_bias_change,
        "attribution-ndcg": t.drift_attribution_ndcg,
        "min-rows": m.min_rows,
        "min-facet-group": m.min_facet_group_rows,
        "attribution-rows": m.attribution_sample_rows,
    }
    return [part for name, value in limits.items() for part in (f"--{name}", str(value))]
