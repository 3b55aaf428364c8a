"""What every pipeline of the platform shares: the offline session, the images, the step code, job inputs and outputs.

A pipeline's parameters are declared once, as a frozen dataclass of SDK parameter objects (`TrainingParameters`,
`MonitoringParameters`...), built from the config before the builder and handed to it: the steps read typed
fields, and the definition's `Parameters` list is the dataclass's fields in their declared order.

Nothing here knows deploy-time names: buckets, the role, the key, the feature group and the model package group
appear as placeholders (`contract.PLACEHOLDERS`) that CDK replaces with its tokens. Building is offline and
deterministic (`OfflinePipelineSession`): the same config and code give the same bytes.
"""

from __future__ import annotations

import shutil
from abc import ABC, abstractmethod
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar

from sagemaker.core import image_uris
from sagemaker.core.network import NetworkConfig
from sagemaker.core.processing import ProcessingInput, ProcessingOutput, ProcessingS3Input, Processor
from sagemaker.core.shapes.shapes import ProcessingS3Output
from sagemaker.core.workflow import ExecutionVariables, Join, ParameterInteger, ParameterString, PropertyFile
from sagemaker.mlops.workflow import CacheConfig, Pipeline, ProcessingStep

from config import EnvironmentConfig
from naming import EnvironmentNames
from pipeline_code.schema import DATASET_VARIABLE
from pipeline_definition.contract import (
    CODE_PREFIX,
    OUTPUT_PREFIX,
    PLACEHOLDERS,
    STAGING_PREFIX,
    code_files,
    code_hash,
    step_calls,
)
from pipeline_definition.offline_session import OfflinePipelineSession

CONTAINER_CODE_DIR = "/opt/ml/processing/input/code"
PROCESSING_IN = "/opt/ml/processing/input"
PROCESSING_OUT = "/opt/ml/processing/output"

# SageMaker Distribution (CPU): Python 3.12 with numpy, pandas, pyarrow, scipy, scikit-learn, xgboost and
# matplotlib, everything `pipeline_code/requirements.txt` lists, so jobs install nothing at start.
DISTRIBUTION_IMAGE = ("sagemaker-distribution", "3.2.0")
# SageMaker's XGBoost framework container: serves the model's own handlers in script mode (pipeline_code.serve)
SERVING_IMAGE = ("xgboost", "3.0-5")


@dataclass(frozen=True)
class BuildContext:
    environment: EnvironmentConfig
    names: EnvironmentNames  # the environment's names (no account: the definitions hold placeholders)
    code_dir: Path  # the pipeline_code package folder
    staging_dir: Path  # receives what the SDK uploads (shipped by CDK under STAGING_PREFIX)
    scratch_dir: Path  # temporary: a clean copy of the step code for the training job's source dir


class ProcessingParameters(Protocol):
    """What the shared processing steps read from every pipeline's parameters: the jobs' instances."""

    @property
    def processing_type(self) -> ParameterString: ...

    @property
    def processing_count(self) -> ParameterInteger: ...


def declared(parameters: Any) -> list[Any]:
    """A parameters dataclass's fields, in declaration order: the order of the definition's `Parameters`."""
    return [getattr(parameters, field.name) for field in fields(parameters)]


P = TypeVar("P", bound=ProcessingParameters)


