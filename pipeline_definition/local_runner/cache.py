"""Step caching as SageMaker Pipelines documents it, persisted as JSON files so successive runs (and the CLI) share it.

The key of a step is its pipeline, its name and its *cache-key attributes* after expressions are resolved (the
table "Default cache key attributes by pipeline step type"): S3 URIs and arguments, never the bytes behind them.
A step whose key matches a successful earlier run within its `ExpireAfter` reuses that run's outputs.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter, ValidationError

# Attributes per step type; for Tuning, only these children of TrainingJobDefinition count.
CACHE_KEY_ATTRIBUTES: dict[str, tuple[str, ...]] = {
    "Processing": ("AppSpecification", "Environment", "ProcessingInputs"),
    "Training": (
        "AlgorithmSpecification", "CheckpointConfig", "DebugHookConfig", "DebugRuleConfigurations", "Environment",
        "HyperParameters", "InputDataConfig",
    ),
    "Tuning": ("HyperParameterTuningJobConfig", "TrainingJobDefinition", "TrainingJobDefinitions"),
    "Transform": ("DataProcessing", "Environment", "ModelName", "TransformInput"),
}  # fmt: skip
_TUNING_DEFINITION_ATTRIBUTES = (
    "AlgorithmSpecification", "HyperParameterRanges", "InputDataConfig", "StaticHyperParameters", "TuningObjective",
)  # fmt: skip
_DURATION = TypeAdapter(timedelta)


def cache_key_attributes(step_type: str, arguments: dict[str, Any]) -> dict[str, Any] | None:
    """The resolved arguments that make up the key, or None for step types SageMaker does not cache."""
    names = CACHE_KEY_ATTRIBUTES.get(step_type)
    if names is None:
        return None
    attributes = {name: arguments[name] for name in names if name in arguments}
    if step_type == "Tuning" and isinstance(attributes.get("TrainingJobDefinition"), dict):
        definition = attributes["TrainingJobDefinition"]
        attributes["TrainingJobDefinition"] = {k: definition[k] for k in _TUNING_DEFINITION_ATTRIBUTES if k in definition}
    return attributes


def expire_after(cache_config: dict[str, Any], step: str) -> timedelta:
    """`CacheConfig.ExpireAfter` (an ISO 8601 duration such as P30D); a bad value is an error naming the step."""
    raw = cache_config.get("ExpireAfter")
    try:
        return _DURATION.validate_python(raw)
    except ValidationError as err:
        raise ValueError(f"step '{step}': CacheConfig.ExpireAfter {raw!r} is not an ISO 8601 duration") from err


@dataclass(frozen=True)
class CacheEntry:
    key: str
    pipeline: str
    step: str
    execution_arn: str
    created: datetime
    properties: dict[str, Any]


class StepCache:
    """Successful step runs by cache key, one JSON file per key under `folder/<pipeline>/`."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)

    @staticmethod
    def key(pipeline: str, step: str, step_type: str, attributes: dict[str, Any]) -> str:
        canonical = json.dumps([pipeline, step, step_type, attributes], sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()

    def _path(self, pipeline: str, key: str) -> Path:
        return self.folder / pipeline / f"{key}.json"

    def lookup(self, pipeline: str, key: str, *, now: datetime, within: timedelta) -> CacheEntry | None:
        """The run stored under `key` if it is no older than `within` at `now`."""
        path = self._path(pipeline, key)
        if not path.exists():
            return None
        raw = json.loads(path.read_text())
        entry = CacheEntry(
            key=key,
            pipeline=raw["pipeline"],
            step=raw["step"],
            execution_arn=raw["execution_arn"],
            created=datetime.fromisoformat(raw["created"]),
            properties=raw["properties"],
        )
        return entry if now - entry.created <= within else None

    def store(self, entry: CacheEntry, attributes: dict[str, Any]) -> None:
        """Record a successful run (the newest wins); written atomically, so parallel runs never read half a file."""
        path = self._path(entry.pipeline, entry.key)
        path.parent.mkdir(parents=True, exist_ok=True)
        document = {
            "pipeline": entry.pipeline,
            "step": entry.step,
            "execution_arn": entry.execution_arn,
            "created": entry.created.isoformat(),
            "properties": entry.properties,
            "attributes": attributes,  # kept to explain a hit: what the key was made of
        }
        with tempfile.NamedTemporaryFile("w", dir=path.parent, suffix=".tmp", delete=False) as handle:
            json.dump(document, handle, indent=1, sort_keys=True)
        os.replace(handle.name, path)
