"""Reading `config/environments.yaml`: YAML without silent surprises, `defaults` merged in, every problem at once.

`load_config` merges `defaults` into each environment, validates the result with the models and returns frozen
models; anything wrong becomes one `ConfigError` whose message names the file, the environment, the key, the bad
value and what is allowed. Nothing here touches AWS: the CDK app reads these models and decides at synth time.
"""

from __future__ import annotations

import copy
from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from config.errors import ConfigError, describe, invalid
from config.platform import PlatformConfig, promotion_source_problems
from config.release import ReleaseSettings
from config.sections import EnvironmentConfig
from config.values import ENVIRONMENT_NAMES

DEFAULT_CONFIG_PATH = Path(__file__).with_name("environments.yaml")
_TOP_LEVEL_KEYS = ("project_name", "defaults", "environments", "release")


@dataclass(frozen=True)
class DuplicateKey:
    key: object
    first_line: int
    second_line: int


class _UniqueKeyLoader(yaml.SafeLoader):
    """PyYAML's SafeLoader that records a key given twice in one mapping, at any depth.

    PyYAML keeps the last value silently: a second `prod:` block would replace the first one whole, and the
    environment would deploy with half its settings gone. The duplicates are collected, not raised, so that the
    error lists all of them.
    """

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.duplicates: list[DuplicateKey] = []

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Hashable, Any]:
        first_lines: dict[object, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":  # `<<: *anchor` overrides on purpose
                continue
            key = self.construct_object(key_node, deep=deep)
            if not isinstance(key, Hashable):
                continue  # the base class refuses it with its own error
            line = key_node.start_mark.line + 1
            if key in first_lines:
                self.duplicates.append(DuplicateKey(key, first_lines[key], line))
            else:
                first_lines[key] = line
        return super().construct_mapping(node, deep=deep)


def read_yaml(path: Path) -> Any:
    """The file's data; a `ConfigError` if it cannot be read, is not YAML or gives a key twice in one mapping."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the config file: {exc.strerror}") from None
    loader = _UniqueKeyLoader(text)
    try:
        data = loader.get_single_data()
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    finally:
        loader.dispose()
    if loader.duplicates:
        raise invalid(
            [
                f"{path}: key {d.key!r} appears twice in the same mapping, at line {d.first_line} and line "
                f"{d.second_line}: YAML would silently keep only the second; merge the two into one"
                for d in loader.duplicates
            ]
        )
    return data


def _deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    merged = copy.deepcopy(dict(base))
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def dataset_problems(where: str, environments: Mapping[str, EnvironmentConfig]) -> list[str]:
    """Each named data set's contract problems (once per contract), and the ingestion column mappings that name
    no column of their environment's data set."""
    from config.dataset import load_contract  # imported here: `python -m config.dataset` imports this package

    problems: list[str] = []
    failed: set[str] = set()
    for env in environments.values():
        if env.dataset in failed:
            continue
        try:
            contract = load_contract(env.dataset)
        except ConfigError as exc:
            failed.add(env.dataset)
            lines = str(exc).splitlines()
            problems += [line.strip() for line in lines[1:]] if len(lines) > 1 else lines
            continue
        learned = [c.name for c in contract.columns if c.learned]
        if learned and env.scale_out.get("Preprocess", 1) > 1:
            problems.append(
                f"{where}: environment '{env.name}': key 'scale_out.Preprocess' is {env.scale_out['Preprocess']}: "
                f"data set '{env.dataset}' learns the categories of {', '.join(learned)} from the training split, "
                "which one instance must read whole (each shard would learn its own share's categories)"
            )
        if env.ingestion is None:
            continue
        raw = [c.name for c in contract.columns]
        for column in env.ingestion.columns:
            if column not in raw:
                problems.append(
                    f"{where}: environment '{env.name}': key 'ingestion.columns' has key {column!r}: no column of "
                    f"data set '{env.dataset}'; its raw columns are {', '.join(raw)}"
                )
    return problems


def load_config(path: Path | str = DEFAULT_CONFIG_PATH) -> PlatformConfig:
    """Read, merge and validate the environment file; raise `ConfigError` listing every problem."""
    path = Path(path)
    raw = read_yaml(path)
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: must be a mapping with keys project_name, defaults, environments")

    problems: list[str] = []
    unknown_top = sorted(set(raw) - set(_TOP_LEVEL_KEYS))
    problems += [f"{path}: key '{k}' is not allowed; allowed keys: {', '.join(_TOP_LEVEL_KEYS)}" for k in unknown_top]
    defaults = raw.get("defaults") or {}
    environments = raw.get("environments")
    if not isinstance(defaults, dict):
        problems.append(f"{path}: key 'defaults' must be a mapping, got {defaults!r}")
        defaults = {}
    if not isinstance(environments, dict):
        raise ConfigError(
            "\n".join([*problems, f"{path}: key 'environments' must map dev, staging and prod to settings"])
        )

    for name in environments:
        if name not in ENVIRONMENT_NAMES:
            problems.append(
                f"{path}: unknown environment {name!r}; allowed environments: {', '.join(ENVIRONMENT_NAMES)}"
            )
    for name in ENVIRONMENT_NAMES:
        if name not in environments:
            problems.append(f"{path}: environment {name!r} is missing (required: {', '.join(ENVIRONMENT_NAMES)})")

    validated: dict[str, EnvironmentConfig] = {}
    for name in ENVIRONMENT_NAMES:
        if name not in environments:
            continue
        overrides = environments[name] or {}
        if not isinstance(overrides, dict):
            problems.append(f"{path}: environment '{name}' must be a mapping, got {overrides!r}")
            continue
        merged = _deep_merge(defaults, overrides)
        merged["name"] = name
        try:
            validated[name] = EnvironmentConfig.model_validate(merged)
        except ValidationError as exc:
            problems += [
                describe(err, f"{path}: environment '{name}'", model=EnvironmentConfig) for err in exc.errors()
            ]

    problems += promotion_source_problems(str(path), validated)
    problems += dataset_problems(str(path), validated)

    release: ReleaseSettings | None = None
    if raw.get("release") is not None:
        try:
            release = ReleaseSettings.model_validate(raw["release"])
        except ValidationError as exc:
            problems += [describe(err, str(path), model=ReleaseSettings, key_prefix="release") for err in exc.errors()]

    try:
        config = PlatformConfig.model_validate(
            {
                "project_name": raw.get("project_name"),
                "environments": validated,
                "release": release,
                "config_file": str(path),
            }
        )
    except ValidationError as exc:
        problems += [
            describe(err, str(path), model=PlatformConfig) for err in exc.errors() if err["loc"][0] == "project_name"
        ]
    if problems:
        raise invalid(problems)
    return config
