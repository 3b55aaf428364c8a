"""Loading (config.loader): the shipped file is valid, `defaults` merge in, and file-level mistakes are named."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from config import ConfigError, load_config
from tests.config.editing import DELETE, edited, refused, write


def test_the_shipped_config_is_valid_for_all_three_environments() -> None:
    config = load_config()
    assert list(config.environments) == ["dev", "staging", "prod"]
    assert config.environment("dev").account == "111111111111"  # named: staging promotes dev's packages
    assert [config.environment(e).promotion.source for e in ("dev", "staging", "prod")] == ["own", "dev", "staging"]
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


BAD_FILES = {
    "unknown environment": ("environments.qa", {}, ["unknown environment 'qa'", "allowed environments: dev, staging, prod"]),
    "missing environment": ("environments.prod", DELETE, ["environment 'prod' is missing"]),
    "unknown top-level key": ("default", {}, ["key 'default' is not allowed", "project_name, defaults, environments"]),
    "bad project name": ("project_name", "My Project", ["'project_name'", "'My Project'"]),
    "project name too long for bucket names": ("project_name", "a-very-long-project", ["'project_name'", "'a-very-long-project'"]),
    "environment that is not a mapping": ("environments.staging", "prod", ["environment 'staging' must be a mapping"]),
}  # fmt: skip


@pytest.mark.parametrize(("path", "value", "expected"), BAD_FILES.values(), ids=BAD_FILES.keys())
def test_a_bad_file_fails_with_one_message_naming_file_key_and_allowed(
    tmp_path: Path, path: str, value: Any, expected: list[str]
) -> None:
    refused(tmp_path, edited(path, value), expected)


def test_not_yaml_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"environments\.yaml: not valid YAML"):
        load_config(write(tmp_path, "defaults: [unclosed"))


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"nowhere\.yaml: cannot read the config file"):
        load_config(tmp_path / "nowhere.yaml")


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    data = edited("defaults.thresholds.min_auc", 2.0)
    data["environments"]["prod"]["region"] = "mars-1"
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, data))
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

    monkeypatch.setenv("MLOPS_CONFIG", str(write(tmp_path, edited("defaults.region", "nowhere-1"))))
    assert app.main() == 1
    err = capsys.readouterr().err
    assert "error: invalid configuration" in err
    assert "'nowhere-1'" in err


# ------------------------------------------------------------------------------------------ duplicate keys


def _shipped_text_with(old: str, new: str) -> str:
    """The shipped file's text with one exact line block replaced: duplicates exist only in text, not in dicts."""
    text = Path(load_config().config_file).read_text()
    assert text.count(old) == 1, old
    return text.replace(old, new)


def _line_of(text: str, fragment: str, occurrence: int = 1) -> int:
    lines = [n for n, line in enumerate(text.splitlines(), start=1) if line.startswith(fragment)]
    return lines[occurrence - 1]


def test_a_second_environment_block_is_refused_with_both_lines(tmp_path: Path) -> None:
    # Without the check PyYAML keeps the second `prod:` only: prod would lose its account and protection.
    text = _shipped_text_with(
        "\n# The GitOps release pipeline", "  prod:\n    log_retention_days: 30\n\n# The GitOps release pipeline"
    )
    first, second = _line_of(text, "  prod:"), _line_of(text, "  prod:", 2)
    message = refused(
        tmp_path, text, [f"key 'prod' appears twice in the same mapping, at line {first} and line {second}"]
    )
    assert message.count("appears twice") == 1


def test_a_nested_duplicate_is_refused_with_both_lines(tmp_path: Path) -> None:
    text = _shipped_text_with(
        "    training:\n      instance_type: ml.m5.2xlarge\n",
        "    training:\n      instance_type: ml.m5.2xlarge\n      instance_type: ml.m5.large\n",
    )
    first = _line_of(text, "      instance_type: ml.m5.2xlarge")
    refused(
        tmp_path, text, [f"key 'instance_type' appears twice in the same mapping, at line {first} and line {first + 1}"]
    )


def test_every_duplicate_is_named_at_once(tmp_path: Path) -> None:
    text = _shipped_text_with("project_name: mlops\n", "project_name: mlops\nproject_name: other\n")
    text = text.replace(
        "    termination_protection: true\n", "    termination_protection: true\n    termination_protection: false\n"
    )
    message = refused(
        tmp_path, text, ["key 'project_name' appears twice", "key 'termination_protection' appears twice"]
    )
    assert len(message.splitlines()) == 3  # the heading and one line per duplicate


def test_a_yaml_merge_key_that_overrides_is_not_a_duplicate(tmp_path: Path) -> None:
    # `<<: *anchor` followed by the same key overrides on purpose (and keys repeat across sections everywhere).
    text = _shipped_text_with("  processing:  ", "  processing: &processing  ")
    text = text.replace("  prod:\n", "  prod:\n    processing:\n      <<: *processing\n      volume_size_gb: 50\n", 1)
    prod = load_config(write(tmp_path, text)).environment("prod")
    assert (prod.processing.volume_size_gb, prod.processing.instance_type) == (50, "ml.m5.large")
