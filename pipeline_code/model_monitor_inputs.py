"""Training, native checks only: what SageMaker Model Monitor's and Clarify's baselines need from the train split.

Model Monitor compares captured endpoint requests with its baseline column by column, so the baseline dataset
must have the requests' layout: features only, no header, schema order, categories as codes (what the endpoint
receives and ``batch_prepare`` writes). The processed train split starts with the label, so it cannot be used
as it is: with it, every column would be compared with its neighbour.

Outputs (each a folder, for a ProcessingOutput):

- ``features/features.csv``: the train split without its label (the data-quality baselining job's dataset).
- ``shap/shap_baseline.csv``: Clarify's SHAP baseline, one row of typical values taken from the preprocess
  step's ``baseline.json``: the median of each numeric feature, the most frequent code of each categorical one.
  One row because kernel SHAP's cost grows with the rows of its baseline.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from pipeline_code import schema, tabular
from pipeline_code.artifacts import atomic_output, read_json
from pipeline_code.cli import PROCESSING_INPUT, PROCESSING_OUTPUT, run_step
from pipeline_code.errors import DataValidationError


def write_features(train: Path | str, features_csv: Path) -> int:
    """Stream the processed train split into ``features_csv`` without its label; returns the row count."""
    rows = 0
    features_csv.parent.mkdir(parents=True, exist_ok=True)
    with features_csv.open("wb") as out:
        for batch in tabular.prefetched(tabular.iter_processed_batches(train)):
            out.write(tabular.processed_csv(tabular.EncodedBatch(batch.features, None)))
            rows += batch.features.shape[0]
    if not rows:
        raise DataValidationError(f"{train}: the train split has no rows")
    return rows


def shap_baseline(baseline: dict[str, Any]) -> list[float | int]:
    """One row in feature order: numeric medians, categorical modes (codes), from the train split's baseline."""
    features = baseline.get("features")
    if not isinstance(features, dict):
        raise DataValidationError("baseline.json has no 'features' object")
    row: list[float | int] = []
    for col in schema.FEATURES:
        summary = features.get(col.name)
        if not isinstance(summary, dict):
            raise DataValidationError(f"baseline.json has no statistics for feature '{col.name}'")
        if isinstance(col, schema.NumericColumn):
            median = summary.get("quantiles", {}).get("p50")
            if median is None:
                raise DataValidationError(f"baseline.json: feature '{col.name}' has no median (no values at all)")
            row.append(median)
        else:
            counts = summary.get("counts") or []
            if len(counts) != len(col.categories) or not any(counts):
                raise DataValidationError(
                    f"baseline.json: feature '{col.name}' needs {len(col.categories)} category counts, not all 0"
                )
            row.append(max(range(len(counts)), key=counts.__getitem__))
    return row


def write_shap_baseline(baseline_json: Path, out_csv: Path) -> list[float | int]:
    row = shap_baseline(read_json(baseline_json))
    out_csv.parent.mkdir(parents=True, exist_ok=True)
    out_csv.write_text(",".join(str(value) for value in row) + "\n")
    return row


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", default=f"{PROCESSING_INPUT}/train", help="processed train split (file or folder)")
    parser.add_argument("--baseline", default=f"{PROCESSING_INPUT}/baseline", help="folder with baseline.json")
    parser.add_argument("--output", default=PROCESSING_OUTPUT, help="parent of features/ and shap/")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)

    def step() -> None:
        output = Path(args.output)
        with atomic_output(output / "features") as features:
            rows = write_features(args.train, features / "features.csv")
        with atomic_output(output / "shap") as shap:
            write_shap_baseline(Path(args.baseline) / "baseline.json", shap / "shap_baseline.csv")
        print(f"model_monitor_inputs: {rows} train row(s) without label; SHAP baseline of {len(schema.FEATURES)}")

    return run_step(step, "model_monitor_inputs")


if __name__ == "__main__":
    sys.exit(main())
