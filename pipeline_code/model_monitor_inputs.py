"""Training, native checks only: what SageMaker Model Monitor's and Clarify's baselines need from the train split.

Model Monitor compares captured endpoint requests with its baseline column by column, so the baseline dataset
must have the requests' layout: raw records, features only, no header, the raw files' column order, category
words and ``?`` for missing (what a client sends the endpoint as ``text/csv``). The processed train split starts
with the label and holds codes, so it is decoded (`features.Decoder`, with Preprocess's feature manifest: the
encoding the model is trained with and serves with).

Outputs (each a folder, for a ProcessingOutput):

- ``features/features.csv``: the train split as raw requests (the data-quality baselining job's dataset).
- ``shap/shap_baseline.csv``: Clarify's SHAP baseline, one raw record of typical values taken from the preprocess
  step's ``baseline.json``: the median of each numeric feature, the most frequent category of each categorical
  one. One row because kernel SHAP's cost grows with the rows of its baseline.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from pipeline_code import features, tabular
from pipeline_code.artifacts import atomic_output, read_json
from pipeline_code.cli import PROCESSING_INPUT, PROCESSING_OUTPUT, run_step
from pipeline_code.errors import DataValidationError


def write_features(train: Path | str, manifest: features.FeatureManifest, features_csv: Path) -> int:
    """Stream the processed train split into ``features_csv`` as raw requests; returns the row count."""
    decoder = features.Decoder(manifest, separator=",")
    rows = 0
    features_csv.parent.mkdir(parents=True, exist_ok=True)
    with features_csv.open("wb") as out:
        for batch in tabular.prefetched(tabular.iter_processed_batches(train)):
            out.write(decoder.csv(batch.features.tolist(), None, header=False))
            rows += batch.features.shape[0]
    if not rows:
        raise DataValidationError(f"{train}: the train split has no rows")
    return rows


def shap_baseline(baseline: dict[str, Any], manifest: features.FeatureManifest) -> list[str]:
    """One raw record in feature order: numeric medians, categorical modes (words), from the train split's
    baseline."""
    summaries = baseline.get("features")
    if not isinstance(summaries, dict):
        raise DataValidationError("baseline.json has no 'features' object")
    row: list[str] = []
    for feature in manifest.features:
        summary = summaries.get(feature.name)
        if not isinstance(summary, dict):
            raise DataValidationError(f"baseline.json has no statistics for feature '{feature.name}'")
        if feature.categories is None:
            median = summary.get("quantiles", {}).get("p50")
            if median is None:
                raise DataValidationError(f"baseline.json: feature '{feature.name}' has no median (no values at all)")
            row.append(str(int(median)) if float(median).is_integer() else repr(float(median)))
        else:
            counts = summary.get("counts") or []
            if len(counts) != len(feature.categories) or not any(counts):
                raise DataValidationError(
                    f"baseline.json: feature '{feature.name}' needs {len(feature.categories)} category counts, "
                    "not all 0"
                )
            row.append(feature.categories[max(range(len(counts)), key=counts.__getitem__)])
    return row


def write_shap_baseline(baseline_json: Path, manifest: features.FeatureManifest, out_csv: Path) -> list[str]:
    row = shap_baseline(read_json(baseline_json), manifest)
    out_csv.parent.mkdir(parents=True, exist_ok=True)
    out_csv.write_text(",".join(row) + "\n")
    return row


def read_manifest(folder: Path | str) -> features.FeatureManifest:
    path = Path(folder) / features.MANIFEST_FILE
    try:
        return features.FeatureManifest.from_document(read_json(path), str(path))
    except (OSError, ValueError) as err:
        raise DataValidationError(f"{path}: cannot read the feature manifest ({err})") from None


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", default=f"{PROCESSING_INPUT}/train", help="processed train split (file or folder)")
    parser.add_argument("--baseline", default=f"{PROCESSING_INPUT}/baseline", help="folder with baseline.json")
    parser.add_argument(
        "--manifest", default=f"{PROCESSING_INPUT}/manifest", help="folder with Preprocess's feature_manifest.json"
    )
    parser.add_argument("--output", default=PROCESSING_OUTPUT, help="parent of features/ and shap/")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)

    def step() -> None:
        output = Path(args.output)
        manifest = read_manifest(args.manifest)
        with atomic_output(output / "features") as folder:
            rows = write_features(args.train, manifest, folder / "features.csv")
        with atomic_output(output / "shap") as shap:
            write_shap_baseline(Path(args.baseline) / "baseline.json", manifest, shap / "shap_baseline.csv")
        print(f"model_monitor_inputs: {rows} train row(s) as raw requests; SHAP baseline of {len(manifest.features)}")

    return run_step(step, "model_monitor_inputs")


if __name__ == "__main__":
    sys.exit(main())
