"""What the steps write where the definitions read it, from the session's local run of `pipeline_code` (`run_dir`
in tests/conftest.py, shared with the ML steps' tests)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest


@pytest.fixture(scope="session")
def property_files(run_dir: Path) -> dict[str, Any]:
    """Property file name -> the JSON its step writes: validate, preprocess, train, evaluate and bias_explain
    as the session's local run of the shipped Adult data wrote them (`run_dir`), exactly as the jobs call them."""
    read = lambda path: json.loads((run_dir / path).read_text())  # noqa: E731
    return {
        "EvaluationReport": read("evaluation/evaluation.json"),
        "BiasReport": read("bias/bias_report.json"),
        "InputLineage": read("preprocess/manifest/lineage.json"),
        # GatherMonitoringInputs' summary.json: `rows` is what HasEnoughData reads (a day of endpoint traffic).
        "MonitoringInputs": {"rows": 2400, "labelled_rows": 310},
    }
