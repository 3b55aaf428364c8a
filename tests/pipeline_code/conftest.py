"""Shared fixtures: the pipeline runs once per session on the shipped Adult data; tests read its outputs."""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from pathlib import Path

import pytest

from twin.api_contract import validate_every_client

REPO = Path(__file__).resolve().parents[2]
ADULT = REPO / "data" / "adult"


@pytest.fixture(scope="module", autouse=True)
def validated_requests() -> Iterator[None]:
    """Every boto3 call the steps (and these tests) make against moto must fit botocore's model, which moto does not
    enforce: a bad request raises RequestContractError before it is sent. Module scope, so that it covers the
    module fixtures that run the steps; a directory's "package" scope would outlive it (no __init__.py here)."""
    with pytest.MonkeyPatch.context() as patch:
        validate_every_client(patch)
        yield


@pytest.fixture(scope="session")
def adult_dir() -> Path:
    return ADULT


@pytest.fixture(scope="session")
def adult_lines() -> list[str]:
    """The raw training file's lines (header first), to build small good and bad inputs from."""
    with gzip.open(ADULT / "adult.data.gz", "rt") as f:
        return f.read().splitlines()
