"""The runner's own errors: a construct it cannot execute, and a step that failed."""

from __future__ import annotations


class UnsupportedConstruct(Exception):
    """The definition uses something the local runner cannot execute faithfully; names the step and the construct."""

    def __init__(self, step: str, construct: str) -> None:
        super().__init__(f"step '{step}': {construct}")
        self.step = step
        self.construct = construct


class StepFailed(Exception):
    """A step ran and failed (a job's non-zero exit, a refused request); the message is its failure reason."""


class InvalidParameters(ValueError):
    """Parameters SageMaker would refuse at StartPipelineExecution (undeclared, wrong type, not an enum value)."""
