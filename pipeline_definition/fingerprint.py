"""What a generated definition depends on, hashed, so synth can tell a fresh definition from a stale one.

Standard library (plus the config models) only: the CDK app imports this on every synth.
"""

from __future__ import annotations

import hashlib
import json

from config import EnvironmentConfig, PlatformConfig
from pipeline_definition.contract import (
    PACKAGE_DIR,
    PIPELINES,
    code_hash,
    definition_path,
    fingerprint_path,
)

SDK_VERSION = "3.27.0"  # the sagemaker release the committed definitions were built with (requirements-dev.txt)

# The settings the builder reads: other config changes (lifecycle days, tags...) leave the definition alone.
BUILDER_SETTINGS = (
    "name", "region", "processing", "training", "tuning", "inference", "thresholds", "pipeline", "experiment_tracking",
    "monitoring",
)  # fmt: skip

# The builder's own modules: a change to any of them may change the definition.
_BUILDER_SOURCES = (
    "builder.py", "operations_builders.py", "offline_session.py", "generate.py", "fingerprint.py", "contract.py",
    "tuning_step.py",
)  # fmt: skip


__all__ = ["code_hash", "definition_fingerprint", "is_fresh", "stale_definitions"]  # code_hash: from contract


def definition_fingerprint(project_name: str, environment: EnvironmentConfig) -> str:
    digest = hashlib.sha256()
    digest.update(f"sagemaker=={SDK_VERSION}\0project={project_name}\0code={code_hash()}\0".encode())
    # The monitoring backend decides whether CDK deploys the monitoring pipeline, not what the definitions hold.
    used = environment.model_dump(mode="json", include=set(BUILDER_SETTINGS), exclude={"monitoring": {"backend"}})
    digest.update(json.dumps(used, sort_keys=True).encode())
    for name in _BUILDER_SOURCES:
        digest.update(name.encode() + b"\0" + (PACKAGE_DIR / name).read_bytes())
    return digest.hexdigest()


def is_fresh(project_name: str, environment: EnvironmentConfig) -> bool:
    path = fingerprint_path(environment.name)
    return (
        all(definition_path(environment.name, p).is_file() for p in PIPELINES)
        and path.is_file()
        and path.read_text().strip() == definition_fingerprint(project_name, environment)
    )


def stale_definitions(config: PlatformConfig) -> list[str]:
    """The environments whose committed definition no longer matches their config, code or builder."""
    return [name for name, env in config.environments.items() if not is_fresh(config.project_name, env)]
