"""Evidently's ``DataDriftPreset`` on processed CSVs for ``bench_ml_steps.py`` (in ``.bench-venv-evidently``).

Evidently 0.7.23 picks its method per column (here: normed Wasserstein for numeric, Jensen-Shannon for
categorical, threshold 0.1, drift when the distance >= threshold). Prints one JSON object on the last line:
per-feature method, value and verdict, and the work's wall and CPU time: from reading the CSVs to the finished
report, after the imports (``ml_ours_drift.py`` times ``pipeline_code.drift`` the same way).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import pandas as pd
from evidently import DataDefinition, Dataset, Report
from evidently.presets import DataDriftPreset

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from pipeline_code import schema  # standard library only


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference", required=True, help="processed CSV (label first)")
    parser.add_argument("--current", required=True, help="processed CSV (label first)")
    args = parser.parse_args()
    names = [schema.LABEL, *schema.FEATURE_NAMES]
    definition = DataDefinition(
        numerical_columns=list(schema.NUMERIC_FEATURES), categorical_columns=list(schema.CATEGORICAL_FEATURES)
    )

    def load(path: str) -> Dataset:
        frame = pd.read_csv(path, header=None, names=names).drop(columns=[schema.LABEL])
        return Dataset.from_pandas(frame, data_definition=definition)

    started, cpu_started = time.perf_counter(), time.process_time()
    snapshot = Report([DataDriftPreset()]).run(load(args.current), load(args.reference))
    features = {}
    for metric in snapshot.dict()["metrics"]:
        config = metric["config"]
        if config.get("type", "").endswith("ValueDrift"):
            value = float(metric["value"])
            features[config["column"]] = {
                "method": config["method"],
                "value": value,
                "drift": value >= config["threshold"],
            }
    work = {"work_seconds": time.perf_counter() - started, "work_cpu_seconds": time.process_time() - cpu_started}
    print(json.dumps({"features": features, **work}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
