"""A local moto server for tests: AWS API calls that never leave the machine.

The same server the local twin starts (`pipeline_definition.local_runner.twin.moto_endpoint`): one implementation.
Every server in one process shares moto's state, so each starts from none, whatever ran before.
"""

from __future__ import annotations

import pytest

from pipeline_definition.local_runner.twin import moto_endpoint as moto_server

__all__ = ["moto_server", "point_boto3_at"]


def point_boto3_at(patch: pytest.MonkeyPatch, endpoint: str, region: str) -> None:
    """Fake credentials, `region` and `endpoint` for every boto3 client made from now on (no profile or session
    token of the machine leaks in); one attempt per call: moto answers what it lacks with HTTP 500, which botocore
    would otherwise retry."""
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        patch.delenv(name, raising=False)
    patch.setenv("AWS_ACCESS_KEY_ID", "testing")
    patch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    patch.setenv("AWS_DEFAULT_REGION", region)
    patch.setenv("AWS_REGION", region)
    patch.setenv("AWS_ENDPOINT_URL", endpoint)
    patch.setenv("AWS_MAX_ATTEMPTS", "1")
