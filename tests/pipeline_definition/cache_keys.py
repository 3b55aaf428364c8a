"""What SageMaker Pipelines compares to decide whether a cached step may be reused, evaluated for one run.

Pipelines reuses a step when its cache-key attributes, resolved for this run, equal those of a previous run
within `ExpireAfter` (https://docs.aws.amazon.com/sagemaker/latest/dg/pipelines-default-keys.html). A step
property (`Steps.X...`) resolves to X's output: for a cached X, the output of the run that computed it, so
here a token named after X's own key; for an uncached X, something of this execution only.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from pipeline_definition.references import all_steps

# The documented default cache-key attributes per step type. For Tuning only some children of
# TrainingJobDefinition count; the whole of it is taken here, which is stricter.
CACHE_KEY_ATTRIBUTES = {
    "Processing": ("AppSpecification", "Environment", "ProcessingInputs"),
    "Training": (
        "AlgorithmSpecification", "CheckpointConfig", "DebugHookConfig", "DebugRuleConfigurations", "Environment",
        "HyperParameters", "InputDataConfig",
    ),
    "Tuning": ("HyperParameterTuningJobConfig", "TrainingJobDefinition", "TrainingJobDefinitions"),
}  # fmt: skip


@dataclass(frozen=True)
class Run:
    """One execution: its parameter values (others keep their defaults) and execution variables."""

    execution_id: str
    parameters: dict[str, Any] = field(default_factory=dict)

    def execution_variable(self, name: str) -> str:
        arn = f"arn:aws:sagemaker:eu-west-1:123456789012:pipeline/p/execution/{self.execution_id}"
        values = {
            "PipelineExecutionId": self.execution_id,
            "PipelineExecutionArn": arn,
            "StartDateTime": f"2026-12-01T00:00:{self.execution_id[-2:]}Z",
            "CurrentDateTime": f"2026-12-01T00:01:{self.execution_id[-2:]}Z",
        }
        return values.get(name, name)


def cached_steps(definition: dict[str, Any]) -> list[str]:
    return [s["Name"] for s in all_steps(definition) if s.get("CacheConfig", {}).get("Enabled")]


def cache_keys(definition: dict[str, Any], run: Run) -> dict[str, str]:
    """Each cached step's resolved cache-key attributes (canonical JSON), for `run`."""
    steps = {step["Name"]: step for step in all_steps(definition)}
    values = {p["Name"]: p.get("DefaultValue") for p in definition["Parameters"]} | run.parameters
    keys: dict[str, str | None] = {}

    def key_of(name: str) -> str | None:
        if name not in keys:
            step = steps[name]
            if not step.get("CacheConfig", {}).get("Enabled"):
                keys[name] = None
            else:
                attributes = CACHE_KEY_ATTRIBUTES[step["Type"]]
                keys[name] = json.dumps({a: resolve(step["Arguments"].get(a)) for a in attributes}, sort_keys=True)
        return keys[name]

    def output_of(step: str, path: str) -> str:
        key = key_of(step)
        if key is None:
            return f"<{step}{path} of execution {run.execution_id}>"
        return f"<{step}{path} cached under {hashlib.sha256(key.encode()).hexdigest()[:12]}>"

    def resolve(node: Any) -> Any:
        if isinstance(node, list):
            return [resolve(item) for item in node]
        if not isinstance(node, dict):
            return node
        if set(node) == {"Get"}:
            kind, _, rest = node["Get"].partition(".")
            if kind == "Parameters":
                return values[rest]
            if kind == "Execution":
                return run.execution_variable(rest)
            step, _, path = rest.partition(".")
            return output_of(step, "." + path)
        if set(node) == {"Std:Join"}:
            join = node["Std:Join"]
            return join["On"].join(str(resolve(value)) for value in join["Values"])
        if set(node) == {"Std:JsonGet"}:
            source = node["Std:JsonGet"]["PropertyFile"]["Get"]
            return f"<{node['Std:JsonGet']['Path']} of {resolve({'Get': source})}>"
        return {k: resolve(v) for k, v in node.items()}

    return {name: key for name in cached_steps(definition) if (key := key_of(name)) is not None}
