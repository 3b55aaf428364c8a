"""The environment config: the shipped file is valid, and every kind of mistake is named precisely."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from config import ConfigError, load_config
from config.settings import DEFAULT_CONFIG_PATH

_DELETE = object()


def _shipped() -> dict[str, Any]:
    return yaml.safe_load(DEFAULT_CONFIG_PATH.read_text())


def _write(tmp_path: Path, data: Any) -> Path:
    path = tmp_path / "environments.yaml"
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data))
    return path


def _with(path: str, value: Any) -> dict[str, Any]:
    """The shipped config with the value at a dotted `path` replaced (or deleted with `_DELETE`)."""
    data = copy.deepcopy(_shipped())
    *parents, leaf = path.split(".")
    node = data
    for part in parents:
        node = node.setdefault(part, {})
    if value is _DELETE:
        del node[leaf]
    else:
        node[leaf] = value
    return data


def test_the_shipped_config_is_valid_for_all_three_environments() -> None:
    config = load_config()
    assert list(config.environments) == ["dev", "staging", "prod"]
    assert config.environment("dev").account is None
    assert config.environment("prod").termination_protection is True
    assert config.environment("prod").removal_policy == "retain"
    assert config.environment("dev").removal_policy == "destroy"


def test_environment_overrides_merge_into_defaults_key_by_key() -> None:
    config = load_config()
    dev, prod = config.environment("dev"), config.environment("prod")
    assert dev.data_lake.noncurrent_version_expiration_days == 7  # overridden
    assert dev.data_lake.transition_to_glacier_days == 180  # inherited from defaults beside it
    assert prod.training.instance_type == "ml.m5.2xlarge"
    assert prod.training.hyperparameters.max_depth == 6


# Each case: (mutation path, bad value, substrings the one error message must contain).
BAD_CONFIGS = {
    "unknown environment": ("environments.qa", {}, ["unknown environment 'qa'", "allowed environments: dev, staging, prod"]),
    "missing environment": ("environments.prod", _DELETE, ["environment 'prod' is missing"]),
    "unknown instance family": (
        "environments.prod.training.instance_type", "ml.x9.2xlarge",
        ["environment 'prod'", "'training.instance_type'", "'ml.x9.2xlarge'", "unknown instance family 'x9'", "m5"],
    ),
    "malformed instance type": (
        "defaults.processing.instance_type", "m5.large",
        ["'processing.instance_type'", "'m5.large'", "ml.<family>.<size>"],
    ),
    "negative count": (
        "environments.staging.processing.instance_count", -1,
        ["environment 'staging'", "'processing.instance_count'", "-1", "greater than or equal to 1"],
    ),
    "count given as text": ("defaults.training.instance_count", "2", ["'training.instance_count'", "'2'", "valid integer"]),
    "bad account id": ("environments.prod.account", "12345", ["environment 'prod'", "'account'", "'12345'", "^\\d{12}$"]),
    "account as a bare number": (
        "environments.prod.account", 12345678901, ["'account'", "12345678901", "quoted string of 12 digits"],
    ),
    "account missing outside dev": ("environments.staging.account", None, ["environment 'staging'", "account is required"]),
    "bad region": ("defaults.region", "eu-west-9", ["'region'", "'eu-west-9'", "unknown region", "eu-west-1"]),
    "cron hour out of range": (
        "defaults.monitoring.schedule", "cron(0 25 * * ? *)",
        ["'monitoring.schedule'", "'cron(0 25 * * ? *)'", "hours '25'", "0-23"],
    ),
    "cron with five fields": ("defaults.schedules.batch_inference", "cron(0 3 * * ?)", ["needs 6 fields", "got 5"]),
    "cron with both day fields": ("defaults.schedules.batch_inference", "cron(0 3 * * * *)", ["'?' in exactly one"]),
    "rate with wrong unit": ("defaults.schedules.retraining", "rate(7 weeks)", ["'rate(7 weeks)'", "cron(", "rate(N unit)"]),
    "threshold above 1": ("defaults.thresholds.min_auc", 1.5, ["'thresholds.min_auc'", "1.5", "less than or equal to 1"]),
    "threshold below 0": (
        "environments.prod.thresholds", {"min_disparate_impact": -0.1},
        ["environment 'prod'", "'thresholds.min_disparate_impact'", "-0.1", "greater than or equal to 0"],
    ),
    "missing key": ("defaults.thresholds.min_f1", _DELETE, ["key 'thresholds.min_f1' is missing"]),
    "unknown key": (
        "environments.dev.training.instance_typ", "ml.m5.large",
        ["environment 'dev'", "key 'training.instance_typ' is not allowed", "instance_type"],
    ),
    "unknown top-level key": ("default", {}, ["key 'default' is not allowed", "project_name, defaults, environments"]),
    "unknown removal policy": ("environments.dev.removal_policy", "delete", ["'removal_policy'", "'delete'", "'retain' or 'destroy'"]),
    "log retention CloudWatch rejects": ("defaults.log_retention_days", 10, ["'log_retention_days'", "10", "accepts only 1, 3, 5"]),
    "glacier before infrequent access": (
        "defaults.data_lake.transition_to_glacier_days", 20,
        ["section 'data_lake'", "transition_to_glacier_days must be greater"],
    ),
    "more parallel tuning jobs than jobs": (
        "environments.prod.tuning.max_parallel_jobs", 50, ["environment 'prod'", "max_parallel_jobs (50) must be <= max_jobs (20)"],
    ),
    "serverless memory off the grid": (
        "defaults.inference.serverless_memory_mb", 1500, ["'inference.serverless_memory_mb'", "1500", "1024", "6144"],
    ),
    "spot wait shorter than runtime": (
        "defaults.training.max_wait_seconds", 600, ["section 'training'", "max_wait_seconds must be >= max_runtime_seconds"],
    ),
    "bad project name": ("project_name", "My Project", ["'project_name'", "'My Project'"]),
    "capture from a serverless endpoint": ("environments.dev.monitoring", {"source": "capture"}, ["environment 'dev'", "section", "serverless endpoints support no data capture"]),
    "model-monitor without its baselines": ("environments.staging.monitoring", {"backend": "model-monitor"}, ["environment 'staging'", "monitoring.backend 'model-monitor' needs pipeline.native_checks true"]),
    "model-monitor on a serverless endpoint": ("environments.dev.monitoring", {"backend": "model-monitor", "source": "batch"}, ["environment 'dev'", "native_checks true", "and inference.mode 'instance'"]),
    "keeping fewer than two endpoint configs": ("defaults.promotion.keep_endpoint_configs", 1, ["'promotion.keep_endpoint_configs'", "1", "greater than or equal to 2"]),
    "project name too long for bucket names": ("project_name", "a-very-long-project", ["'project_name'", "'a-very-long-project'"]),
}  # fmt: skip


@pytest.mark.parametrize(("path", "value", "expected"), BAD_CONFIGS.values(), ids=BAD_CONFIGS.keys())
def test_a_bad_value_fails_with_one_message_naming_file_environment_key_value_and_allowed(
    tmp_path: Path, path: str, value: Any, expected: list[str]
) -> None:
    config_file = _write(tmp_path, _with(path, value))
    with pytest.raises(ConfigError) as caught:
        load_config(config_file)
    message = str(caught.value)
    assert str(config_file) in message
    for fragment in expected:
        assert fragment in message, f"{fragment!r} not in:\n{message}"


def test_not_yaml_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"environments\.yaml: not valid YAML"):
        load_config(_write(tmp_path, "defaults: [unclosed"))


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"nowhere\.yaml: cannot read the config file"):
        load_config(tmp_path / "nowhere.yaml")


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    data = _with("defaults.thresholds.min_auc", 2.0)
    data["environments"]["prod"]["region"] = "mars-1"
    with pytest.raises(ConfigError) as caught:
        load_config(_write(tmp_path, data))
    lines = str(caught.value).splitlines()[1:]
    assert sum("min_auc" in line for line in lines) == 3  # one per environment
    assert any("'mars-1'" in line and "environment 'prod'" in line for line in lines)


def test_asking_for_an_unknown_environment_names_the_allowed_ones() -> None:
    with pytest.raises(ConfigError, match="unknown environment 'qa'; allowed: dev, staging, prod"):
        load_config().environment("qa")


def test_synth_stops_with_the_message_and_exit_code_1(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import app

    monkeypatch.setenv("MLOPS_CONFIG", str(_write(tmp_path, _with("defaults.region", "nowhere-1"))))
    assert app.main() == 1
    err = capsys.readouterr().err
    assert "error: invalid configuration" in err
    assert "'nowhere-1'" in err


# ------------------------------------------------------------------------------ release pipeline (issue #6)

_CONNECTION = "arn:aws:codeconnections:eu-west-1:999999999999:connection/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"


def _complete_release() -> dict[str, Any]:
    data = _with("release.account", "999999999999")
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
    release = load_config(_write(tmp_path, _complete_release())).require_release()
    assert (release.account, release.source.connection_arn) == ("999999999999", _CONNECTION)


def test_a_config_without_a_release_section_still_loads_and_names_the_section_when_asked(tmp_path: Path) -> None:
    data = _shipped()
    del data["release"]
    config_file = _write(tmp_path, data)
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
    test_a_bad_value_fails_with_one_message_naming_file_environment_key_value_and_allowed(
        tmp_path, path, value, expected
    )


def test_every_missing_release_value_is_named_at_once(tmp_path: Path) -> None:
    config_file = _write(tmp_path, _shipped())
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
    release = load_config(_write(tmp_path, data)).require_release()
    assert release.source.provider == provider
    assert release.source.connection_arn is None
