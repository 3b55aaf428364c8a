"""Snapshots of every synthesized template: they guard refactors, the other tests state intent.

Update after an intended change with `make test PYTEST_ARGS=--snapshot-update` and review the diff.
"""

from __future__ import annotations

import json
import re

import pytest
from syrupy.assertion import SnapshotAssertion
from syrupy.extensions.json import JSONSnapshotExtension

from tests.synthesis import Synthesis

# Asset hashes (S3 keys of Lambda code, the template's own hash) are the only machine-dependent strings.
_ASSET_HASH = re.compile(r"\b[0-9a-f]{64}\b")


def normalise(template: dict) -> dict:
    return json.loads(_ASSET_HASH.sub("<asset-hash>", json.dumps(template)))


@pytest.fixture
def snapshot_json(snapshot: SnapshotAssertion) -> SnapshotAssertion:
    return snapshot.use_extension(JSONSnapshotExtension)


@pytest.mark.parametrize("stage", ["dev", "staging", "prod"])
def test_templates_match_their_snapshots(synthesis: Synthesis, snapshot_json: SnapshotAssertion, stage: str) -> None:
    stacks = sorted((s for s in synthesis.stacks if s.stage == stage), key=lambda s: s.stack_id)
    assert stacks
    for stack in stacks:
        assert normalise(stack.template) == snapshot_json(name=f"{stage}-{stack.stack_id}")


def test_normalise_replaces_only_asset_hashes() -> None:
    template = {"S3Key": "a" * 64 + ".zip", "Name": "bucket-abc", "Short": "f" * 63}
    assert normalise(template) == {"S3Key": "<asset-hash>.zip", "Name": "bucket-abc", "Short": "f" * 63}
