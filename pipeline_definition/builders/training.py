"""The training pipeline, built with the SageMaker Python SDK (v3) from the steps in `pipeline_code/`.

validate → preprocess → ingest features → (native baselines) → train (or tune) → evaluate → bias and
explainability → a condition on the configured quality, business and bias thresholds → register the model (pending
manual approval) or fail with a message naming the metric and the threshold it missed.

The steps that stand apart are in their own modules: TuneModel (`tuning`), SageMaker's native baselines
(`native_checks`) and RegisterModel (`registration`); the parameters in `parameters`.
"""

from __future__ import annotations

from typing import Any

from sagemaker.core.shapes.shapes import (
    Channel,
    CheckpointConfig,
    DataSource,
    OutputDataConfig,
    S3DataSource,
    StoppingCondition,
)
from sagemaker.core.training.configs import Compute, InputData, Networking, SourceCode
from sagemaker.core.workflow import (
    ConditionGreaterThanOrEqualTo,
    ConditionIn,
    ConditionLessThanOrEqualTo,
    Join,
    JsonGet,
    PropertyFile,
)
from sagemaker.mlops.workflow import (
    ConditionStep,
    FailStep,
    Pipeline,
    ProcessingStep,
    TrainingStep,
    TuningStep,
)
from sagemaker.train.model_trainer import ModelTrainer

from pipeline_definition.builders.base import PROCESSING_IN, PROCESSING_OUT, BuildContext, PipelineBuilder
from pipeline_definition.builders.native_checks import NativeChecks, native_checks
from pipeline_definition.builders.parameters import NO_DATA_SNAPSHOT, TrainingParameters
from pipeline_definition.builders.registration import RunResults, register_step
from pipeline_definition.builders.sharding import preprocessing_steps, validation_steps
from pipeline_definition.builders.tuning import tuning_step
from pipeline_definition.contract import DATA_SNAPSHOT_PREFIX, OUTPUT_PREFIX, PLACEHOLDERS

# The data snapshot a training run reads: s3://<artifacts>/data-snapshots/<sha256 first 16 hex>.manifest, a
# SageMaker ManifestFile written by whoever starts the run. Left at its default (NO_DATA_SNAPSHOT), the run stops
# at once, with this message.
NO_DATA_SNAPSHOT_MESSAGE = (
    "No data snapshot: the training pipeline reads exactly the objects listed in InputManifestUri, an immutable "
    f"SageMaker manifest file s3://{PLACEHOLDERS.artifacts_bucket}/{DATA_SNAPSHOT_PREFIX}/<sha256 first 16 hex>"
    '.manifest ([{"prefix": "s3://<raw bucket>/"}, "<dataset>/<file>", ...]). Start runs through the retraining '
    "triggers, the release's code-change trigger or the manual-run command, which write the snapshot and pass "
    "its URI; a run started by hand must pass InputManifestUri itself."
)


