"""Execute the committed SageMaker pipeline definitions on this machine, against a local twin (moto)."""

from pipeline_definition.local_runner.cache import StepCache
from pipeline_definition.local_runner.errors import InvalidParameters, StepFailed, UnsupportedConstruct
from pipeline_definition.local_runner.runner import LocalRunner, RunResult, StepRecord

__all__ = ["InvalidParameters", "LocalRunner", "RunResult", "StepCache", "StepFailed", "StepRecord", "UnsupportedConstruct"]
