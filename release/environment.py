"""What every release script reads from its CodeBuild environment, parsed once."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from release.aws import Clients, session_for


class UsageError(ValueError):
    """The step was wired wrongly (a variable missing); the message names what to set."""


@dataclass(frozen=True)
class Target:
    """The environment a post-deploy step works on: its region and the role that reaches into its account."""

    region: str
    role_arn: str | None

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> Target:
        # CodeBuild's own AWS_REGION is the tooling region; the stage may live elsewhere, hence TARGET_REGION.
        region = environ.get("TARGET_REGION") or environ.get("AWS_REGION")
        if not region:
            raise UsageError("set TARGET_REGION (the region of the stage that was deployed)")
        return cls(region=region, role_arn=environ.get("RELEASE_ROLE_ARN") or None)

    def clients(self) -> Clients:
        return Clients(session_for(region=self.region, role_arn=self.role_arn))


def required(environ: Mapping[str, str], name: str, meaning: str) -> str:
    value = environ.get(name, "").strip()
    if not value:
        raise UsageError(f"set {name} ({meaning})")
    return value
