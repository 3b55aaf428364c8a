"""The release section (config.release, PlatformConfig.require_release): wrong shapes fail every load, missing
values only when the release pipeline is asked for."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from config import ConfigError, load_config
from tests.config.editing import edited, refused, shipped, write

_CONNECTION = "arn:aws:codeconnections:eu-west-1:999999999999:connection/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"


def _complete_release() -> dict[str, Any]:
    data = edited("release.account", "999999999999")
    data["release"]["notification_email"] = "ml-releases@example.com"
    data["release"]["source"]["connection_arn"] = _CONNECTION
    data["environments"]["dev"]["account"] = "111111111111"
    return data


def test_the_shipped_release_section_loads_but_is_not_complete_until_filled_in() -> None:
    config = load_config()
    assert config.release is not None
    assert config.release.source.provider == "codeconnections"
    with pytest.raises(ConfigError, match=r"key 'release\.account' has value None"):
        config.require_release()


def test_a_complete_release_section_is_returned(tmp_path: Path) -> None:
    release = load_config(write(tmp_path, _complete_release())).require_release()
    assert (release.account, release.source.connection_arn) == ("999999999999", _CONNECTION)


def test_a_config_without_a_release_section_still_loads_and_names_the_section_when_asked(tmp_path: Path) -> None:
    data = shipped()
    del data["release"]
    config_file = write(tmp_path, data)
    config = load_config(config_file)
    assert config.release is None
    with pytest.raises(ConfigError) as caught:
        config.require_release()
    assert f"{config_file}: key 'release' is missing" in str(caught.value)
    assert "-c release=true" in str(caught.value)


BAD_RELEASE_CONFIGS = {
    "connection arn of another service": (
        "release.source.connection_arn", "arn:aws:iam::999999999999:role/x",
        ["'release.source.connection_arn'", "'arn:aws:iam::999999999999:role/x'", "should match pattern"],
    ),
    "repository without owner": (
        "release.source.repository", "mlops-platform",
        ["section 'release.source'", "needs repository as 'owner/name'", "'mlops-platform'"],
    ),
    "unknown provider": ("release.source.provider", "github", ["'release.source.provider'", "'github'", "'codeconnections', 'codecommit' or 's3'"]),
    "s3 source without object key": ("release.source.provider", "s3", ["section 'release.source'", "needs bucket and object_key"]),
    "unknown release key": ("release.acount", "999999999999", ["key 'release.acount' is not allowed", "account, region, source, notification_email"]),
    "bad tooling region": ("release.region", "eu-west-9", ["'release.region'", "'eu-west-9'", "unknown region"]),
    "tooling account as a bare number": ("release.account", 99999999999, ["'release.account'", "quoted string of 12 digits"]),
    "bad e-mail": ("release.notification_email", "ml-releases", ["'release.notification_email'", "'ml-releases'"]),
}  # fmt: skip


@pytest.mark.parametrize(("path", "value", "expected"), BAD_RELEASE_CONFIGS.values(), ids=BAD_RELEASE_CONFIGS.keys())
def test_a_bad_release_value_fails_at_load_with_file_key_value_and_allowed(
    tmp_path: Path, path: str, value: Any, expected: list[str]
) -> None:
    # A wrong shape is an error on every synth (like any other key); only missing values wait for the release.
    refused(tmp_path, edited(path, value), expected)


def test_every_missing_release_value_is_named_at_once(tmp_path: Path) -> None:
    data = edited("environments.dev.account", None)  # dev's account may be left out while nothing promotes from dev
    data["environments"]["staging"]["promotion"]["source"] = "own"
    config_file = write(tmp_path, data)
    with pytest.raises(ConfigError) as caught:
        load_config(config_file).require_release()
    lines = str(caught.value).splitlines()[1:]
    assert [line.split(": key ")[-1].split(" has value")[0] for line in lines] == [
        "'release.account'",
        "'release.source.connection_arn'",
        "'release.notification_email'",
        "'account'",  # dev: the release deploys every environment into a named account
    ]
    assert all(line.strip().startswith(f"{config_file}:") for line in lines)
    assert "environment 'dev'" in lines[-1]


@pytest.mark.parametrize(
    ("provider", "fields"),
    [
        ("codecommit", {"repository": "mlops-platform"}),
        ("s3", {"bucket": "release-sources", "object_key": "mlops.zip"}),
    ],
)
def test_codecommit_and_s3_sources_need_no_connection(tmp_path: Path, provider: str, fields: dict[str, str]) -> None:
    data = _complete_release()
    data["release"]["source"] = {"provider": provider, "branch": "main", **fields}
    release = load_config(write(tmp_path, data)).require_release()
    assert release.source.provider == provider
    assert release.source.connection_arn is None
