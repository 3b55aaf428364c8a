"""The offline SDK build takes ~20 s: it starts in a child process as soon as collection asks for it, so it
runs beside the rest of the suite instead of after it."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
_started: dict[str, object] = {}


@dataclass(frozen=True)
class OfflineGeneration:
    out: Path
    report: dict


def start_offline_generation(tmp_root: Path) -> None:
    if "process" in _started:
        return
    out = tmp_root / "generated"
    out.mkdir(parents=True)
    _started["out"] = out
    _started["process"] = subprocess.Popen(
        [sys.executable, str(HERE / "offline_generation.py"), str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    waiting = [item for item in items if "offline_generation" in getattr(item, "fixturenames", ())]
    if waiting:
        start_offline_generation(Path(config._tmp_path_factory.mktemp("offline")))  # type: ignore[attr-defined]
        # The tests that wait for it run last, so the rest of the suite runs meanwhile.
        items[:] = [item for item in items if item not in waiting] + waiting


@pytest.fixture(scope="session")
def offline_generation(tmp_path_factory: pytest.TempPathFactory) -> OfflineGeneration:
    start_offline_generation(tmp_path_factory.mktemp("offline"))
    process = _started["process"]
    assert isinstance(process, subprocess.Popen)
    stdout, stderr = process.communicate(timeout=300)
    assert process.returncode == 0, f"offline generation failed:\n{stderr[-3000:]}"
    report = json.loads(stdout.strip().splitlines()[-1])
    out = _started["out"]
    assert isinstance(out, Path)
    return OfflineGeneration(out=out, report=report)
