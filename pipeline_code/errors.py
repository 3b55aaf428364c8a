"""Errors the steps raise on bad input: one type, so every entry point can report them the same way."""

from __future__ import annotations


class PipelineError(Exception):
    """An expected failure caused by input or arguments (not a bug): exit non-zero, no traceback."""


class DataValidationError(PipelineError):
    """The data breaks the schema or a configured limit; ``violations`` names each problem."""

    def __init__(self, violations: list[str] | str) -> None:
        self.violations = [violations] if isinstance(violations, str) else list(violations)
        super().__init__("; ".join(self.violations))
