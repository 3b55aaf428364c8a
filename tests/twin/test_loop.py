"""`make loop` as a test: the whole loop of the dev stage runs once (a child process, as `python -m twin.loop`),
and each step of its timeline is asserted on its own (the evidence was checked on moto by the loop itself)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.synthesis import Synthesis

ROOT = Path(__file__).resolve().parents[2]
STEPS = (
    "data-landed",
    "new-data-retrain-started",
    "training-succeeded",
    "package-registered",
    "package-approved",
    "promotion-succeeded",
    "endpoint-in-service",
    "monitoring-clean",
    "monitoring-violations",
    "drift-retrain-started",
    "duplicate-alarm-skipped",
    "drift-retrain-learns-recent-data",
    "new-data-retrain-fresh-inputs",
    "same-data-cache-hit",
    "code-change-retrain-started",
)


@pytest.fixture(scope="session")
def loop_run(
    tmp_path_factory: pytest.TempPathFactory, synthesis: Synthesis
) -> tuple[subprocess.CompletedProcess[str], list[dict[str, Any]]]:
    out = tmp_path_factory.mktemp("loop") / "loop-run"
    process = subprocess.run(  # on the session's synthesis of the app (its dev stage), not a second one
        [sys.executable, "-m", "twin.loop", "--out", str(out), "--assembly", str(synthesis.outdir)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,  # ~3 min on a loaded 2-core machine; a hung run must still end
        check=False,
    )
    timeline_file = out / "timeline.json"
    assert timeline_file.is_file(), f"no timeline written; exit {process.returncode}\n{process.stderr[-3000:]}"
    return process, json.loads(timeline_file.read_text())


def test_the_timeline_names_every_step_in_order(loop_run: tuple[Any, list[dict[str, Any]]]) -> None:
    _, timeline = loop_run
    assert [entry["step"] for entry in timeline] == list(STEPS)
    for entry in timeline:
        assert set(entry) == {"step", "ok", "evidence"}
        assert isinstance(entry["ok"], bool)
        assert entry["evidence"].strip(), f"{entry['step']} has no evidence"


def test_the_exit_status_says_whether_every_step_was_ok(loop_run: tuple[Any, list[dict[str, Any]]]) -> None:
    process, timeline = loop_run
    assert (process.returncode == 0) == all(entry["ok"] for entry in timeline)
    assert process.returncode in (0, 1), process.stderr[-3000:]


@pytest.mark.parametrize("step", STEPS)
def test_step_is_ok(loop_run: tuple[Any, list[dict[str, Any]]], step: str) -> None:
    _, timeline = loop_run
    (entry,) = [e for e in timeline if e["step"] == step]
    assert entry["ok"], f"{step}: {entry['evidence']}"
