"""The training pipeline's TuneModel step (`tuning.enabled`): a tuning job whose training jobs run the project's
training code, as TrainModel does.

The SDK's `HyperparameterTuner` (3.27) builds its training-job definition from a `ModelTrainer` without the
trainer's `code` and `sm_drivers` channels, so the tuning job's jobs start the image's default entrypoint and
never run `pipeline_code.train` (aws/sagemaker-python-sdk#5508, #5610). A tuning job cannot name an
entrypoint either: `HyperParameterAlgorithmSpecification` has no `ContainerEntrypoint`/`ContainerArguments`
(botocore's SageMaker model). So the definition is completed here, from TrainModel's own request:

- the image is SageMaker's XGBoost framework container, whose entrypoint runs the `sagemaker_program` script
  from `sagemaker_submit_directory` (script mode; `pipeline_code/train.py` makes its package importable);
- the `code` channel (the deployed step code) and the `sm_drivers` channel (the trainer's `sm_train.sh`, which a
  training toolkit that knows ModelTrainer runs instead: the same `python3 -m pipeline_code.train`);
- TrainModel's hyper-parameters that are not tuned become static ones, and its resource config (with the volume
  key) and network (subnets, security group, isolation, inter-container encryption) are used as they are.
"""

from __future__ import annotations

import copy
from typing import Any

from sagemaker.core import image_uris
from sagemaker.core.parameter import ContinuousParameter, IntegerParameter
from sagemaker.core.training.configs import InputData
from sagemaker.mlops.workflow import CacheConfig, TrainingStep, TuningStep
from sagemaker.train.model_trainer import ModelTrainer
from sagemaker.train.tuner import HyperparameterTuner

from config import EnvironmentConfig
from pipeline_definition.builders.base import SERVING_IMAGE
from pipeline_definition.contract import OUTPUT_PREFIX, PLACEHOLDERS

# Channels the ModelTrainer adds itself (its source dir and its drivers), as opposed to data channels.
TRAINER_CHANNELS = ("code", "sm_drivers")
SCRIPT_MODE_PROGRAM = "sagemaker_program"
SCRIPT_MODE_DIRECTORY = "sagemaker_submit_directory"

METRIC_REGEX = r"validation-auc:([0-9\.]+)"  # what pipeline_code.train prints last
# The tuning job's training jobs cannot name an entrypoint: they run train.py in script mode (see above).
TUNING_SCRIPT = "pipeline_code/train.py"
TRAINING_CODE_CHANNEL = "/opt/ml/input/data/code"
# CreateTrainingJob's network fields, which HyperParameterTrainingJobDefinition has too.
_NETWORK_FIELDS = ("VpcConfig", "EnableNetworkIsolation", "EnableInterContainerTrafficEncryption")


class ScriptTuningStep(TuningStep):  # type: ignore[misc]  # the SDK ships no type information
    """A `TuningStep` whose training-job definition starts `script` from TrainModel's code channel."""

    def __init__(
        self,
        *,
        training_request: dict[str, Any],
        image_uri: str,
        script: str,
        code_dir: str,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self._training_request = training_request
        self._image_uri = image_uri
        self._script = script
        self._code_dir = code_dir

    @property
    def arguments(self) -> dict[str, Any]:
        request: dict[str, Any] = super().arguments
        job = request["TrainingJobDefinition"]
        training = self._training_request
        ranges = request["HyperParameterTuningJobConfig"]["ParameterRanges"]
        tuned = {r["Name"] for kind in ranges.values() for r in kind}
        channels = {c["ChannelName"]: c for c in training["InputDataConfig"]}
        missing = [name for name in TRAINER_CHANNELS if name not in channels]
        if missing:
            raise ValueError(f"TrainModel's request has no {missing} channel(s) to give the tuning job")
        job["AlgorithmSpecification"] = {
            **job["AlgorithmSpecification"],
            "TrainingImage": self._image_uri,
        }
        present = {c["ChannelName"] for c in job["InputDataConfig"]}
        job["InputDataConfig"] = [
            *job["InputDataConfig"],
            *(channels[name] for name in TRAINER_CHANNELS if name not in present),
        ]
        static = dict(job.get("StaticHyperParameters", {}))
        for name, value in training.get("HyperParameters", {}).items():
            if name not in tuned:
                static.setdefault(name, value)
        static[SCRIPT_MODE_PROGRAM] = self._script
        static[SCRIPT_MODE_DIRECTORY] = self._code_dir
        job["StaticHyperParameters"] = static
        job["ResourceConfig"] = training["ResourceConfig"]
        # TrainModel's network (VPC, isolation, inter-container encryption), which the tuner leaves out.
        for key in _NETWORK_FIELDS:
            if key in training:
                job[key] = training[key]
        return request


def tuning_step(
    environment: EnvironmentConfig,
    *,
    trainer: ModelTrainer,
    channels: list[InputData],
    training: TrainingStep,
    cache: CacheConfig,
) -> tuple[ScriptTuningStep, Any]:
    """TuneModel, in TrainModel's place, and the S3 URI of its best model (what the evaluation reads)."""
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
        max_jobs=environment.tuning.max_jobs,
        max_parallel_jobs=environment.tuning.max_parallel_jobs,
        random_seed=42,
    )
    step = ScriptTuningStep(
        name="TuneModel",
        step_args=tuner.tune(inputs=channels),
        cache_config=cache,
        training_request=copy.deepcopy(training.arguments),
        image_uri=image_uris.retrieve(SERVING_IMAGE[0], region=environment.region, version=SERVING_IMAGE[1]),
        script=TUNING_SCRIPT,
        code_dir=TRAINING_CODE_CHANNEL,
    )
    model_data = step.get_top_model_s3_uri(
        top_k=0, s3_bucket=PLACEHOLDERS.artifacts_bucket, prefix=f"{OUTPUT_PREFIX}/models"
    )
    return step, model_data
