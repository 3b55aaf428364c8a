"""Shared fixtures: one synthesis of the whole app per test session, read back as plain templates."""

from __future__ import annotations

import os
from pathlib import Path

# jsii starts its node process at `import aws_cdk`: these must be set before any test module imports it.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")

import pytest

from config import PlatformConfig, load_config
from tests.synthesis import Synthesis, read_synthesis

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def platform_config() -> PlatformConfig:
    return load_config(ROOT / "config" / "environments.yaml")


@pytest.fixture(scope="session")
def synthesis(platform_config: PlatformConfig, tmp_path_factory: pytest.TempPathFactory) -> Synthesis:
    """The app exactly as `make synth` builds it (same config, same feature flags, cdk-nag on)."""
    from app import create_app

    outdir = tmp_path_factory.mktemp("cdk.out")
    create_app(platform_config, outdir=str(outdir)).synth()
    return read_synthesis(outdir)
