"""What the steps write where the definitions read it, from one local run of `pipeline_code` (shared by the
contract tests)."""

from __future__ import annotations

import gzip
import json
from itertools import islice
from typing import Any

import pytest

from pipeline_code import local_run

SAMPLE_ROWS = 4000  # enough for a model that passes the default quality gates; the full data set takes ~2 min


@pytest.fixture(scope="session")
def property_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Property file name -> the JSON its step writes: validate, preprocess, train, evaluate and bias_explain
    run on the first rows of the shipped Adult data (~6 s), exactly as the jobs call them."""
    data = tmp_path_factory.mktemp("adult-sample")
    with gzip.open(local_run.DEFAULT_DATA / "adult.data.gz", "rt") as full:
        (data / "adult.data").write_text("".join(islice(full, SAMPLE_ROWS)))
    out = tmp_path_factory.mktemp("property-files")
    local_run.run_pipeline(data, out, [])
    read = lambda path: json.loads((out / path).read_text())  # noqa: E731
    return {
        "EvaluationReport": read("evaluation/evaluation.json"),
        "BiasReport": read("bias/bias_report.json"),
        "InputLineage": read("preprocess/manifest/lineage.json"),
        # GatherMonitoringInputs' summary.json: `rows` is what HasEnoughData reads (a day of endpoint traffic).
        "MonitoringInputs": {"rows": 2400, "labelled_rows": 310},
    }
