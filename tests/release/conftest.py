"""A local moto server for the release scripts: started once per session, AWS calls never leave the machine."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import boto3
import pytest

from release.aws import Clients
from tests.moto_server import moto_server
from twin.api_contract import validate_every_client

REGION = "eu-west-1"


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    with moto_server() as url:
        yield url


@pytest.fixture(scope="session", autouse=True)
def validated_requests() -> Iterator[None]:
    """Every boto3 call the release scripts (and these tests) make must fit botocore's model, which moto does
    not enforce: a bad request raises RequestContractError before it is sent."""
    with pytest.MonkeyPatch.context() as patch:
        validate_every_client(patch)
        yield


@pytest.fixture(scope="session")
def session() -> boto3.Session:
    # Fake credentials: moto accepts anything, and real ones must never be picked up from the environment.
    return boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION)


@pytest.fixture(scope="session")
def clients(session: boto3.Session, moto_endpoint: str) -> Clients:
    # Shared by all tests (names are unique per test). One attempt: moto answers unimplemented calls with
    # HTTP 500, which botocore would otherwise retry.
    return Clients(session, endpoint_url=moto_endpoint, max_attempts=1)


@pytest.fixture
def unique() -> str:
    """A fresh name suffix: the server lives for the whole session, tests must not see each other's resources."""
    return uuid.uuid4().hex[:8]
