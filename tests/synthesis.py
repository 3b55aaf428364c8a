"""Reading a synthesized cloud assembly (stages and their stacks) back as plain templates and manifests."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class SynthesizedStack:
    stage: str
    stack_id: str  # the construct id inside its stage, e.g. "DataLake"
    stack_name: str  # the CloudFormation stack name
    template: dict
    manifest: dict  # the stack's artifact entry in its stage's manifest.json


@dataclass(frozen=True)
class Synthesis:
    outdir: Path
    stacks: list[SynthesizedStack]

    def stack(self, stage: str, stack_id: str) -> SynthesizedStack:
        for stack in self.stacks:
            if stack.stage == stage and stack.stack_id == stack_id:
                return stack
        raise KeyError(f"no stack {stack_id!r} in stage {stage!r}")

    @property
    def validation_report(self) -> dict:
        return json.loads((self.outdir / "validation-report.json").read_text())


def read_synthesis(outdir: Path) -> Synthesis:
    stacks = []
    root_manifest = json.loads((outdir / "manifest.json").read_text())
    for artifact in root_manifest["artifacts"].values():
        if artifact["type"] != "cdk:cloud-assembly":
            continue
        stage_dir = outdir / artifact["properties"]["directoryName"]
        stage_manifest = json.loads((stage_dir / "manifest.json").read_text())
        for artifact_id, entry in stage_manifest["artifacts"].items():
            if entry["type"] != "aws:cloudformation:stack":
                continue
            stage = artifact["properties"]["displayName"]
            stacks.append(
                SynthesizedStack(
                    stage=stage,
                    stack_id=entry["displayName"].split("/", 1)[1],
                    stack_name=entry["properties"].get("stackName", artifact_id),
                    template=json.loads((stage_dir / entry["properties"]["templateFile"]).read_text()),
                    manifest=entry,
                )
            )
    return Synthesis(outdir=outdir, stacks=stacks)
