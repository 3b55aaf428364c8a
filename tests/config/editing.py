"""Editing a copy of the shipped config: each test changes one thing and checks what the loader says about it."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from config import DEFAULT_CONFIG_PATH, ConfigError, load_config

DELETE = object()


def shipped() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(DEFAULT_CONFIG_PATH.read_text())
    return data


def write(tmp_path: Path, data: Any) -> Path:
    path = tmp_path / "environments.yaml"
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data))
    return path


def edited(path: str, value: Any, data: dict[str, Any] | None = None) -> dict[str, Any]:
    """The shipped config (or `data`) with the value at a dotted `path` replaced (or deleted with `DELETE`)."""
    data = copy.deepcopy(shipped() if data is None else data)
    *parents, leaf = path.split(".")
    node = data
    for part in parents:
        node = node.setdefault(part, {})
    if value is DELETE:
        del node[leaf]
    else:
        node[leaf] = value
    return data


def refused(tmp_path: Path, data: Any, expected: list[str]) -> str:
    """Load `data` from a file, expect one ConfigError naming the file and every `expected` fragment."""
    config_file = write(tmp_path, data)
    with pytest.raises(ConfigError) as caught:
        load_config(config_file)
    message = str(caught.value)
    assert str(config_file) in message
    for fragment in expected:
        assert fragment in message, f"{fragment!r} not in:\n{message}"
    return message
