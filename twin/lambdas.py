"""The stage's Lambda functions run in-process, with the environment variables their templates deploy them with.

A handler module reads its settings and builds its clients at import (a cold start), so each function is
imported once per process, after its environment is set; boto3 inside it reaches moto through
`AWS_ENDPOINT_URL`. The loop runs in its own process (`python -m twin.loop`), so no other import of a handler
module (the handler tests use other settings) can be the one that is reused.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import uuid
from contextlib import redirect_stdout
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from twin.assembly import StageTemplates


@dataclass
class LambdaContext:
    """What Lambda passes as `context` (the attributes Powertools reads)."""

    function_name: str
    invoked_function_arn: str
    memory_limit_in_mb: int = 256
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


class Function:
    """One deployed function: its handler module (imported on first use) and its ARN."""

    def __init__(
        self, stage: StageTemplates, name: str, module: str, log_dir: Path, overrides: dict[str, str] | None = None
    ) -> None:
        self.name, self.module_name = name, module
        log_dir.mkdir(parents=True, exist_ok=True)
        # Powertools' JSON logs and EMF metrics: to a file per function (what CloudWatch Logs would hold), so
        # the loop's own output stays a readable timeline. Powertools binds its stream at import: kept open.
        self.log_path = log_dir / f"{name}.log"
        self.log = self.log_path.open("a", encoding="utf-8")
        self.arn = stage.arn(stage.named("AWS::Lambda::Function", name))
        self.environment = stage.function_environment(name)
        unknown = sorted(set(overrides or {}) - set(self.environment))
        if unknown:
            raise KeyError(f"{name} is deployed without the variables {unknown}: nothing to override")
        self.environment.update(overrides or {})
        self._module: ModuleType | None = None

    @property
    def module(self) -> ModuleType:
        if self._module is None:
            if self.module_name in sys.modules:
                raise RuntimeError(f"{self.module_name} was imported before the twin set its environment")
            os.environ.update(self.environment)
            # Set by the Lambda runtime, not the template; no X-Ray daemon runs in the twin.
            os.environ.update(AWS_LAMBDA_FUNCTION_NAME=self.name, POWERTOOLS_TRACE_DISABLED="true")
            with redirect_stdout(self.log):
                self._module = importlib.import_module(self.module_name)
        return self._module

    def invoke(self, event: dict[str, Any]) -> dict[str, Any]:
        context = LambdaContext(function_name=self.name, invoked_function_arn=self.arn)
        module = self.module
        with redirect_stdout(self.log):
            result: dict[str, Any] = module.lambda_handler(event, context)
        self.log.flush()
        return result

    def log_lines(self) -> list[dict[str, Any]]:
        """The function's JSON log lines so far (what CloudWatch Logs would hold)."""
        lines = self.log_path.read_text(encoding="utf-8").splitlines()
        return [json.loads(line) for line in lines if line.startswith("{")]