class PipelineBuilder(ABC, Generic[P]):
    """The shared part of a pipeline builder; subclasses add their steps in `build()`."""

    output_root = f"s3://{PLACEHOLDERS.artifacts_bucket}/{OUTPUT_PREFIX}"

    def __init__(self, context: BuildContext, parameters: P) -> None:
        self.ctx = context
        self.params = parameters
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
        # Every job works on the environment's data set: the step code reads its contract's rendering, shipped
        # with the code (pipeline_code/datasets/<name>.json), by this name (`pipeline_code.schema`).
        self.dataset_env = {DATASET_VARIABLE: context.names.dataset}
        # With experiment tracking on, every step logs to the environment's MLflow server (pipeline_code.tracking).
        # Nothing per execution here: these variables are in cached steps' cache keys (Environment), where an
        # execution ARN would make every key unique. Runs are grouped by code hash (and, in the training
        # pipeline, by data snapshot) instead.
        self.tracking_env: dict[str, Any] = (
            {
                "MLFLOW_TRACKING_URI": PLACEHOLDERS.mlflow_tracking_server_arn,
                "MLFLOW_EXPERIMENT_NAME": context.names.training_pipeline,
                "MLOPS_CODE_HASH": self.code_hash,
            }
            if env.experiment_tracking.enabled
            else {}
        )

    @property
    def parameters(self) -> list[Any]:
        """The pipeline's parameters, as the `Pipeline` declares them."""
        return declared(self.params)

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
    def output_uri(self, step: str, name: str) -> Join:
        return Join(
            on="/",
            values=[
                self.output_root,
                ExecutionVariables.PIPELINE_EXECUTION_ID,
                step,
                name,
            ],
        )

    def isolated(self, step: str) -> bool:
        """Whether `step`'s job calls nothing from inside its container (`contract.step_calls`)."""
        return not step_calls(step, experiment_tracking=self.ctx.environment.experiment_tracking.enabled)

    def network_config(self, step: str) -> NetworkConfig | None:
        """`step`'s job in the environment's subnets, with its security group, inter-container traffic encryption
        and, if it calls nothing, network isolation; None where the environment has no network."""
        if not self.ctx.environment.network.enabled:
            return None
        return NetworkConfig(
            subnets=[PLACEHOLDERS.subnet_ids],
            security_group_ids=[PLACEHOLDERS.security_group_ids],
            enable_network_isolation=self.isolated(step),
            encrypt_inter_container_traffic=True,
        )

    def _processor(
        self, step: str, module: str, python_path: tuple[str, ...] = (), instance_count: int | None = None
    ) -> Processor:
        env = self.ctx.environment
        return Processor(
            role=PLACEHOLDERS.role_arn,
            image_uri=self.processing_image,
            # a sharded step's count is the config's (`scale_out`), fixed with its ShardedByS3Key input
            instance_count=self.params.processing_count if instance_count is None else instance_count,
            instance_type=self.params.processing_type,
            entrypoint=["python3", "-m", f"pipeline_code.{module}"],
            volume_size_in_gb=env.processing.volume_size_gb,
            volume_kms_key=PLACEHOLDERS.kms_key_arn,
            output_kms_key=PLACEHOLDERS.kms_key_arn,
            max_runtime_in_seconds=env.processing.max_runtime_seconds,
            sagemaker_session=self.session,
            env={
                "PYTHONPATH": ":".join([CONTAINER_CODE_DIR, *python_path]),
                "PYTHONUNBUFFERED": "1",
                **self.dataset_env,
                **self.tracking_env,
            },
            network_config=self.network_config(step),
        )

    def _code_input(self) -> ProcessingInput:
        return self.input("code", self.code_uri, CONTAINER_CODE_DIR)

    @staticmethod
    def input(
        name: str, uri: Any, local_path: str, data_type: str = "S3Prefix", *, sharded: bool = False
    ) -> ProcessingInput:
        """A File-mode input; ``sharded``: each instance of the job gets a share of the objects (ShardedByS3Key)."""
        return ProcessingInput(
            input_name=name,
            s3_input=ProcessingS3Input(
                s3_uri=uri,
                s3_data_type=data_type,
                local_path=local_path,
                s3_input_mode="File",
                **({"s3_data_distribution_type": "ShardedByS3Key"} if sharded else {}),
            ),
        )

    def _output(self, step: str, name: str, *, local: str) -> ProcessingOutput:
        """The output `local` (/opt/ml/processing/output/<local>) to the run's folder `<step>/<name>`."""
        return ProcessingOutput(
            output_name=local,
            s3_output=ProcessingS3Output(
                s3_uri=self.output_uri(step, name),
                local_path=f"{PROCESSING_OUT}/{local}",
                s3_upload_mode="EndOfJob",
            ),
        )

    def processing_step(
        self,
        name: str,
        module: str,
        *,
        inputs: list[ProcessingInput],
        outputs: list[str],
        arguments: list[Any],
        property_files: list[PropertyFile] | None = None,
        cache: bool = True,
        python_path: tuple[str, ...] = (),
        instance_count: int | None = None,
        output_places: dict[str, tuple[str, str]] | None = None,
    ) -> ProcessingStep:
        """A step running `python3 -m pipeline_code.<module>` with the step code and `outputs` under the run
        (`python_path`: container folders searched after the code, e.g. an input of third-party packages;
        `instance_count`: a fixed count in place of the pipeline's ProcessingInstanceCount; `output_places`:
        output name -> (step, name) of the S3 folder it goes to, when not its own)."""
        places = output_places or {}
        step_args = self._processor(name, module, python_path, instance_count).run(
            inputs=[self._code_input(), *inputs],
            outputs=[self._output(*places.get(output, (name, output)), local=output) for output in outputs],
            arguments=arguments,
        )
        return ProcessingStep(
            name=name,
            step_args=step_args,
            property_files=property_files,
            cache_config=self.cache if cache else None,
        )

    @staticmethod
    def step_output(step: ProcessingStep, name: str) -> Any:
        return step.properties.ProcessingOutputConfig.Outputs[name].S3Output.S3Uri

    @abstractmethod
    def build(self) -> Pipeline:
        """The pipeline (its `definition()` is the JSON that CDK deploys)."""
