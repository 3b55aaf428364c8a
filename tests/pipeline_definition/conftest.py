"""The offline SDK build of every definition (~20 s) runs in a child process that tests/conftest.py starts
once per session, beside the rest of the suite; the tests that need it wait for its report and run last."""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.pipeline_definition.offline_generation import OUT_VARIABLE


@dataclass(frozen=True)
class OfflineGeneration:
    out: Path  # the definitions and staging folder, as generate writes them
    native: Path  # dev's definitions with native checks and Model Monitor on
    report: dict


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    waiting = [item for item in items if "offline_generation" in getattr(item, "fixturenames", ())]
    items[:] = [item for item in items if item not in waiting] + waiting


@pytest.fixture(scope="session")
def offline_generation() -> OfflineGeneration:
    out = os.environ.get(OUT_VARIABLE)
    if not out:
        pytest.fail("the offline generation was not started (tests/conftest.py starts it with the session)")
    report_path = Path(out) / "report.json"
    deadline = time.monotonic() + 300
    while not report_path.exists():
        if time.monotonic() > deadline:
            pytest.fail(f"the offline generation wrote no report in 300 s ({report_path})")
        time.sleep(0.2)
    report = json.loads(report_path.read_text())
    assert report["error"] is None, f"offline generation failed:\n{report['error']}"
    return OfflineGeneration(out=Path(out) / "generated", native=Path(out) / "native", report=report)
