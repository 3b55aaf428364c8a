"""The training pipeline, built with the SageMaker Python SDK (v3) from the steps in `pipeline_code/`.

validate → preprocess → ingest features → train (or tune) → evaluate → bias and explainability →
a condition on the configured quality, business and bias thresholds → register the model (pending manual
approval) or fail with a message naming the metric and the threshold it missed.

Nothing here knows deploy-time names: buckets, the role, the key, the feature group and the model package group
appear as placeholders (`Placeholders`) that CDK replaces with its tokens. Building is offline and
deterministic (`OfflinePipelineSession`): the same config and code give the same bytes.
"""

from __future__ import annotations

import copy
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sagemaker.core import image_uris
from sagemaker.core.clarify import BiasConfig, DataConfig
from sagemaker.core.drift_check_baselines import DriftCheckBaselines
from sagemaker.core.model_metrics import MetricsSource, ModelMetrics
from sagemaker.core.model_monitor import DatasetFormat
from sagemaker.core.parameter import ContinuousParameter, IntegerParameter
from sagemaker.core.processing import ProcessingInput, ProcessingOutput, ProcessingS3Input, Processor
from sagemaker.core.shapes.shapes import CheckpointConfig, OutputDataConfig, ProcessingS3Output, StoppingCondition
from sagemaker.core.training.configs import Compute, InputData, SourceCode
from sagemaker.core.workflow import (
    ConditionGreaterThanOrEqualTo,
    ConditionIn,
    ConditionLessThanOrEqualTo,
    ExecutionVariables,
    Join,
    JsonGet,
    ParameterFloat,
    ParameterInteger,
    ParameterString,
    PropertyFile,
)
from sagemaker.mlops.workflow import (
    CacheConfig,
    CheckJobConfig,
    ClarifyCheckStep,
    ConditionStep,
    FailStep,
    ModelStep,
    Pipeline,
    ProcessingStep,
    QualityCheckStep,
    TrainingStep,
    TuningStep,
)
from sagemaker.mlops.workflow.clarify_check_step import DataBiasCheckConfig
from sagemaker.mlops.workflow.quality_check_step import DataQualityCheckConfig
from sagemaker.serve.model_builder import ModelBuilder
from sagemaker.train.model_trainer import ModelTrainer
from sagemaker.train.tuner import HyperparameterTuner

from config import EnvironmentConfig
from pipeline_code import schema
from pipeline_definition.contract import (
    CODE_PREFIX,
    OUTPUT_PREFIX,
    PLACEHOLDERS,
    STAGING_PREFIX,
    code_files,
    pipeline_name,
)
from pipeline_definition.fingerprint import code_hash
from pipeline_definition.offline_session import OfflinePipelineSession
from pipeline_definition.tuning_step import ScriptTuningStep

CONTAINER_CODE_DIR = "/opt/ml/processing/input/code"
PROCESSING_IN = "/opt/ml/processing/input"
PROCESSING_OUT = "/opt/ml/processing/output"

# SageMaker Distribution (CPU): Python 3.12 with numpy, pandas, pyarrow, scipy, scikit-learn, xgboost and
# matplotlib, everything `pipeline_code/requirements.txt` lists, so jobs install nothing at start.
DISTRIBUTION_IMAGE = ("sagemaker-distribution", "3.2.0")
SERVING_IMAGE = ("xgboost", "3.0-5")  # the SageMaker XGBoost container serves `xgboost-model` files

METRIC_REGEX = r"validation-auc:([0-9\.]+)"  # what pipeline_code.train prints last

# The data snapshot a training run reads: s3://<artifacts>/data-snapshots/<sha256 first 16 hex>.manifest, a
# SageMaker ManifestFile written by whoever starts the run. Left at this default, the run stops at once.
DATA_SNAPSHOTS_PREFIX = "data-snapshots"
NO_DATA_SNAPSHOT = "none"
NO_DATA_SNAPSHOT_MESSAGE = (
    "No data snapshot: the training pipeline reads exactly the objects listed in InputManifestUri, an immutable "
    f"SageMaker manifest file s3://{PLACEHOLDERS.artifacts_bucket}/{DATA_SNAPSHOTS_PREFIX}/<sha256 first 16 hex>"
    '.manifest ([{"prefix": "s3://<raw bucket>/"}, "adult/adult.data", ...]). Start runs through the retraining '
    "triggers, the release's code-change trigger or the manual-run command, which write the snapshot and pass "
    "its URI; a run started by hand must pass InputManifestUri itself."
)
# The tuning job's training jobs cannot name an entrypoint: they run train.py in script mode (tuning_step.py).
TUNING_SCRIPT = "pipeline_code/train.py"
TRAINING_CODE_CHANNEL = "/opt/ml/input/data/code"


