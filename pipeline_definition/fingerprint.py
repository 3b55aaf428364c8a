"""What a generated definition depends on, hashed, so synth can tell a fresh definition from a stale one.

Standard library (plus the config models) only: the CDK app imports this on every synth.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from config import EnvironmentConfig, PlatformConfig
from pipeline_definition.contract import (
    PACKAGE_DIR,
    PIPELINES,
    ROOT,
    code_hash,
    definition_path,
    fingerprint_path,
)

SDK_VERSION = "3.27.0"  # the sagemaker release the committed definitions were built with (requirements-dev.txt)

# The settings the builder reads: other config changes (lifecycle days, tags...) leave the definition alone.
BUILDER_SETTINGS = (
    "name", "region", "processing", "training", "tuning", "inference", "thresholds", "pipeline", "experiment_tracking",
    "monitoring", "dataset", "scale_out",
)  # fmt: skip

# The builder's own modules: a change to any of them may change the definition. Every module of the builders
# package counts, so a new one cannot be forgotten here; so does every module of `naming`, which names the
# pipelines, the endpoint and the SSM parameter the definitions hold.
_BUILDER_MODULES = ("offline_session.py", "generate.py", "fingerprint.py", "contract.py")
_BUILDERS_PACKAGE = "builders"
_NAMING_PACKAGE = ROOT / "naming"


def _builder_sources() -> list[Path]:
    """The builder's source files, in a stable order."""
    package = sorted((PACKAGE_DIR / _BUILDERS_PACKAGE).glob("*.py"))
    naming = sorted(_NAMING_PACKAGE.glob("*.py"))
    return [*(PACKAGE_DIR / name for name in _BUILDER_MODULES), *package, *naming]


# code_hash: from contract
__all__ = ["code_hash", "definition_fingerprint", "is_fresh", "stale_definitions", "stale_message"]


def definition_fingerprint(project_name: str, environment: EnvironmentConfig) -> str:
    digest = hashlib.sha256()
    digest.update(f"sagemaker=={SDK_VERSION}\0project={project_name}\0code={code_hash()}\0".encode())
    # The monitoring backend decides whether CDK deploys the monitoring pipeline, not what the definitions hold.
    used = environment.model_dump(mode="json", include=set(BUILDER_SETTINGS), exclude={"monitoring": {"backend"}})
    # Whether jobs run in a VPC, not which one: subnets and security groups are placeholders CDK fills in.
    used["network_enabled"] = environment.network.enabled
    digest.update(json.dumps(used, sort_keys=True).encode())
    for path in _builder_sources():
        digest.update(path.relative_to(ROOT).as_posix().encode() + b"\0" + path.read_bytes())
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


def stale_message(environments: list[str], config_path: str | None = None) -> str:
    """Why synth stops on stale definitions, and the command that rebuilds them (synth never writes them itself)."""
    command = " ".join([".venv/bin/python -m pipeline_definition.generate", *environments])
    if config_path:
        command += f" --config {config_path}"
    files = ", ".join(str(definition_path(name, "*").relative_to(ROOT)) for name in environments)
    return (
        f"the committed pipeline definitions of {', '.join(environments)} ({files}) are out of date with their "
        "config, pipeline_code/ or pipeline_definition/, and synth does not rewrite them: run "
        f"`make pipeline-definitions` (`{command}`), which `make synth` runs first, and commit the files it writes"
    )
