"""The GitOps release pipeline, synthesized once per test run through `create_app` with `-c release=true`
(cdk-nag on); the `release` fixture of tests/conftest.py. Read by the release stack's tests and the IAM
sufficiency checks of the roles its steps assume.

The config is the shipped one plus what a team fills in before its first release: the tooling account, the
connection, the e-mail and dev's account. The pipeline lives in another region than the environments, so that
"regions from config" is visible in every deploy action (CDK adds a support stack in the stages' region).
Environment settings that the SageMaker definitions are built from stay as shipped (they'd need a rebuild).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from config import DEFAULT_CONFIG_PATH, PlatformConfig, load_config
from tests.stacks.rendering import resources
from tests.synthesis import Synthesis, SynthesizedStack, read_synthesis

TOOLING = "999999999999"
TOOLING_REGION = "eu-central-1"
DEV_ACCOUNT = "111111111111"
CONNECTION = "arn:aws:codeconnections:eu-central-1:999999999999:connection/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
EMAIL = "ml-releases@example.com"
CONFIG_FILE = "environments.yaml"  # in the synthesis folder, next to the cloud assembly


@dataclass(frozen=True)
class ReleaseSynthesis:
    config: PlatformConfig
    outdir: Path
    template: dict[str, Any]  # the release stack
    stages: Synthesis  # the stacks the pipeline deploys, one nested assembly per environment

    @property
    def pipeline(self) -> dict[str, Any]:
        (pipeline,) = resources(self.template, "AWS::CodePipeline::Pipeline").values()
        return pipeline["Properties"]

    def stage(self, name: str) -> list[dict[str, Any]]:
        (stage,) = [s for s in self.pipeline["Stages"] if s["Name"] == name]
        return stage["Actions"]

    def stage_stack(self, environment: str, part: str) -> SynthesizedStack:
        # read_synthesis names a stack by its path below the root stage: "<env>/<part>" inside the pipeline.
        return self.stages.stack(f"mlops-release/{environment}", f"{environment}/{part}")

    def project(self, action: dict[str, Any]) -> dict[str, Any]:
        return self.template["Resources"][action["Configuration"]["ProjectName"]["Ref"]]["Properties"]


def write_release_config(path: Path) -> None:
    data = yaml.safe_load(DEFAULT_CONFIG_PATH.read_text())
    data["environments"]["dev"]["account"] = DEV_ACCOUNT
    data["release"].update(account=TOOLING, region=TOOLING_REGION, notification_email=EMAIL)
    data["release"]["source"]["connection_arn"] = CONNECTION
    path.write_text(yaml.safe_dump(data))


def build_release(outdir: Path) -> None:
    """Synthesize the release into `outdir` (the config it was made from is kept beside it)."""
    from app import create_app

    write_release_config(outdir / CONFIG_FILE)
    create_app(load_config(outdir / CONFIG_FILE), outdir=str(outdir), context={"release": "true"}).synth()


def read_release(outdir: Path) -> ReleaseSynthesis:
    template = json.loads((outdir / "mlops-release.template.json").read_text())
    return ReleaseSynthesis(
        config=load_config(outdir / CONFIG_FILE), outdir=outdir, template=template, stages=read_synthesis(outdir)
    )