@dataclass(frozen=True)
class BuildContext:
    environment: EnvironmentConfig
    project_name: str
    code_dir: Path  # the pipeline_code package folder
    staging_dir: Path  # receives what the SDK uploads (shipped by CDK under STAGING_PREFIX)
    scratch_dir: Path  # temporary: a clean copy of the step code for the training job's source dir


class PipelineBuilder:
    """What every pipeline of the platform shares: the offline session, the image, the step code, job I/O.

    Subclasses declare their parameters (setting `processing_type` and `processing_count`) in `_parameters()`
    and their steps in `build()`.
    """

    output_root = f"s3://{PLACEHOLDERS.artifacts_bucket}/{OUTPUT_PREFIX}"
    processing_type: Any
    processing_count: Any

    def __init__(self, context: BuildContext) -> None:
        self.ctx = context
        env = context.environment
        self.code_hash = code_hash(context.code_dir)
        code_prefix = f"{CODE_PREFIX}/{self.code_hash}/"
        # The training job's source dir: the package's files (no caches), laid out so `-m pipeline_code.train` works.
        self.source_dir = context.scratch_dir / "source"
        for module in code_files(context.code_dir):
            target = self.source_dir / "pipeline_code" / module.relative_to(context.code_dir)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(module, target)
        self.session = OfflinePipelineSession(
            region=env.region,
            bucket=PLACEHOLDERS.artifacts_bucket,
            staging_dir=context.staging_dir,
            staging_prefix=STAGING_PREFIX,
            deployed_dirs={self.source_dir: code_prefix},  # CDK deploys pipeline_code/ there itself
        )
        self.processing_image = self._distribution_image(env.processing.instance_type)
        self.training_image = self._distribution_image(env.training.instance_type)
        self.code_uri = f"s3://{PLACEHOLDERS.artifacts_bucket}/{code_prefix}"
        self.cache = CacheConfig(enable_caching=True, expire_after="P30D")
        # With experiment tracking on, every step logs to the environment's MLflow server (pipeline_code.tracking).
        # Nothing per execution here: these variables are in cached steps' cache keys (Environment), where an
        # execution ARN would make every key unique. Runs are grouped by code hash (and, in the training
        # pipeline, by data snapshot) instead.
        self.tracking_env: dict[str, Any] = (
            {
                "MLFLOW_TRACKING_URI": PLACEHOLDERS.mlflow_tracking_server_arn,
                "MLFLOW_EXPERIMENT_NAME": pipeline_name(context.project_name, env.name),
                "MLOPS_CODE_HASH": self.code_hash,
            }
            if env.experiment_tracking.enabled
            else {}
        )
        self._parameters()

    def _distribution_image(self, instance_type: str) -> str:
        # The instance type only picks the CPU or GPU variant of the image.
        uri: str = image_uris.retrieve(
            DISTRIBUTION_IMAGE[0],
            region=self.ctx.environment.region,
            version=DISTRIBUTION_IMAGE[1],
            image_scope="inference",
            instance_type=instance_type,
        )
        return uri

    # ------------------------------------------------------------------------------------------- helpers
    def _output_uri(self, step: str, name: str) -> Join:
        return Join(
            on="/",
            values=[
                self.output_root,
                ExecutionVariables.PIPELINE_EXECUTION_ID,
                step,
                name,
            ],
        )

    def _processor(self, module: str) -> Processor:
        env = self.ctx.environment
        return Processor(
            role=PLACEHOLDERS.role_arn,
            image_uri=self.processing_image,
            instance_count=self.processing_count,
            instance_type=self.processing_type,
            entrypoint=["python3", "-m", f"pipeline_code.{module}"],
            volume_size_in_gb=env.processing.volume_size_gb,
            volume_kms_key=PLACEHOLDERS.kms_key_arn,
            output_kms_key=PLACEHOLDERS.kms_key_arn,
            max_runtime_in_seconds=env.processing.max_runtime_seconds,
            sagemaker_session=self.session,
            env={"PYTHONPATH": CONTAINER_CODE_DIR, "PYTHONUNBUFFERED": "1", **self.tracking_env},
        )

    def _code_input(self) -> ProcessingInput:
        return self._input("code", self.code_uri, CONTAINER_CODE_DIR)

    @staticmethod
    def _input(name: str, uri: Any, local_path: str, data_type: str = "S3Prefix") -> ProcessingInput:
        return ProcessingInput(
            input_name=name,
            s3_input=ProcessingS3Input(s3_uri=uri, s3_data_type=data_type, local_path=local_path, s3_input_mode="File"),
        )

    def _output(self, step: str, name: str) -> ProcessingOutput:
        return ProcessingOutput(
            output_name=name,
            s3_output=ProcessingS3Output(
                s3_uri=self._output_uri(step, name), local_path=f"{PROCESSING_OUT}/{name}", s3_upload_mode="EndOfJob"
            ),
        )

    def _processing_step(
        self,
        name: str,
        module: str,
        *,
        inputs: list[ProcessingInput],
        outputs: list[str],
        arguments: list[Any],
        property_files: list[PropertyFile] | None = None,
        cache: bool = True,
    ) -> ProcessingStep:
        step_args = self._processor(module).run(
            inputs=[self._code_input(), *inputs],
            outputs=[self._output(name, output) for output in outputs],
            arguments=arguments,
        )
        return ProcessingStep(
            name=name,
            step_args=step_args,
            property_files=property_files,
            cache_config=self.cache if cache else None,
        )

    @staticmethod
    def _step_output(step: ProcessingStep, name: str) -> Any:
        return step.properties.ProcessingOutputConfig.Outputs[name].S3Output.S3Uri

    def _parameters(self) -> None:
        raise NotImplementedError

    def build(self) -> Pipeline:
        raise NotImplementedError


