#!/usr/bin/env python3
"""The CDK app: the only place that reads configuration. It builds one stage per environment.

`make synth` (or `npx cdk synth`) synthesizes every environment into cdk.out/; `npx cdk deploy 'dev/*'`
deploys one. Synthesis never calls AWS: everything is decided from config/environments.yaml. It reads the
committed SageMaker pipeline definitions and never writes them: `make synth` rebuilds stale ones first.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping
from pathlib import Path

# jsii's node process starts at `import aws_cdk`: quieten its Node 20 end-of-life banner before that.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks, NIST80053R5Checks

from config import ConfigError, PlatformConfig, load_config
from pipeline_definition.fingerprint import stale_definitions, stale_message
from stacks.stage import MlopsStage

ROOT = Path(__file__).resolve().parent


def feature_flags() -> dict[str, object]:
    """The context of cdk.json, so `python app.py` and the tests build what `cdk synth` builds."""
    context: dict[str, object] = json.loads((ROOT / "cdk.json").read_text(encoding="utf-8"))["context"]
    return context


def cdk_cli_version() -> str:
    """The CDK CLI pinned in package.json: the release pipeline's self-mutation installs the same one."""
    package: dict[str, dict[str, str]] = json.loads((ROOT / "package.json").read_text(encoding="utf-8"))
    return package["devDependencies"]["aws-cdk"]


def release_requested(app: cdk.App) -> bool:
    """`-c release=true` asks for the release pipeline instead of the three environments."""
    return str(app.node.try_get_context("release")).lower() == "true"


def create_app(
    config: PlatformConfig, *, outdir: str | None = None, context: Mapping[str, object] | None = None
) -> cdk.App:
    """The app `cdk synth` builds; `context` adds to cdk.json's, as `-c key=value` does on the command line."""
    # CloudFormation's built-in template validation costs ~4 s a synth and is repeated by cfn-lint in the tests.
    app = cdk.App(
        context={**feature_flags(), **(context or {})}, outdir=outdir, builtin_cloud_formation_validation=False
    )
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app), NIST80053R5Checks(app))
    if release_requested(app):
        # The pipeline holds the same MlopsStage per environment and deploys them itself (dev, staging, prod):
        # the top-level stages are left out, so `cdk deploy` of this synth can only deploy the pipeline.
        # Imported only when asked for: aws_cdk.pipelines costs every other synth ~0.3 s.
        from stacks.release_stack import ReleaseStack

        ReleaseStack(
            app,
            f"{config.project_name}-release",
            stack_name=f"{config.project_name}-release",
            description=f"{config.project_name}: GitOps release pipeline (dev -> staging -> approval -> prod)",
            project_name=config.project_name,
            release=config.require_release(),
            environments=list(config.environments.values()),
            cdk_cli_version=cdk_cli_version(),
        )
        return app
    for environment in config.environments.values():
        MlopsStage(
            app,
            project_name=config.project_name,
            environment=environment,
            source=config.source_of(environment.name),
            consumers=config.consumers_of(environment.name),
        )
    return app


def check_pipeline_definitions(config: PlatformConfig, config_path: str | None = None) -> None:
    """Stop synth, naming them and the command to run, if a committed pipeline definition is stale.

    Synth never rebuilds them itself: they are committed files, and a synth should not rewrite them behind the
    user's back (nor pay the SageMaker SDK's ~10 s unasked). `make synth` rebuilds them first, explicitly.
    """
    from config.dataset import stale_message as stale_renderings_message
    from config.dataset import stale_renderings

    renderings = stale_renderings(sorted({env.dataset for env in config.environments.values()}))
    if renderings:  # the step code ships the renderings: a stale one is stale code, and a stale definition
        raise ConfigError(stale_renderings_message(renderings))
    stale = stale_definitions(config)
    if stale:
        raise ConfigError(stale_message(stale, config_path))


def main() -> int:
    try:
        config = load_config(os.environ.get("MLOPS_CONFIG", ROOT / "config" / "environments.yaml"))
        check_pipeline_definitions(config, os.environ.get("MLOPS_CONFIG"))
        app = create_app(config)
    except ConfigError as exc:  # includes a release config that is incomplete, only when the release is asked for
        print(f"error: {exc}", file=sys.stderr)
        return 1
    app.synth()
    return 0


if __name__ == "__main__":
    sys.exit(main())
