"""How honest the drift check's p-values are: the fitted null tails against many direct null draws.

Not a test: it measures. For each Adult feature (its statistic: the Wasserstein test statistic for numeric
features, the Jensen-Shannon divergence for categorical ones, and PSI) and batch size, ``stats.two_sample_null``
fits its null from ``NULL_REPLICATES`` simulated pairs, as the drift check does; then ``--draws`` fresh pairs of
(baseline-sized, batch-sized) samples of the same distribution get p-values from that fit. Printed: for each
nominal level, the share of draws below it divided by the level (1.0 = exact, above 1 = too many false alarms).

    python benchmarks/drift_calibration.py [--draws 20000] [--sizes 200 1000]
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from pipeline_code import preprocess, stats  # noqa: E402  (needs the sys.path line)
from pipeline_code.artifacts import read_json  # noqa: E402

LEVELS = (1e-2, 1e-3, 1e-4)
Statistic = Callable[[np.ndarray, np.ndarray], np.ndarray]


def statistics(spec: dict) -> list[tuple[str, np.ndarray, Statistic]]:
    """(name, baseline shares, statistic) of the tests the drift check runs on this feature."""
    if spec["kind"] == "categorical":
        return [("jensen_shannon", np.asarray([spec["missing"], *spec["counts"]], float), stats.js_divergence_rows)]
    values, counts = np.asarray(spec["values"], float), np.asarray(spec["counts"], float)
    grid = stats.Grid.of(values, counts)
    expected, _ = stats.psi_bin_counts(counts, np.zeros(2 * values.size + 1), int(spec["missing"]), 0)
    return [
        ("wasserstein", grid.counts, lambda r, c: stats.w1_rows(grid.points, r, c)),
        ("psi", expected, stats.psi_rows),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work-dir", default=str(REPO / "benchmarks" / ".data"))
    parser.add_argument("--draws", type=int, default=20_000)
    parser.add_argument("--sizes", type=int, nargs="+", default=[200, 1000])
    args = parser.parse_args()
    pre = Path(args.work_dir) / "adult-pre"
    if not (pre / "baseline" / "baseline.json").exists():
        assert preprocess.main(["--input", str(REPO / "data" / "adult"), "--output", str(pre)]) == 0
    baseline = read_json(pre / "baseline" / "baseline.json")
    print("| feature | statistic | rows | " + " | ".join(f"p < {a:g}" for a in LEVELS) + " |")
    print("| --- | --- | ---: | " + " | ".join("---:" for _ in LEVELS) + " |")
    for name, spec in baseline["features"].items():
        for statistic, counts, function in statistics(spec):
            shares, n_ref = counts / counts.sum(), int(counts.sum())
            for n in args.sizes:
                fit = stats.two_sample_null(counts, n_ref, n, function, stats.null_rng(name, n))
                rng = np.random.default_rng([n, 99])
                observed = np.concatenate(
                    [
                        function(
                            rng.multinomial(n_ref, shares, size=2000).astype(float),
                            rng.multinomial(n, shares, size=2000).astype(float),
                        )
                        for _ in range(args.draws // 2000)
                    ]
                )
                p = np.array([fit.p_value(t) for t in observed])
                cells = " | ".join(f"{np.mean(p < a) / a:.2f}x" for a in LEVELS)
                print(f"| {name} | {statistic} | {n:,} | {cells} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
