"""SageMaker's own data-quality (Model Monitor) and data-bias (Clarify) baselines, for `pipeline.native_checks`.

Only for accounts that still have both services. They register new baselines and never fail the run: the gate is
the project's own evaluation and bias step, which every account can run. The data-quality baseline is computed over
the train split in the endpoint's request layout (raw records, features only, from
`pipeline_code.model_monitor_inputs`, which also writes the SHAP baseline row); the model package records where
both baselines are (`model_monitor_*` metadata) for the promotion to hand them to the monitoring schedules of the
model-monitor backend.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sagemaker.core.clarify import BiasConfig, DataConfig
from sagemaker.core.model_monitor import DatasetFormat
from sagemaker.core.network import NetworkConfig
from sagemaker.core.workflow import Join
from sagemaker.mlops.workflow import CheckJobConfig, ClarifyCheckStep, ProcessingStep, QualityCheckStep
from sagemaker.mlops.workflow.clarify_check_step import DataBiasCheckConfig
from sagemaker.mlops.workflow.quality_check_step import DataQualityCheckConfig

from pipeline_code import schema
from pipeline_definition.builders.base import PROCESSING_IN, PROCESSING_OUT, PipelineBuilder
from pipeline_definition.contract import PLACEHOLDERS, STAGING_PREFIX


class _QualityCheckStep(QualityCheckStep):  # type: ignore[misc]  # the SDK ships no type information
    """QualityCheckStep whose request holds its NetworkConfig as the API's fields: the SDK (3.27) puts the
    `NetworkConfig` object itself there, which the definition's JSON cannot hold."""

    @property
    def arguments(self) -> dict[str, Any]:
        return _plain_network(super().arguments)


class _ClarifyCheckStep(ClarifyCheckStep):  # type: ignore[misc]
    """ClarifyCheckStep with the same fix as `_QualityCheckStep`."""

    @property
    def arguments(self) -> dict[str, Any]:
        return _plain_network(super().arguments)


def _plain_network(request: dict[str, Any]) -> dict[str, Any]:
    network = request.get("NetworkConfig")
    if isinstance(network, NetworkConfig):
        request["NetworkConfig"] = network._to_request_dict()
    return request


@dataclass(frozen=True)
class NativeChecks:
    steps: list[Any] = field(default_factory=list)  # after Preprocess, beside the training
    model_metadata: dict[str, Any] = field(default_factory=dict)  # where the baselines are, for the registry


def native_checks(builder: PipelineBuilder[Any], preprocess: ProcessingStep, results: ProcessingStep) -> NativeChecks:
    """The baseline steps over `preprocess`'s train split (with the baseline and manifest of `results`: the
    step itself, or its merge step when sharded), and the model metadata that points at their results."""
    env = builder.ctx.environment
    inputs = builder.processing_step(
        "NativeBaselineInputs",
        "model_monitor_inputs",
        inputs=[
            builder.input("train", builder.step_output(preprocess, "train"), f"{PROCESSING_IN}/train"),
            builder.input("baseline", builder.step_output(results, "baseline"), f"{PROCESSING_IN}/baseline"),
            builder.input("manifest", builder.step_output(results, "manifest"), f"{PROCESSING_IN}/manifest"),
        ],
        outputs=["features", "shap"],
        arguments=[
            "--train",
            f"{PROCESSING_IN}/train",
            "--baseline",
            f"{PROCESSING_IN}/baseline",
            "--manifest",
            f"{PROCESSING_IN}/manifest",
            "--output",
            PROCESSING_OUT,
        ],
    )
    check_job = CheckJobConfig(
        role=PLACEHOLDERS.role_arn,
        instance_count=1,
        instance_type=env.processing.instance_type,
        volume_size_in_gb=env.processing.volume_size_gb,
        volume_kms_key=PLACEHOLDERS.kms_key_arn,
        output_kms_key=PLACEHOLDERS.kms_key_arn,
        sagemaker_session=builder.session,
        # Both checks run SageMaker's own containers on the train split: they call nothing (isolated).
        network_config=builder.network_config("NativeDataQualityBaseline"),
    )
    train_uri = builder.step_output(preprocess, "train")
    dataset = schema.load(builder.ctx.names.dataset)
    headers = [dataset.label, *dataset.feature_names]
    quality = _QualityCheckStep(
        name="NativeDataQualityBaseline",
        quality_check_config=DataQualityCheckConfig(
            baseline_dataset=Join(on="/", values=[builder.step_output(inputs, "features"), "features.csv"]),
            dataset_format=DatasetFormat.csv(header=False),
            output_s3_uri=builder.output_uri("NativeDataQualityBaseline", "baseline"),
        ),
        check_job_config=check_job,
        skip_check=True,
        register_new_baseline=True,
        model_package_group_name=PLACEHOLDERS.model_package_group,
    )
    bias = _ClarifyCheckStep(
        name="NativeDataBiasBaseline",
        clarify_check_config=DataBiasCheckConfig(
            data_config=DataConfig(
                s3_data_input_path=train_uri,
                s3_output_path=builder.output_uri("NativeDataBiasBaseline", "baseline"),
                # The analysis config is uploaded at build time (to the staging folder), so it needs a fixed
                # prefix; the SDK's default would share one key between both Clarify steps.
                s3_analysis_config_output_path=f"s3://{PLACEHOLDERS.artifacts_bucket}/{STAGING_PREFIX}/clarify",
                label=dataset.label,
                headers=headers,
                dataset_type="text/csv",
            ),
            data_bias_config=BiasConfig(
                label_values_or_threshold=[1],
                facet_name=dataset.facets[0].name,
                facet_values_or_threshold=[dataset.facet_group_code()],
            ),
            kms_key=PLACEHOLDERS.kms_key_arn,
        ),
        check_job_config=check_job,
        skip_check=True,
        register_new_baseline=True,
        model_package_group_name=PLACEHOLDERS.model_package_group,
    )
    metadata = {
        "model_monitor_statistics": quality.properties.CalculatedBaselineStatistics,
        "model_monitor_constraints": quality.properties.CalculatedBaselineConstraints,
        "model_monitor_shap_baseline": Join(on="/", values=[builder.step_output(inputs, "shap"), "shap_baseline.csv"]),
    }
    return NativeChecks(steps=[inputs, quality, bias], model_metadata=metadata)
