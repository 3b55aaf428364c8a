"""The drift check's verdicts on the scenario set and on unshifted data, at sizes and seed counts too big for tests.

Not a test: it measures and prints a Markdown table. The Adult data is preprocessed and a model trained once into
``--work-dir`` (shared with ``bench_ml_steps.py``). Everything runs in process on resampled rows
(``drift.check_batches``), 10 M rows in batches of 1 M so memory stays bounded.

- Scenarios (``pipeline_code/shifts.py``) applied to the processed test split, then resampled to each size:
  the share of seeds where every expected item was flagged (and, for a scenario that moves only its own
  columns, nothing else).
- Unshifted resamples of the test split: how many runs raised any violation, over many seeds per size.

    python benchmarks/drift_scenarios.py                       # default sizes and seed counts (~10 min)
    python benchmarks/drift_scenarios.py --null-seeds 50 10 3 1 --scenario-seeds 3
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from pipeline_code import drift, preprocess, shifts, tabular, train  # noqa: E402  (needs the sys.path line)
from pipeline_code.artifacts import read_json  # noqa: E402

NULL_SIZES = (200, 1_000, 100_000, 10_000_000)
SCENARIO_SIZES = (1_000, 7_327, 100_000)  # 7,327: the whole processed test split
MODEL_CHECKS = {"model_quality_drift", "bias_drift", "attribution_drift", "prediction_drift"}
BATCH = 1_000_000


def prepare(work: Path) -> dict[str, Any]:
    pre, model = work / "adult-pre", work / "adult-model"
    if not (pre / "baseline" / "baseline.json").exists():
        assert preprocess.main(["--input", str(REPO / "data" / "adult"), "--output", str(pre)]) == 0
    if not (model / "xgboost-model.json").exists():
        argv = ["--train", str(pre / "train"), "--validation", str(pre / "validation"), "--model-dir", str(model)]
        assert train.main(argv) == 0
    return {
        "baseline": read_json(pre / "baseline" / "baseline.json"),
        "test": tabular.read_processed(pre / "test"),
        "reference": tabular.read_processed(pre / "validation"),
        "booster": train.load_model(model),
    }


def resampled(batch: tabular.EncodedBatch, rows: int, rng: np.random.Generator) -> Iterator[tabular.EncodedBatch]:
    """``rows`` rows drawn with replacement, in batches of at most ``BATCH``."""
    for start in range(0, rows, BATCH):
        pick = rng.integers(0, batch.features.shape[0], min(BATCH, rows - start))
        yield tabular.EncodedBatch(batch.features[pick], None if batch.label is None else batch.label[pick])


def check(inputs: dict[str, Any], batches: Iterator[tabular.EncodedBatch], model: bool) -> dict[str, Any]:
    limits = drift.Thresholds()
    if not model:
        return drift.check_batches(inputs["baseline"], batches, limits)
    return drift.check_batches(inputs["baseline"], batches, limits, inputs["booster"], [inputs["reference"]])


def found(report: dict[str, Any]) -> tuple[set[str], set[str]]:
    features = {v["feature"] for v in report["violations"] if v["check"] == "feature_drift"}
    return features, {v["check"] for v in report["violations"]} - {"feature_drift"}


def scenario_rows(inputs: dict[str, Any], seeds: int) -> list[str]:
    lines = []
    for name, scenario in shifts.SCENARIOS_BY_NAME.items():
        model = bool(scenario.checks & MODEL_CHECKS)
        cells, extra = [], set()
        for size in SCENARIO_SIZES:
            hits = 0
            for seed in range(seeds):
                rng = np.random.default_rng([seed, size, 7])
                shifted = scenario.apply(inputs["test"], rng)
                batches = iter([shifted]) if size == shifted.features.shape[0] else resampled(shifted, size, rng)
                features, checks = found(check(inputs, batches, model))
                ok = features >= scenario.features and checks >= scenario.checks
                if scenario.exclusive:
                    ok = ok and features == scenario.features
                hits += ok
                extra |= (features - scenario.features) | (checks - scenario.checks)
            cells.append(f"{hits}/{seeds}")
        expected = sorted(scenario.features | scenario.checks)
        lines.append(f"| {name} | {', '.join(expected)} | {' | '.join(cells)} | {', '.join(sorted(extra)) or '-'} |")
    return lines


def null_rows(inputs: dict[str, Any], seeds_per_size: list[int]) -> list[str]:
    lines = []
    for size, seeds in zip(NULL_SIZES, seeds_per_size, strict=True):
        started, flagged, worst = time.process_time(), 0, 0.0
        what: set[str] = set()
        for seed in range(seeds):
            report = check(inputs, resampled(inputs["test"], size, np.random.default_rng([seed, size])), False)
            if report["violations"]:
                flagged += 1
                what |= {v.get("feature") or v["check"] for v in report["violations"]}
            worst = max(worst, max(drift.severity(f) for f in report["features"].values()))
        per_run = (time.process_time() - started) / max(seeds, 1)
        lines.append(
            f"| {size:,} | {seeds} | {flagged} | {', '.join(sorted(what)) or '-'} | {worst:.2f} | {per_run:.2f} |"
        )
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work-dir", default=str(REPO / "benchmarks" / ".data"))
    parser.add_argument("--null-seeds", type=int, nargs=4, default=[500, 500, 50, 5], help="per size of NULL_SIZES")
    parser.add_argument("--scenario-seeds", type=int, default=10)
    args = parser.parse_args()
    work = Path(args.work_dir)
    work.mkdir(parents=True, exist_ok=True)
    inputs = prepare(work)
    print("Scenarios: seeds where every expected item was flagged (and nothing else, for single-column shifts)\n")
    print("| scenario | expected | " + " | ".join(f"{s:,} rows" for s in SCENARIO_SIZES) + " | also flagged |")
    print("| --- | --- | " + " | ".join("---:" for _ in SCENARIO_SIZES) + " | --- |")
    print("\n".join(scenario_rows(inputs, args.scenario_seeds)), flush=True)
    print("\nUnshifted resamples of the test split: runs with any violation\n")
    print("| rows | seeds | runs flagged | what | largest effect / threshold | CPU s per run |")
    print("| ---: | ---: | ---: | --- | ---: | ---: |")
    print("\n".join(null_rows(inputs, args.null_seeds)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
