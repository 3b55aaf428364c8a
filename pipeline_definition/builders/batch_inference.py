"""The batch-inference pipeline: scores a data set in the lake with the latest approved model.

ResolveModel (the latest Approved package → a SageMaker model) → ScoreBatch (a Transform step over the raw files
under `InputDataUri` as they are: the model's own handlers read raw records, exactly as the endpoint does, so there
is no preparation step and no second copy of the encoding; each output line is the input line followed by
`probability,decision`, in the curated zone). Scheduled by `schedules.batch_inference`, or started on demand. It
runs the same deployed `pipeline_code/` version as the training pipeline, through the shared `PipelineBuilder`.
"""

from __future__ import annotations

from sagemaker.core.transformer import Transformer
from sagemaker.core.workflow import ExecutionVariables, Join, JsonGet, PropertyFile
from sagemaker.mlops.workflow import Pipeline, TransformStep

from pipeline_definition.builders.base import PROCESSING_OUT, PipelineBuilder
from pipeline_definition.builders.parameters import BatchInferenceParameters
from pipeline_definition.contract import BATCH_PREDICTIONS_PREFIX, PLACEHOLDERS


class BatchInferencePipelineBuilder(PipelineBuilder[BatchInferenceParameters]):
    """Scores a data set in the lake with the latest approved model; predictions go to the curated zone."""

    def build(self) -> Pipeline:
        env = self.ctx.environment
        resolved = PropertyFile(name="ResolvedModel", output_name="model", path="model.json")
        resolve = self.processing_step(
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
                *self._model_network(),
            ],
            property_files=[resolved],
            cache=False,  # "the latest approved model" changes between runs
        )
        transformer = Transformer(
            model_name=JsonGet(step_name=resolve.name, property_file=resolved, json_path="model_name"),
            # The SDK's TransformResources takes no pipeline variable for the count: it comes from config.
            instance_count=env.inference.initial_instance_count,
            instance_type=self.params.transform_type,
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
                # Every object under the prefix, raw (a header line is answered with one, so lines stay aligned).
                data=self.params.input_data,
                content_type="text/csv",
                split_type="Line",
                join_source="Input",  # each output line: the raw input line, then the model's probability,decision
            ),
        )
        return Pipeline(
            name=self.ctx.names.batch_pipeline,
            parameters=self.parameters,
            steps=[resolve, score],
            sagemaker_session=self.session,
            pipeline_experiment_config=None,  # no SageMaker Experiments trial per execution (see training.py)
        )

    def _model_network(self) -> list[str]:
        """Where the environment has a network, the model ResolveModel creates (which the transform job runs) is in
        its subnets, network-isolated: the serving container calls nothing, SageMaker moves its data."""
        if not self.ctx.environment.network.enabled:
            return []
        return [
            "--subnets",
            PLACEHOLDERS.subnet_ids,  # one argument per subnet once CDK replaces it (contract.LIST_PLACEHOLDERS)
            "--security-group-ids",
            PLACEHOLDERS.security_group_ids,
            "--network-isolation",
        ]