class TrainingPipelineBuilder(PipelineBuilder[TrainingParameters]):
    """Turns one environment's config into the training `Pipeline` (call `definition()` for the JSON)."""

    def __init__(self, context: BuildContext, parameters: TrainingParameters) -> None:
        super().__init__(context, parameters)
        if self.tracking_env:  # same snapshot, same cache key: caching still works
            self.tracking_env["MLOPS_DATA_SNAPSHOT"] = parameters.manifest

    def build(self) -> Pipeline:
        env = self.ctx.environment
        p = self.params
        # Both read exactly the snapshot's objects (ManifestFile), landed under their keys below data/; on several
        # instances (scale_out) each reads a share and a merge step reduces their parts (`sharding`).
        snapshot_args = ["--input", f"{PROCESSING_IN}/data", "--manifest-uri", p.manifest]
        validation = validation_steps(self, p.manifest, snapshot_args)
        guard = self._snapshot_guard(validation.first)
        preprocessing = preprocessing_steps(self, p.manifest, snapshot_args)
        preprocess, results, lineage_file = preprocessing.step, preprocessing.results, preprocessing.lineage_file
        preprocess.add_depends_on([validation.last])
        ingest = self.processing_step(
            "IngestFeatures",
            "feature_records",
            inputs=[
                self.input("train", self.step_output(preprocess, "train"), f"{PROCESSING_IN}/train"),
                # the learned columns' categories (a data set with `categories: learn`)
                self.input("manifest", self.step_output(preprocess, "manifest"), f"{PROCESSING_IN}/manifest"),
            ],
            outputs=["feature_records"],
            arguments=[
                "--data",
                f"{PROCESSING_IN}/train",
                "--feature-group",
                PLACEHOLDERS.feature_group,
                "--region",
                env.region,
                "--output",
                f"{PROCESSING_OUT}/feature_records",
                # record ids come from each row's content: with an online store (what BatchGetRecord reads), the
                # rows an earlier split already wrote are skipped
                *(["--skip-existing"] if env.feature_store.online_store else []),
            ],
            # cached like the others: record ids come from the rows' content, so a hit (the same split) finds its
            # records in the store already
        )

        native = native_checks(self, preprocess, results) if env.pipeline.native_checks else NativeChecks()
        trainer = self._trainer(preprocess)
        channels = [
            # several training instances: XGBoost's distributed mode, each worker a share of the train objects
            Channel(
                channel_name="train",
                content_type="text/csv",
                data_source=DataSource(
                    s3_data_source=S3DataSource(
                        s3_data_type="S3Prefix",
                        s3_uri=self.step_output(preprocess, "train"),
                        s3_data_distribution_type="ShardedByS3Key",
                    )
                ),
            )
            if env.training.instance_count > 1
            else InputData(
                channel_name="train", data_source=self.step_output(preprocess, "train"), content_type="text/csv"
            ),
            InputData(
                channel_name="validation",
                data_source=self.step_output(preprocess, "validation"),
                content_type="text/csv",
            ),
            # the encoding of the data: training packs it into model.tar.gz, which serves with it (pipeline_code.serve)
            InputData(
                channel_name="manifest",
                data_source=self.step_output(results, "manifest"),
                content_type="application/json",
            ),
        ]
        training = TrainingStep(
            name="TrainModel", step_args=trainer.train(input_data_config=channels), cache_config=self.cache
        )
        train: TrainingStep | TuningStep
        model_data: Any
        if env.tuning.enabled:
            train, model_data = tuning_step(
                env, trainer=trainer, channels=channels, training=training, cache=self.cache
            )
        else:
            train = training
            model_data = train.properties.ModelArtifacts.S3ModelArtifacts

        evaluation_report = PropertyFile(name="EvaluationReport", output_name="evaluation", path="evaluation.json")
        evaluate = self.processing_step(
            "EvaluateModel",
            "evaluate",
            inputs=[
                self.input("model", model_data, f"{PROCESSING_IN}/model"),
                self.input("test", self.step_output(preprocess, "test"), f"{PROCESSING_IN}/test"),
            ],
            outputs=["evaluation"],
            arguments=[
                "--model",
                f"{PROCESSING_IN}/model",
                "--test",
                f"{PROCESSING_IN}/test",
                "--output",
                f"{PROCESSING_OUT}/evaluation",
                "--false-positive-cost",
                p.fp_cost.to_string(),
                "--false-negative-cost",
                p.fn_cost.to_string(),
            ],
            property_files=[evaluation_report],
        )
        bias_report = PropertyFile(name="BiasReport", output_name="bias", path="bias_report.json")
        bias = self.processing_step(
            "CheckBiasAndExplain",
            "bias_explain",
            inputs=[
                self.input("model", model_data, f"{PROCESSING_IN}/model"),
                self.input("test", self.step_output(preprocess, "test"), f"{PROCESSING_IN}/test"),
            ],
            outputs=["bias"],
            arguments=[
                "--model",
                f"{PROCESSING_IN}/model",
                "--data",
                f"{PROCESSING_IN}/test",
                "--output",
                f"{PROCESSING_OUT}/bias",
            ],
            property_files=[bias_report],
        )

        auc = JsonGet(
            step_name=evaluate.name,
            property_file=evaluation_report,
            json_path="binary_classification_metrics.auc.value",
        )
        f1 = JsonGet(
            step_name=evaluate.name, property_file=evaluation_report, json_path="binary_classification_metrics.f1.value"
        )
        cost = JsonGet(
            step_name=evaluate.name, property_file=evaluation_report, json_path="business_metric.expected_cost_per_1000"
        )
        disparate_impact = JsonGet(
            step_name=bias.name, property_file=bias_report, json_path="summary.min_disparate_impact"
        )

        register = register_step(
            self,
            RunResults(
                model_data=model_data,
                preprocess=results,
                lineage_file=lineage_file,
                evaluate=evaluate,
                evaluation_report=evaluation_report,
                bias=bias,
                model_metadata=native.model_metadata,
            ),
        )
        fail = FailStep(
            name="QualityGateFailed",
            error_message=Join(
                on="",
                values=[
                    "Model not registered: a quality gate failed. AUC ",
                    auc,
                    " (minimum ",
                    p.min_auc,
                    "); F1 ",
                    f1,
                    " (minimum ",
                    p.min_f1,
                    "); expected cost per 1,000 decisions ",
                    cost,
                    " (maximum ",
                    p.max_cost,
                    "); lowest disparate impact across facets ",
                    disparate_impact,
                    " (minimum ",
                    p.min_di,
                    ").",
                ],
            ),
        )
        gate = ConditionStep(
            name="CheckQualityGates",
            conditions=[
                ConditionGreaterThanOrEqualTo(left=auc, right=p.min_auc),
                ConditionGreaterThanOrEqualTo(left=f1, right=p.min_f1),
                ConditionLessThanOrEqualTo(left=cost, right=p.max_cost),
                ConditionGreaterThanOrEqualTo(left=disparate_impact, right=p.min_di),
            ],
            if_steps=[register],
            else_steps=[fail],
        )
        return Pipeline(
            name=self.ctx.names.training_pipeline,
            parameters=self.parameters,
            steps=[
                guard,
                *([validation.last] if validation.last is not validation.first else []),
                preprocess,
                *([results] if results is not preprocess else []),
                ingest,
                *native.steps,
                train,
                evaluate,
                bias,
                gate,
            ],
            sagemaker_session=self.session,
            # The SDK's default would have Pipelines create an experiment and a trial per execution (SageMaker
            # Experiments), which the pipeline role may not do; tracking is MLflow's (pipeline_code.tracking).
            pipeline_experiment_config=None,
        )

    def _snapshot_guard(self, validate: ProcessingStep) -> ConditionStep:
        """Stop a run without a data snapshot before anything runs, with a message saying how to start one.

        The rest of the pipeline hangs off ValidateData, the else branch (Preprocess depends on it), so nothing
        else can start while the condition routes to the Fail step.
        """
        return ConditionStep(
            name="CheckDataSnapshot",
            conditions=[ConditionIn(value=self.params.manifest, in_values=[NO_DATA_SNAPSHOT, ""])],
            if_steps=[FailStep(name="NoDataSnapshot", error_message=NO_DATA_SNAPSHOT_MESSAGE)],
            else_steps=[validate],
        )

    def _trainer(self, preprocess: ProcessingStep) -> ModelTrainer:
        env = self.ctx.environment
        spot = env.training.use_spot_instances
        return ModelTrainer(
            sagemaker_session=self.session,
            role=PLACEHOLDERS.role_arn,
            training_image=self.training_image,
            source_code=SourceCode(
                source_dir=str(self.source_dir),
                command="python3 -m pipeline_code.train",
            ),
            output_data_config=OutputDataConfig(
                s3_output_path=f"s3://{PLACEHOLDERS.artifacts_bucket}/{OUTPUT_PREFIX}/models",
                kms_key_id=PLACEHOLDERS.kms_key_arn,
            ),
            compute=Compute(
                instance_type=self.params.training_type,
                instance_count=self.params.training_count,
                volume_size_in_gb=env.training.volume_size_gb,
                volume_kms_key_id=PLACEHOLDERS.kms_key_arn,
                enable_managed_spot_training=spot,
            ),
            stopping_condition=StoppingCondition(
                max_runtime_in_seconds=env.training.max_runtime_seconds,
                max_wait_time_in_seconds=env.training.max_wait_seconds if spot else None,
            ),
            checkpoint_config=CheckpointConfig(
                s3_uri=f"s3://{PLACEHOLDERS.artifacts_bucket}/{OUTPUT_PREFIX}/checkpoints/",
                local_path="/opt/ml/checkpoints",
            )
            if spot
            else None,
            # CreateTrainingJob's HyperParameters is a string-to-string map: numeric parameters go in as strings
            # (Std:Join of one value, what the SDK's `to_string()` writes), never as JSON numbers.
            hyperparameters={
                "num_round": self.params.num_round.to_string(),
                "max_depth": self.params.max_depth.to_string(),
                "eta": self.params.eta.to_string(),
                "subsample": self.params.subsample.to_string(),
                "min_child_weight": self.params.min_child_weight.to_string(),
            },
            base_job_name=self.ctx.names.training_job_prefix,
            environment={**self.dataset_env, **self.tracking_env},
            networking=self._networking("TrainModel"),
        )

    def _networking(self, step: str) -> Networking | None:
        """The training job's side of `network_config` (ModelTrainer's own type for the same request fields)."""
        config = self.network_config(step)
        if config is None:
            return None
        return Networking(
            subnets=config.subnets,
            security_group_ids=config.security_group_ids,
            enable_network_isolation=config.enable_network_isolation,
            enable_inter_container_traffic_encryption=config.encrypt_inter_container_traffic,
        )
