"""The whole validated file: the project name, the three environments and the optional release section."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated

from pydantic import Field

from config.errors import ConfigError, invalid
from config.release import ReleaseSettings
from config.section import Section
from config.sections import EnvironmentConfig
from config.values import Rule


class PlatformConfig(Section):
    """What `load_config` returns: every environment already merged with `defaults` and validated."""

    project_name: Annotated[
        str,
        Field(pattern=r"^[a-z][a-z0-9-]{1,15}$"),
        Rule("2-16 characters: a lowercase letter, then lowercase letters, digits and `-`"),
    ] = Field(
        # At most 16 characters: zone bucket names are `<project>-<env>-<zone>-<account>-<region>`, 63 at most.
        description="Prefix of every stack, bucket, key, Glue and Athena name. At most 16 characters, so that "
        "bucket names `<project>-<env>-<zone>-<account>-<region>` fit in S3's 63. Changing it replaces everything."
    )
    environments: dict[str, EnvironmentConfig] = Field(
        description="dev, staging and prod, each `defaults` deep-merged with its own entry."
    )
    release: ReleaseSettings | None = Field(
        default=None, description="The GitOps release pipeline; only `-c release=true` reads it."
    )
    config_file: str = Field(
        default="config/environments.yaml",
        description="The file this config was read from: errors found only when the release stack is asked for "
        "name it too. Set by the loader.",
    )

    def environment(self, name: str) -> EnvironmentConfig:
        try:
            return self.environments[name]
        except KeyError:
            raise ConfigError(f"unknown environment {name!r}; allowed: {', '.join(self.environments)}") from None

    def source_of(self, name: str) -> EnvironmentConfig | None:
        """The environment whose packages `name` promotes (`promotion.source`), or None for `own`."""
        source = self.environment(name).promotion.source
        return None if source == "own" else self.environment(source)

    def consumers_of(self, name: str) -> list[EnvironmentConfig]:
        """The environments that promote `name`'s packages, in file order."""
        return [e for e in self.environments.values() if e.promotion.source == name]

    def require_release(self) -> ReleaseSettings:
        """The release settings, complete; else a `ConfigError` naming every missing value.

        Called only when the release stack is asked for (`-c release=true`), so that a config without a tooling
        account or connection still synthesizes and deploys the environments locally.
        """
        where = self.config_file
        release = self.release
        if release is None:
            raise invalid(
                [
                    f"{where}: key 'release' is missing: the release pipeline (-c release=true) needs a 'release' "
                    "section with account, region, source and notification_email (README, 'Release pipeline "
                    "(GitOps)')"
                ]
            )
        missing: list[tuple[str, str]] = []
        if release.account is None:
            missing.append(("release.account", "the tooling account that hosts the pipeline (quoted 12 digits)"))
        if release.source.provider == "codeconnections" and release.source.connection_arn is None:
            missing.append(
                (
                    "release.source.connection_arn",
                    "the ARN of an available CodeConnections connection, "
                    "arn:aws:codeconnections:<region>:<account>:connection/<id>",
                )
            )
        if release.notification_email is None:
            missing.append(("release.notification_email", "an address for failed releases and waiting approvals"))
        problems = [f"{where}: key '{key}' has value None: the release pipeline needs {what}" for key, what in missing]
        problems += [
            f"{where}: environment '{name}': key 'account' has value None: the release pipeline deploys every "
            "environment into a named account (a quoted 12-digit AWS account id)"
            for name, environment in self.environments.items()
            if environment.account is None
        ]
        if problems:
            raise invalid(problems)
        return release


def promotion_source_problems(where: str, environments: Mapping[str, EnvironmentConfig]) -> list[str]:
    """What is wrong with the environments' `promotion.source` keys taken together: a cycle, a source without an
    account, a source whose registry does not grant the consumer's account. One line per problem."""
    problems: list[str] = []
    for name, environment in environments.items():
        source_name = environment.promotion.source
        if source_name == "own":
            continue
        key = f"{where}: environment '{name}': key 'promotion.source' has value {source_name!r}"
        chain: list[str] = [name]
        current: str = source_name
        while current != "own" and current in environments and current not in chain:
            chain.append(current)
            current = environments[current].promotion.source
        if current in chain:
            cycle = " -> ".join([*chain[chain.index(current) :], current])
            problems.append(
                f"{key}: the sources form a cycle ({cycle}): some environment must train its own models "
                "(promotion.source 'own')"
            )
            continue
        source = environments.get(source_name)
        if source is None:
            continue  # the source environment is itself invalid: its own errors are listed
        if source.account is None:
            problems.append(
                f"{key}: the source environment needs an account: set environments.{source_name}.account (its "
                "registry, bucket and key are named by account)"
            )
        elif (
            environment.account
            and environment.account != source.account
            and environment.account not in source.model_registry.cross_account_readers
        ):
            problems.append(
                f"{key}: environments.{source_name}.model_registry.cross_account_readers must include "
                f"{environment.account} ({name}'s account): the source's registry, artifacts and key grant reads "
                "only to the accounts listed"
            )
    return problems
