#!/usr/bin/env python3
"""The CDK app: the only place that reads configuration. It builds one stage per environment.

`make synth` (or `npx cdk synth`) synthesizes every environment into cdk.out/; `npx cdk deploy 'dev/*'`
deploys one. Synthesis never calls AWS: everything is decided from config/environments.yaml.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

# jsii's node process starts at `import aws_cdk`: quieten its Node 20 end-of-life banner before that.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks, NIST80053R5Checks

from config import ConfigError, PlatformConfig, load_config
from stacks.stage import MlopsStage

ROOT = Path(__file__).resolve().parent


def feature_flags() -> dict[str, object]:
    """The context of cdk.json, so `python app.py` and the tests build what `cdk synth` builds."""
    context: dict[str, object] = json.loads((ROOT / "cdk.json").read_text(encoding="utf-8"))["context"]
    return context


def create_app(config: PlatformConfig, *, outdir: str | None = None) -> cdk.App:
    # CloudFormation's built-in template validation costs ~4 s a synth and is repeated by cfn-lint in the tests.
    app = cdk.App(context=feature_flags(), outdir=outdir, builtin_cloud_formation_validation=False)
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app), NIST80053R5Checks(app))
    for environment in config.environments.values():
        MlopsStage(app, project_name=config.project_name, environment=environment)
    return app


def main() -> int:
    try:
        config = load_config(os.environ.get("MLOPS_CONFIG", ROOT / "config" / "environments.yaml"))
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    create_app(config).synth()
    return 0


if __name__ == "__main__":
    sys.exit(main())