class TrainingPipelineBuilder(PipelineBuilder):
    """Turns one environment's config into the training `Pipeline` (call `definition()` for the JSON)."""

    # ----------------------------------------------------------------------------------------- parameters
    def _parameters(self) -> None:
        env = self.ctx.environment
        hp = env.training.hyperparameters
        t = env.thresholds
        # The data, as a content-addressed snapshot: SageMaker's cache key of a Processing step holds input URIs,
        # never bytes, so only an immutable manifest makes "same key" mean "same data".
        self.manifest = ParameterString("InputManifestUri", default_value=NO_DATA_SNAPSHOT)
        if self.tracking_env:
            self.tracking_env["MLOPS_DATA_SNAPSHOT"] = self.manifest  # same snapshot, same key: caching still works
        self.processing_type = ParameterString("ProcessingInstanceType", default_value=env.processing.instance_type)
        self.processing_count = ParameterInteger("ProcessingInstanceCount", default_value=env.processing.instance_count)
        self.training_type = ParameterString("TrainingInstanceType", default_value=env.training.instance_type)
        self.training_count = ParameterInteger("TrainingInstanceCount", default_value=env.training.instance_count)
        self.min_auc = ParameterFloat("MinAuc", default_value=t.min_auc)
        self.min_f1 = ParameterFloat("MinF1", default_value=t.min_f1)
        self.max_cost = ParameterFloat("MaxCostPer1000", default_value=t.max_cost_per_1000)
        self.fp_cost = ParameterFloat("FalsePositiveCost", default_value=t.false_positive_cost)
        self.fn_cost = ParameterFloat("FalseNegativeCost", default_value=t.false_negative_cost)
        self.min_di = ParameterFloat("MinDisparateImpact", default_value=t.min_disparate_impact)
        self.num_round = ParameterInteger("NumRound", default_value=hp.num_round)
        self.max_depth = ParameterInteger("MaxDepth", default_value=hp.max_depth)
        self.eta = ParameterFloat("Eta", default_value=hp.eta)
        self.subsample = ParameterFloat("Subsample", default_value=hp.subsample)
        self.min_child_weight = ParameterFloat("MinChildWeight", default_value=hp.min_child_weight)
        # Lineage: what started this run, and from which code.
        self.trigger = ParameterString("Trigger", default_value="manual", enum_values=None)
        # Registered as model metadata, whose values must be 1-256 characters: never empty.
        self.trigger_detail = ParameterString("TriggerDetail", default_value="none")
        self.code_version = ParameterString("CodeVersion", default_value="unreleased")
        self.approval_status = ParameterString("ModelApprovalStatus", default_value="PendingManualApproval")

    @property
    def parameters(self) -> list[Any]:
        return [
            self.manifest,
            self.processing_type,
            self.processing_count,
            self.training_type,
            self.training_count,
            self.min_auc,
            self.min_f1,
            self.max_cost,
            self.fp_cost,
            self.fn_cost,
            self.min_di,
            self.num_round,
            self.max_depth,
            self.eta,
            self.subsample,
            self.min_child_weight,
            self.trigger,
            self.trigger_detail,
            self.code_version,
            self.approval_status,
        ]

    # --------------------------------------------------------------------------------------------- steps
    def build(self) -> Pipeline:
        env = self.ctx.environment
        # Both read exactly the snapshot's objects (ManifestFile), landed under their keys below data/.
        data = self._input("data", self.manifest, f"{PROCESSING_IN}/data", data_type="ManifestFile")
        snapshot_args = ["--input", f"{PROCESSING_IN}/data", "--manifest-uri", self.manifest]
        validate = self._processing_step(
            "ValidateData",
            "validate",
            inputs=[data],
            outputs=["validation"],
            arguments=[*snapshot_args, "--output", f"{PROCESSING_OUT}/validation"],
        )
        guard = self._snapshot_guard(validate)
        self.lineage_file = PropertyFile(name="InputLineage", output_name="manifest", path="lineage.json")
        preprocess = self._processing_step(
            "Preprocess",
            "preprocess",
            inputs=[data],
            outputs=["train", "validation", "test", "manifest", "baseline"],
            arguments=[*snapshot_args, "--output", PROCESSING_OUT],
            property_files=[self.lineage_file],
        )
        preprocess.add_depends_on([validate])
        ingest = self._processing_step(
            "IngestFeatures",
            "feature_records",
            inputs=[self._input("train", self._step_output(preprocess, "train"), f"{PROCESSING_IN}/train")],
            outputs=["feature_records"],
            arguments=[
                "--data",
                f"{PROCESSING_IN}/train",
                "--feature-group",
                PLACEHOLDERS.feature_group,
                "--region",
                env.region,
                "--record-id-prefix",
                ExecutionVariables.PIPELINE_EXECUTION_ID,
                "--output",
                f"{PROCESSING_OUT}/feature_records",
            ],
            cache=False,  # writes to the feature store: a cached result would skip new records
        )

        native_checks, monitor_metadata = self._native_checks(preprocess) if env.pipeline.native_checks else ([], {})
        trainer = self._trainer(preprocess)
        channels = [
            InputData(
                channel_name="train", data_source=self._step_output(preprocess, "train"), content_type="text/csv"
            ),
            InputData(
                channel_name="validation",
                data_source=self._step_output(preprocess, "validation"),
                content_type="text/csv",
            ),
        ]
        training = TrainingStep(
            name="TrainModel", step_args=trainer.train(input_data_config=channels), cache_config=self.cache
        )
        if env.tuning.enabled:
            tuner = HyperparameterTuner(
                model_trainer=trainer,
                objective_metric_name="validation-auc",
                metric_definitions=[{"Name": "validation-auc", "Regex": METRIC_REGEX}],
                hyperparameter_ranges={
                    "max_depth": IntegerParameter(3, 10),
                    "eta": ContinuousParameter(0.02, 0.3, scaling_type="Logarithmic"),
                    "subsample": ContinuousParameter(0.5, 1.0),
                    "min_child_weight": ContinuousParameter(0.5, 10.0, scaling_type="Logarithmic"),
                },
                strategy="Bayesian",
                objective_type="Maximize",
                max_jobs=env.tuning.max_jobs,
                max_parallel_jobs=env.tuning.max_parallel_jobs,
                random_seed=42,
            )
            train: TrainingStep | TuningStep = ScriptTuningStep(
                name="TuneModel",
                step_args=tuner.tune(inputs=channels),
                cache_config=self.cache,
                training_request=copy.deepcopy(training.arguments),
                image_uri=image_uris.retrieve(SERVING_IMAGE[0], region=env.region, version=SERVING_IMAGE[1]),
                script=TUNING_SCRIPT,
                code_dir=TRAINING_CODE_CHANNEL,
            )
            model_data: Any = train.get_top_model_s3_uri(
                top_k=0, s3_bucket=PLACEHOLDERS.artifacts_bucket, prefix=f"{OUTPUT_PREFIX}/models"
            )
        else:
            train = training
            model_data = train.properties.ModelArtifacts.S3ModelArtifacts

        self.evaluation_report = evaluation_report = PropertyFile(
            name="EvaluationReport", output_name="evaluation", path="evaluation.json"
        )
        evaluate = self._processing_step(
            "EvaluateModel",
            "evaluate",
            inputs=[
                self._input("model", model_data, f"{PROCESSING_IN}/model"),
                self._input("test", self._step_output(preprocess, "test"), f"{PROCESSING_IN}/test"),
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
                self.fp_cost.to_string(),
                "--false-negative-cost",
                self.fn_cost.to_string(),
            ],
            property_files=[evaluation_report],
        )
        bias_report = PropertyFile(name="BiasReport", output_name="bias", path="bias_report.json")
        bias = self._processing_step(
            "CheckBiasAndExplain",
            "bias_explain",
            inputs=[
                self._input("model", model_data, f"{PROCESSING_IN}/model"),
                self._input("test", self._step_output(preprocess, "test"), f"{PROCESSING_IN}/test"),
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

        register = ModelStep(
            name="RegisterModel",
            step_args=self._register_args(model_data, evaluate, bias, preprocess, monitor_metadata),
        )
        fail = FailStep(
            name="QualityGateFailed",
            error_message=Join(
                on="",
                values=[
                    "Model not registered: a quality gate failed. AUC ",
                    auc,
                    " (minimum ",
                    self.min_auc,
                    "); F1 ",
                    f1,
                    " (minimum ",
                    self.min_f1,
                    "); expected cost per 1,000 decisions ",
                    cost,
                    " (maximum ",
                    self.max_cost,
                    "); lowest disparate impact across facets ",
                    disparate_impact,
                    " (minimum ",
                    self.min_di,
                    ").",
                ],
            ),
        )
        gate = ConditionStep(
            name="CheckQualityGates",
            conditions=[
                ConditionGreaterThanOrEqualTo(left=auc, right=self.min_auc),
                ConditionGreaterThanOrEqualTo(left=f1, right=self.min_f1),
                ConditionLessThanOrEqualTo(left=cost, right=self.max_cost),
                ConditionGreaterThanOrEqualTo(left=disparate_impact, right=self.min_di),
            ],
            if_steps=[register],
            else_steps=[fail],
        )
        return Pipeline(
            name=pipeline_name(self.ctx.project_name, env.name),
            parameters=self.parameters,
            steps=[guard, preprocess, ingest, *native_checks, train, evaluate, bias, gate],
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
            conditions=[ConditionIn(value=self.manifest, in_values=[NO_DATA_SNAPSHOT, ""])],
            if_steps=[FailStep(name="NoDataSnapshot", error_message=NO_DATA_SNAPSHOT_MESSAGE)],
            else_steps=[validate],
        )

    def _native_checks(self, preprocess: ProcessingStep) -> tuple[list[Any], dict[str, Any]]:
        """SageMaker's own data-quality (Model Monitor) and data-bias (Clarify) baselines of the train split.

        Only for accounts that still have both services. They register new baselines and never fail the run:
        the gate is the project's own evaluation and bias step, which every account can run. The data-quality
        baseline is computed over the train split in the endpoint's request layout (features only, from
        `pipeline_code.model_monitor_inputs`, which also writes the SHAP baseline row); the model package records
        where both baselines are (`model_monitor_*` metadata) for the promotion to hand them to the monitoring
        schedules of the model-monitor backend.
        """
        env = self.ctx.environment
        inputs = self._processing_step(
            "NativeBaselineInputs",
            "model_monitor_inputs",
            inputs=[
                self._input("train", self._step_output(preprocess, "train"), f"{PROCESSING_IN}/train"),
                self._input("baseline", self._step_output(preprocess, "baseline"), f"{PROCESSING_IN}/baseline"),
            ],
            outputs=["features", "shap"],
            arguments=[
                "--train",
                f"{PROCESSING_IN}/train",
                "--baseline",
                f"{PROCESSING_IN}/baseline",
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
            sagemaker_session=self.session,
        )
        train_uri = self._step_output(preprocess, "train")
        headers = [schema.LABEL, *schema.FEATURE_NAMES]
        quality = QualityCheckStep(
            name="NativeDataQualityBaseline",
            quality_check_config=DataQualityCheckConfig(
                baseline_dataset=Join(on="/", values=[self._step_output(inputs, "features"), "features.csv"]),
                dataset_format=DatasetFormat.csv(header=False),
                output_s3_uri=self._output_uri("NativeDataQualityBaseline", "baseline"),
            ),
            check_job_config=check_job,
            skip_check=True,
            register_new_baseline=True,
            model_package_group_name=PLACEHOLDERS.model_package_group,
        )
        bias = ClarifyCheckStep(
            name="NativeDataBiasBaseline",
            clarify_check_config=DataBiasCheckConfig(
                data_config=DataConfig(
                    s3_data_input_path=train_uri,
                    s3_output_path=self._output_uri("NativeDataBiasBaseline", "baseline"),
                    # The analysis config is uploaded at build time (to the staging folder), so it needs a fixed
                    # prefix; the SDK's default would share one key between both Clarify steps.
                    s3_analysis_config_output_path=f"s3://{PLACEHOLDERS.artifacts_bucket}/{STAGING_PREFIX}/clarify",
                    label=schema.LABEL,
                    headers=headers,
                    dataset_type="text/csv",
                ),
                data_bias_config=BiasConfig(
                    label_values_or_threshold=[1],
                    facet_name="sex",
                    facet_values_or_threshold=[schema.SEX.index("Female")],
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
            "model_monitor_shap_baseline": Join(
                on="/", values=[self._step_output(inputs, "shap"), "shap_baseline.csv"]
            ),
        }
        return [inputs, quality, bias], metadata

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
                instance_type=self.training_type,
                instance_count=self.training_count,
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
                "num_round": self.num_round.to_string(),
                "max_depth": self.max_depth.to_string(),
                "eta": self.eta.to_string(),
                "subsample": self.subsample.to_string(),
                "min_child_weight": self.min_child_weight.to_string(),
            },
            base_job_name=f"{self.ctx.project_name}-{env.name}-train",
            environment=dict(self.tracking_env),
        )

    def _register_args(
        self,
        model_data: Any,
        evaluate: ProcessingStep,
        bias: ProcessingStep,
        preprocess: ProcessingStep,
        monitor_metadata: dict[str, Any],
    ) -> Any:
        env = self.ctx.environment
        serving_image = image_uris.retrieve(SERVING_IMAGE[0], region=env.region, version=SERVING_IMAGE[1])
        evaluation_uri = Join(on="/", values=[self._step_output(evaluate, "evaluation"), "evaluation.json"])
        bias_uri = Join(on="/", values=[self._step_output(bias, "bias"), "bias_report.json"])
        explain_uri = Join(on="/", values=[self._step_output(bias, "bias"), "explainability.json"])
        baseline_uri = Join(on="/", values=[self._step_output(preprocess, "baseline"), "baseline.json"])
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
        builder = ModelBuilder(
            s3_model_data_url=model_data,
            image_uri=serving_image,
            role_arn=PLACEHOLDERS.role_arn,
            sagemaker_session=self.session,
        )
        return builder.register(
            model_package_group_name=PLACEHOLDERS.model_package_group,
            content_types=["text/csv"],
            response_types=["text/csv"],
            inference_instances=[env.inference.instance_type],
            transform_instances=[env.inference.instance_type],
            model_metrics=metrics,
            drift_check_baselines=baselines,
            approval_status=self.approval_status,
            description=f"{schema.LABEL} classifier trained by {pipeline_name(self.ctx.project_name, env.name)}",
            # Every value must be 1-256 characters of [\p{L}\p{Z}\p{N}_.:/=+\-@] (the registry refuses the package
            # otherwise): URIs, hex digests, ARNs, sanitized parameters and the evaluation's metadata-safe summary.
            # Lineage that does not fit (every input object) is in the JSON document at lineage_uri.
            customer_metadata_properties={
                "input_manifest_uri": self.manifest,
                "input_data_sha256": JsonGet(
                    step_name=preprocess.name, property_file=self.lineage_file, json_path="input.sha256"
                ),
                "lineage_uri": Join(on="/", values=[self._step_output(preprocess, "manifest"), "lineage.json"]),
                "code_version": self.code_version,
                "code_hash": self.code_hash,
                "pipeline_execution_arn": ExecutionVariables.PIPELINE_EXECUTION_ARN,
                "trigger": self.trigger,
                "trigger_detail": self.trigger_detail,
                # What the registered model was trained with: for a tuned run the winning job's, read from the
                # model by the evaluation (pipeline_code.evaluate).
                "hyperparameters": JsonGet(
                    step_name=evaluate.name, property_file=self.evaluation_report, json_path="hyperparameters_summary"
                ),
                **monitor_metadata,
            },
        )
