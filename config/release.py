"""The `release:` section: the GitOps release pipeline (issue #6), read only with `-c release=true` complete."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import Field, model_validator

from config.section import Section
from config.values import AccountId, Email, Region, Rule

_CONNECTION_ARN = r"^arn:aws[a-z-]*:(codeconnections|codestar-connections):[a-z0-9-]+:\d{12}:connection/[0-9a-f-]+$"
_REPOSITORY_BY_PROVIDER = {
    # Why a shape per provider: a CodeConnections source names `owner/name`, CodeCommit only a name; a wrong
    # shape is accepted by CloudFormation and fails only when the first release tries to fetch the source.
    "codeconnections": (re.compile(r"^[\w.-]+/[\w.-]+$"), "'owner/name', e.g. 'example-org/mlops-platform'"),
    "codecommit": (re.compile(r"^[\w.-]+$"), "a CodeCommit repository name, e.g. 'mlops-platform'"),
}


class ReleaseSourceSettings(Section):
    """Where the release pipeline gets the code. Keys of the other providers are ignored, not errors."""

    provider: Literal["codeconnections", "codecommit", "s3"] = Field(
        description="codeconnections: GitHub, GitLab or Bitbucket through a CodeConnections connection. "
        "codecommit: a CodeCommit repository. s3: a zipped copy of the repository in a versioned bucket."
    )
    connection_arn: (
        Annotated[
            str,
            Field(pattern=_CONNECTION_ARN),
            Rule("`arn:aws:codeconnections:<region>:<account>:connection/<id>`"),
        ]
        | None
    ) = Field(
        default=None,
        description="codeconnections: the ARN of an available connection (created and authorised once in the "
        "console). May stay null until the first `-c release=true` synth.",
    )
    repository: str | None = Field(
        default=None,
        description="codeconnections: `owner/name`; codecommit: the repository name. Ignored for s3.",
    )
    branch: Annotated[str, Field(min_length=1)] | None = Field(
        default=None,
        description="codeconnections and codecommit: the branch whose every commit is released.",
    )
    bucket: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$"), Rule("an S3 bucket name")] | None = (
        Field(default=None, description="s3: the versioned bucket holding the zipped source.")
    )
    object_key: Annotated[str, Field(min_length=1)] | None = Field(
        default=None, description="s3: the key of the zipped source; a new version of it starts a release."
    )

    @model_validator(mode="after")
    def _shape_fits_provider(self) -> ReleaseSourceSettings:
        """s3 needs bucket and object_key; codeconnections needs repository `owner/name` and branch; codecommit
        needs repository (a name) and branch."""
        if self.provider == "s3":
            if not (self.bucket and self.object_key):
                raise ValueError("provider 's3' needs bucket and object_key (the zipped source)")
            return self
        pattern, allowed = _REPOSITORY_BY_PROVIDER[self.provider]
        if self.repository is None or not pattern.match(self.repository):
            raise ValueError(f"provider {self.provider!r} needs repository as {allowed}, got {self.repository!r}")
        if self.branch is None:
            raise ValueError(f"provider {self.provider!r} needs a branch")
        return self


class ReleaseSettings(Section):
    """The GitOps release pipeline, deployed once into a tooling account. Optional: only `-c release=true` needs it
    complete.

    Issue #6. Account, connection and e-mail may stay null in a shared config file, so that local synths and deploys
    work before a tooling account exists; `PlatformConfig.require_release` names what is still missing.
    """

    account: AccountId | None = Field(
        default=None,
        description="The tooling account that hosts the pipeline and deploys into the environments' accounts. "
        "Required by `-c release=true`, like every environment's account (dev included).",
    )
    region: Region = Field(description="Region of the pipeline (and of the CodeConnections connection).")
    source: ReleaseSourceSettings = Field(description="Where the pipeline gets the code.")
    notification_email: Email | None = Field(
        default=None,
        description="Where failed releases and the approval waiting before prod are announced. Required by "
        "`-c release=true`.",
    )
