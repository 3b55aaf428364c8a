"""The committed SageMaker pipeline definitions, as the stacks load them (refusing stale ones)."""

from __future__ import annotations

from config import ConfigError, EnvironmentConfig
from pipeline_definition import contract, fingerprint
from stacks.units.pipeline_role import PipelineDefinition


def committed_definition(project_name: str, environment: EnvironmentConfig, pipeline: str) -> PipelineDefinition:
    """`pipeline_definition/generated/<env>-<pipeline>.json`, if it still matches its config and code."""
    if not fingerprint.is_fresh(project_name, environment):
        raise ConfigError(fingerprint.stale_message([environment.name]))
    return PipelineDefinition.load(
        contract.definition_path(environment.name, pipeline),
        code_dir=contract.CODE_DIR,
        code_hash=fingerprint.code_hash(),
        staging_dir=contract.STAGING_DIR,
    )
