"""Step 7, drift check: compare a batch of new or captured data with the baseline, without Model Monitor.

Input is processed data (the layout the endpoint receives; a leading label column, e.g. merged ground truth,
is optional) streamed in record batches. Every check is a *test* with two parts, and flags only when both hold:

1. the effect is large: an effect size at or over its threshold (numeric features: normalised Wasserstein
   distance, PSI over spike-aware bins with a missing-value bin, and for a zero-inflated feature the Wasserstein
   distance of its non-zero part; categorical features: Jensen-Shannon
   distance with its small-sample bias removed; the label's positive rate; with ``--model``: PSI of the score,
   the AUC drop, each facet group's change of DPPL, and the NDCG of the feature-attribution ranking);
2. the effect is not noise at this batch size: its p-value, under the statistic's own null distribution at
   this n (simulated from the baseline, ``stats.NullFit``) or a standard test (proportions, AUC), adjusted with
   Holm's method over every test of the run, is below ``false_alarm_rate``.

So 200 unshifted rows do not flag a 42-category feature whose noise alone exceeds the effect threshold, and ten
million rows do not flag a difference of no consequence that any test finds significant. With ``--model`` and
``--reference`` (processed, labelled reference data such as the model's test split), prediction, model-quality,
bias and attribution drift are checked too (attributions: XGBoost TreeSHAP on ``attribution_rows`` sampled rows
of each side, so their cost does not grow with the window).

A window with fewer than ``min_rows`` rows gets no verdict: the report says "not enough data", only the row
count is published, no event. Writes ``drift_report.json`` (every statistic), ``violations.json``,
``cloudwatch_metrics.json`` (``{"Namespace", "MetricData"}``, ready for ``cloudwatch.put_metric_data(**doc)``) and
``report.html`` (self-contained: plots, statistics and verdicts, drifted items first). Drift is a finding, not a
failure: the exit code is 0 unless ``--fail-on-violation`` is given (then 2).

Publishing, only once every output is written (a publish failure exits 1 and names the API):
``--publish-cloudwatch`` puts ``cloudwatch_metrics.json`` with ``PutMetricData`` (at most 1,000 datums a call);
``--publish-events`` (with ``--report-uri`` and ``--environment``) puts one EventBridge event when there are
violations: source ``mlops.monitoring``, detail type ``Drift Violations Report``, naming ``report.html``;
``--latest-report-uri`` copies ``report.html`` to a fixed S3 key that the alarms' e-mails and the dashboard link to.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import sys
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from pipeline_code import aws, drift_html, schema, stats, tabular
from pipeline_code.artifacts import atomic_output, read_json, write_json
from pipeline_code.cli import (
    PROCESSING_INPUT,
    PROCESSING_OUTPUT,
    add_limit_arguments,
    limits_from_args,
    run_step,
)
from pipeline_code.errors import DataValidationError, PipelineError
from pipeline_code.metrics import classification_metrics

SCORE_BINS = np.linspace(0.0, 1.0, 11)
VIOLATION_EXIT_CODE = 2
MAX_METRIC_DATUMS = 1000  # PutMetricData's limit per request
EVENT_SOURCE = "mlops.monitoring"
EVENT_DETAIL_TYPE = "Drift Violations Report"
#: every kind of check; each gets a ``Violations`` metric (dimension ``Check``) when it was evaluated
CHECKS = (
    "feature_drift",
    "label_drift",
    "prediction_drift",
    "model_quality_drift",
    "bias_drift",
    "attribution_drift",
)
NOT_ENOUGH_DATA = "not_enough_data"
CDF_POINTS = 120  # points of each numeric feature's CDF kept for the report's plot
#: categories expected fewer times than this in the batch are pooled into one for the test (the usual rule for
#: count tests): at 200 rows a 0.2 % country seen 3 times instead of 0.4 is pure chance, not a shifted population
MIN_EXPECTED_COUNT = 5
#: CSV block read at a time: 4 MiB halves peak memory at 10 M rows against the 16 MiB default (~430 MB
#: instead of ~900 MB for the reader alone) and costs no CPU (measured: less, the blocks stay in cache)
READ_BLOCK_SIZE = 4 << 20


@dataclass(frozen=True)
class Thresholds:
    """Drift limits; the CDK config passes per-environment values as arguments (README: configuration)."""

    numeric_wasserstein: float = 0.1
    numeric_psi: float = 0.2
    tail_wasserstein: float = 0.25
    categorical_js: float = 0.1
    label_rate_change: float = 0.05
    prediction_psi: float = 0.2
    auc_drop: float = 0.05
    bias_dppl_change: float = 0.1
    attribution_ndcg: float = 0.9
    false_alarm_rate: float = 0.001
    zero_inflated_share: float = 0.5
    min_facet_group: int = 100
    min_rows: int = 100
    attribution_rows: int = 500
    psi_bins: int = 10
    decision_threshold: float = 0.5

    def check(self) -> None:
        """Limits that cannot work are an argument error, not a silent never-flag."""
        problems = [
            f"--{name.replace('_', '-')} must be in (0, 1), got {getattr(self, name)}"
            for name in ("false_alarm_rate", "attribution_ndcg", "decision_threshold", "zero_inflated_share")
            if not 0 < getattr(self, name) < 1
        ]
        problems += [
            f"--{name.replace('_', '-')} must be at least {low}, got {getattr(self, name)}"
            for name, low in (("min_rows", 1), ("min_facet_group", 1), ("attribution_rows", 10), ("psi_bins", 2))
            if getattr(self, name) < low
        ]
        if problems:
            raise PipelineError("; ".join(problems))


# ------------------------------------------------------------------------------------------------ counting


@dataclass
class CurrentCounts:
    """Everything the feature and label checks need, counted batch by batch in the baseline's support."""

    baseline: dict[str, Any]
    numeric_buckets: dict[str, np.ndarray] = field(default_factory=dict)
    numeric_gap_sums: dict[str, np.ndarray] = field(default_factory=dict)
    numeric_missing: dict[str, int] = field(default_factory=dict)
    categorical: dict[str, np.ndarray] = field(default_factory=dict)
    label_counts: np.ndarray = field(default_factory=lambda: np.zeros(2, dtype=np.int64))
    rows: int = 0
    labelled: bool = True

    def __post_init__(self) -> None:
        features = self.baseline.get("features", {})
        for col in schema.FEATURES:
            spec = features.get(col.name)
            kind = "numeric" if isinstance(col, schema.NumericColumn) else "categorical"
            if spec is None or spec.get("kind") != kind:
                raise DataValidationError(
                    f"baseline: feature '{col.name}' is {'missing' if spec is None else spec.get('kind')}, "
                    f"expected a {kind} summary (a baseline of another schema version?)"
                )
        self._support = {
            name: stats.Support.of(np.asarray(spec["values"], dtype=np.float64))
            for name, spec in features.items()
            if spec["kind"] == "numeric"
        }

    def add(self, batch: tabular.EncodedBatch) -> None:
        self.rows += batch.features.shape[0]
        for j, col in enumerate(schema.FEATURES):
            values = batch.features[:, j]
            if isinstance(col, schema.NumericColumn):
                buckets, sums, missing = self._support[col.name].tally(values)
                self.numeric_buckets[col.name] = self.numeric_buckets.get(col.name, 0) + buckets
                self.numeric_gap_sums[col.name] = self.numeric_gap_sums.get(col.name, 0) + sums
                self.numeric_missing[col.name] = self.numeric_missing.get(col.name, 0) + missing
            else:
                counts = category_counts_checked(values, col, len(self.baseline["features"][col.name]["categories"]))
                self.categorical[col.name] = self.categorical.get(col.name, 0) + counts
        if batch.label is None:
            self.labelled = False
        else:
            self.label_counts += np.bincount(batch.label, minlength=2)[:2]


def category_counts_checked(values: np.ndarray, col: schema.CategoricalColumn, k: int) -> np.ndarray:
    """Counts per category code (slot 0: missing, code -1) of the baseline's ``k`` categories (a learned column's
    are the training split's, "other" the last); a code outside names the column."""
    lo, hi = float(np.min(values)), float(np.max(values))
    if not (lo >= -1 and hi < k) or np.isnan(lo) or np.isnan(hi):
        bad = values[~((values >= -1) & (values < k))][:5]
        raise DataValidationError(
            f"column '{col.name}': category codes must be whole numbers from -1 (missing) to {k - 1}, "
            f"found {[float(v) for v in bad]}"
        )
    return stats.category_counts(values, k)


# ------------------------------------------------------------------------------------------------- tests


def make_test(
    statistic: str, value: float, threshold: float, p_value: float, *, below: bool = False, **extra: Any
) -> dict[str, Any]:
    """One test: the effect ``value`` against ``threshold`` (``below``: smaller is worse) and its p-value.

    ``drift`` is decided later by ``decide``, once the p-values of every test of the run are known.
    """
    finite = value is not None and math.isfinite(value)
    over = bool(finite and (value <= threshold if below else value >= threshold))
    return {
        "statistic": statistic,
        "value": value,
        "threshold": threshold,
        "direction": "below" if below else "above",
        "over_threshold": over,
        "p_value": p_value,
        **extra,
    }


def severity(test: dict[str, Any]) -> float:
    """How far past its threshold a test's effect is (1 = at the threshold), to rank items in the report."""
    value, threshold = test["value"], test["threshold"]
    if value is None or not math.isfinite(value):
        return 0.0
    if test["direction"] == "below":
        return float((1 - value) / max(1 - threshold, 1e-12))
    return float(abs(value) / threshold) if threshold else 0.0


def decide(tests: list[dict[str, Any]], false_alarm_rate: float) -> None:
    """Holm-adjust every p-value of the run, then: drift = effect over threshold and adjusted p below the rate."""
    for test, adjusted in zip(tests, stats.holm([t["p_value"] for t in tests]), strict=True):
        test["adjusted_p_value"] = adjusted
        test["significant"] = adjusted < false_alarm_rate
        test["drift"] = bool(test["over_threshold"] and test["significant"])


# -------------------------------------------------------------------------------------- feature checks


def _numeric(name: str, spec: dict[str, Any], counts: CurrentCounts, limits: Thresholds) -> dict[str, Any]:
    values = np.asarray(spec["values"], dtype=np.float64)
    ref = np.asarray(spec["counts"], dtype=np.float64)
    buckets = counts.numeric_buckets[name].astype(np.float64)
    sums = counts.numeric_gap_sums[name]
    cur_missing = counts.numeric_missing[name]
    n_ref, n_cur = int(ref.sum()), int(buckets.sum())
    rng = stats.null_rng(name, counts.rows)
    tests: dict[str, dict[str, Any]] = {}
    tail_note = None
    if values.size:
        std = stats.weighted_std(values, ref)
        distance = stats.wasserstein(values, ref, buckets, sums)
        normalised = distance / std if std > 0 else (0.0 if distance == 0 else math.inf)
        grid = stats.Grid.of(values, ref)
        observed = float(stats.w1_rows(grid.points, grid.counts[None, :], grid.current(buckets)[None, :])[0])
        null = stats.two_sample_null(grid.counts, n_ref, n_cur, lambda r, c: stats.w1_rows(grid.points, r, c), rng)
        tests["wasserstein"] = make_test(
            "wasserstein",
            normalised,
            limits.numeric_wasserstein,
            null.p_value(observed) if n_cur else float("nan"),
            raw_distance=distance,
            baseline_std=std,
        )
        spike = int(np.argmax(ref))
        if ref[spike] >= limits.zero_inflated_share * n_ref and ref[spike] < n_ref:
            tail_rows = (int(n_ref - ref[spike]), int(n_cur - buckets[2 * spike + 1]))
            if min(tail_rows) >= limits.min_rows:
                tests["tail_wasserstein"] = _tail_test(name, values, ref, buckets, sums, spike, limits, rng)
            else:  # a sub-population under the minimum gets no verdict, as a whole window would not
                tail_note = f"tail not tested: {tail_rows[1]} current and {tail_rows[0]} baseline rows other than "
                tail_note += f"{values[spike]:g}, at least {limits.min_rows} needed"
    expected, actual = stats.psi_bin_counts(ref, buckets, int(spec["missing"]), cur_missing, limits.psi_bins)
    psi_null = stats.two_sample_null(expected, int(expected.sum()), int(actual.sum()), stats.psi_rows, rng)
    psi_value = stats.psi(expected, actual)
    tests["psi"] = make_test("psi", psi_value, limits.numeric_psi, psi_null.p_value(psi_value), bins=len(expected))
    ks, ks_p = stats.ks_test(ref, buckets) if values.size else (float("nan"), float("nan"))
    return {
        "kind": "numeric",
        "tests": tests,
        "ks_statistic": ks,
        "ks_p_value": ks_p,  # information only: it tests the same thing at every size, see the module docstring
        "ks_exact": spec["exact"],  # False when the baseline's support was quantile-compressed
        "baseline_missing": spec["missing"],
        "current_missing": cur_missing,
        "note": tail_note,
        "plot": _numeric_plot(
            values, ref, buckets, sums, expected, actual, limits.psi_bins, limits.zero_inflated_share
        ),
    }


def _tail_test(
    name: str,
    values: np.ndarray,
    ref: np.ndarray,
    buckets: np.ndarray,
    sums: np.ndarray,
    spike: int,
    limits: Thresholds,
    rng: np.random.Generator,
) -> dict[str, Any]:
    """Wasserstein distance of a zero-inflated feature's other values (its "tail"), in their own std units.

    Most of ``capital_gain`` is 0: over all rows, doubling every non-zero gain moves the distance by less than
    the 0.1 threshold (the 8 % of non-zero rows dilute it, and the std is inflated by the 99,999 cap), although
    for the people who have gains the distribution changed completely. The spike's own share is PSI's business.
    Its threshold is its own (``tail_wasserstein``), higher than the whole feature's: a tail is a few percent of
    the rows, so two samples of one population differ more there (Adult's train and test splits, with 1,600 and
    340 non-zero capital losses, differ by 0.14 in these units; doubling the capital gains moves them by 0.35).
    """
    ref_tail, cur_tail = ref.copy(), buckets.copy()
    ref_tail[spike], cur_tail[2 * spike + 1] = 0, 0
    n_ref, n_cur = int(ref_tail.sum()), int(cur_tail.sum())
    std = stats.weighted_std(values, ref_tail)
    distance = stats.wasserstein(values, ref_tail, cur_tail, sums) if n_cur else float("nan")
    normalised = distance / std if std > 0 else (0.0 if distance == 0 else math.inf)
    grid = stats.Grid.of(values, ref_tail)
    observed = float(stats.w1_rows(grid.points, grid.counts[None, :], grid.current(cur_tail)[None, :])[0])
    null = stats.two_sample_null(grid.counts, n_ref, n_cur, lambda r, c: stats.w1_rows(grid.points, r, c), rng)
    return make_test(
        "tail_wasserstein",
        normalised,
        limits.tail_wasserstein,
        null.p_value(observed) if n_cur else float("nan"),
        excluded_value=float(values[spike]),
        baseline_tail_rows=n_ref,
        current_tail_rows=n_cur,
    )


def _numeric_plot(
    values: np.ndarray,
    ref: np.ndarray,
    buckets: np.ndarray,
    sums: np.ndarray,
    expected: np.ndarray,
    actual: np.ndarray,
    n_bins: int,
    zero_inflated_share: float,
) -> dict[str, Any]:
    """What the report draws: shares per PSI bin (labelled by value range) and both CDFs on a small grid (of a
    zero-inflated feature: of its values other than the spike, which the bars show)."""
    if not values.size:
        return {"labels": ["missing"], "baseline": [1.0], "current": [1.0]}
    bins = stats.spike_aware_bins(ref, n_bins)
    labels = []
    for b in range(int(bins[-1]) + 1):
        inside = values[bins == b]
        lo, hi = inside[0], inside[-1]
        labels.append(f"{lo:g}" if lo == hi else f"{lo:g}-{hi:g}")
    labels.append("missing")
    positions = stats.bucket_positions(values, buckets, sums)
    ref_full = np.zeros(buckets.size)
    ref_full[1::2] = ref
    buckets = buckets.copy()
    spike = int(np.argmax(ref))
    excluded = None
    if zero_inflated_share * ref.sum() <= ref[spike] < ref.sum():
        ref_full[2 * spike + 1], buckets[2 * spike + 1] = 0, 0
        excluded = float(values[spike])
    f_ref = np.cumsum(ref_full) / max(ref_full.sum(), 1)
    f_cur = np.cumsum(buckets) / max(buckets.sum(), 1)
    keep = np.unique(np.linspace(0, positions.size - 1, min(CDF_POINTS, positions.size)).astype(np.int64))
    return {
        "labels": labels,
        "baseline": (expected / max(expected.sum(), 1)).tolist(),
        "current": (actual / max(actual.sum(), 1)).tolist(),
        "cdf": {
            "x": positions[keep].tolist(),
            "baseline": f_ref[keep].tolist(),
            "current": f_cur[keep].tolist(),
            "excluded": excluded,
        },
    }


def pool_rare(ref: np.ndarray, cur: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """Categories expected fewer than ``MIN_EXPECTED_COUNT`` times at the current size pooled into one (a category
    the baseline never saw is among them); returns both count vectors and how many categories were pooled."""
    rare = ref / max(ref.sum(), 1) * cur.sum() < MIN_EXPECTED_COUNT
    if rare.sum() < 2:
        return ref, cur, 0
    return (
        np.append(ref[~rare], ref[rare].sum()),
        np.append(cur[~rare], cur[rare].sum()),
        int(rare.sum()),
    )


def _categorical(name: str, spec: dict[str, Any], counts: CurrentCounts, limits: Thresholds) -> dict[str, Any]:
    full_ref = np.asarray([spec["missing"], *spec["counts"]], dtype=np.float64)
    full_cur = counts.categorical[name].astype(np.float64)
    ref, cur, pooled = pool_rare(full_ref, full_cur)
    rng = stats.null_rng(name, counts.rows)
    divergence = float(stats.js_divergence_rows(ref[None, :], cur[None, :])[0])
    null = stats.two_sample_null(ref, int(ref.sum()), int(cur.sum()), stats.js_divergence_rows, rng)
    js = make_test(
        "jensen_shannon",
        math.sqrt(max(divergence - null.mean, 0.0)),  # small-sample aware: the noise floor at this n removed
        limits.categorical_js,
        null.p_value(divergence),
        raw_distance=math.sqrt(divergence),
        noise_floor=math.sqrt(null.mean),
        pooled_categories=pooled,
    )
    return {
        "kind": "categorical",
        "tests": {"jensen_shannon": js},
        "psi": stats.psi(full_ref, full_cur),
        "chi2_p_value": stats.chi_square_p_value(full_ref, full_cur),  # information only
        "plot": {
            "labels": ["missing", *spec["categories"]],
            "baseline": (full_ref / max(full_ref.sum(), 1)).tolist(),
            "current": (full_cur / max(full_cur.sum(), 1)).tolist(),
        },
    }


def feature_drift(counts: CurrentCounts, limits: Thresholds) -> dict[str, dict[str, Any]]:
    """Per-feature tests (not yet decided: see ``decide``)."""
    return {
        name: (_numeric if spec["kind"] == "numeric" else _categorical)(name, spec, counts, limits)
        for name, spec in counts.baseline["features"].items()
    }


def label_drift(counts: CurrentCounts, limits: Thresholds) -> dict[str, Any] | None:
    """Change of the positive rate against the baseline's, if the current data has labels."""
    if not counts.labelled:
        return None
    base = np.asarray(counts.baseline["label"]["counts"], dtype=np.float64)
    cur = counts.label_counts.astype(np.float64)
    base_rate, cur_rate = base[1] / base.sum(), cur[1] / cur.sum()
    change = float(cur_rate - base_rate)
    p_value = stats.proportion_change_p(base[1], base.sum(), cur[1], cur.sum())
    return {
        "baseline_rate": float(base_rate),
        "current_rate": float(cur_rate),
        "change": change,
        "test": make_test("positive_rate_change", abs(change), limits.label_rate_change, p_value),
    }


# ---------------------------------------------------------------------------------------- model checks


class RowSample:
    """A uniform sample of at most ``size`` rows of a stream (smallest keys), for attributions.

    A row's key is a seeded 64-bit hash of its values, not a draw of a random stream: the sample of a data set is
    then the same however it is batched or sharded, and the samples of shards merge into the sample of the whole
    (`merge`: the smallest keys of their union). Equal rows share a key.
    """

    def __init__(self, size: int, seed: int) -> None:
        self.size = size
        self.seed = seed
        self._keys = np.empty(0, dtype=np.float64)
        self._rows = np.empty((0, len(schema.FEATURES)))

    def keys_of(self, features: np.ndarray) -> np.ndarray:
        """Each row's key: its values' bits combined column by column (multiply-xor, FNV's prime), then mixed with
        the seed by splitmix64 (`record_split.uniform`): a few numpy passes, ~0.05 s of CPU per million rows."""
        from pipeline_code.record_split import uniform

        combined = np.full(features.shape[0], np.uint64(0x345678), dtype=np.uint64)
        with np.errstate(over="ignore"):
            for j in range(features.shape[1]):
                column = np.ascontiguousarray(features[:, j], dtype=np.float64)
                bits = np.where(np.isnan(column), np.uint64(0x7FF8000000000000), column.view(np.uint64))  # NaNs alike
                combined = (combined ^ bits) * np.uint64(0x100000001B3)
        return np.asarray(uniform(combined, self.seed), dtype=np.float64)

    def merge(self, keys: np.ndarray, rows: np.ndarray) -> None:
        """Add another sample's rows (their keys given)."""
        self._take(np.concatenate([self._keys, keys]), np.concatenate([self._rows, rows]))

    def _take(self, keys: np.ndarray, rows: np.ndarray) -> None:
        if keys.size > self.size:
            keep = np.argpartition(keys, self.size - 1)[: self.size]
            keys, rows = keys[keep], rows[keep]
        order = np.lexsort((*rows.T[::-1], keys)) if rows.size else np.argsort(keys)  # one order however reached
        self._keys, self._rows = keys[order], rows[order]

    @property
    def keys(self) -> np.ndarray:
        return self._keys

    def add(self, features: np.ndarray) -> None:
        if not self.size:
            return
        new_keys = self.keys_of(features)
        if self._keys.size >= self.size:
            take = new_keys < self._keys.max()
            new_keys, features = new_keys[take], features[take]
        self._take(np.concatenate([self._keys, new_keys]), np.concatenate([self._rows, features]))

    @property
    def rows(self) -> np.ndarray:
        return self._rows


@dataclass
class Scored:
    """Predictions of one data set with what model-level checks need (kept whole: 6 bytes per row)."""

    score: np.ndarray
    label: np.ndarray | None
    facets: np.ndarray  # facet codes, one column per schema.FACETS entry
    sample: np.ndarray = field(default_factory=lambda: np.empty((0, len(schema.FEATURES))))
    sample_keys: np.ndarray = field(default_factory=lambda: np.empty(0))  # `RowSample` keys: shards' samples merge


def score_batches(
    batches: Iterable[tabular.EncodedBatch], booster: Any, counts: CurrentCounts | None, sample_rows: int = 0
) -> Scored:
    """Predict batch by batch (feeding ``counts`` on the way, so the current data is read once)."""
    from pipeline_code.train import predict_proba  # xgboost is imported only when a model is checked

    facet_cols = [schema.FEATURE_NAMES.index(f) for f in schema.FACETS]
    scores: list[np.ndarray] = []
    labels: list[np.ndarray | None] = []
    facets: list[np.ndarray] = []
    sample = RowSample(sample_rows, seed=len(schema.FEATURES))
    for batch in batches:
        if counts is not None:
            counts.add(batch)
        scores.append(predict_proba(booster, batch.features).astype(np.float32))
        labels.append(batch.label)
        facets.append(batch.features[:, facet_cols].astype(np.int8))
        if sample_rows:
            sample.add(batch.features)
    if not scores:
        return Scored(
            np.empty(0, np.float32), None, np.empty((0, len(schema.FACETS)), np.int8), sample.rows, sample.keys
        )
    return Scored(
        np.concatenate(scores), tabular.concat_labels(labels), np.concatenate(facets), sample.rows, sample.keys
    )


def _prediction(current: Scored, reference: Scored, limits: Thresholds) -> dict[str, Any]:
    ref_hist = np.histogram(reference.score, SCORE_BINS)[0].astype(np.float64)
    cur_hist = np.histogram(current.score, SCORE_BINS)[0].astype(np.float64)
    value = stats.psi(ref_hist, cur_hist)
    null = stats.two_sample_null(
        ref_hist, int(ref_hist.sum()), int(cur_hist.sum()), stats.psi_rows, stats.null_rng("score", int(cur_hist.sum()))
    )
    return {
        "psi": value,
        "test": make_test("psi", value, limits.prediction_psi, null.p_value(value)),
        "plot": {
            "labels": [f"{a:.1f}-{b:.1f}" for a, b in itertools.pairwise(SCORE_BINS)],
            "baseline": (ref_hist / max(ref_hist.sum(), 1)).tolist(),
            "current": (cur_hist / max(cur_hist.sum(), 1)).tolist(),
        },
    }


def _quality(current: Scored, reference: Scored, limits: Thresholds) -> dict[str, Any] | None:
    if current.label is None or reference.label is None:
        return None
    ref_q = classification_metrics(reference.label, reference.score, limits.decision_threshold)
    cur_q = classification_metrics(current.label, current.score, limits.decision_threshold)
    drop = ref_q["auc"] - cur_q["auc"]
    se = math.hypot(
        stats.auc_standard_error(ref_q["auc"], int(reference.label.sum()), int((reference.label == 0).sum())),
        stats.auc_standard_error(cur_q["auc"], int(current.label.sum()), int((current.label == 0).sum())),
    )
    p_value = stats.one_sided_normal_p(drop / se) if se > 0 else float("nan")
    return {
        "reference": ref_q,
        "current": cur_q,
        "auc_drop": drop,
        "test": make_test("auc_drop", drop, limits.auc_drop, p_value, standard_error=se),
    }


def _positive_shares(scored: Scored, limits: Thresholds) -> dict[str, tuple[float, int, float, int]]:
    """Per facet group: predicted-positive share and size of the group (d) and of everyone else (a)."""
    predicted = scored.score >= limits.decision_threshold
    groups = {}
    for k, facet in enumerate(schema.FACETS):
        col = schema.column(facet)
        assert isinstance(col, schema.CategoricalColumn)
        for code, value in enumerate(col.categories):
            d = scored.facets[:, k] == code
            n_d, n_a = int(d.sum()), int((~d).sum())
            if n_d >= limits.min_facet_group and n_a >= limits.min_facet_group:
                groups[f"{facet}={value}"] = (float(predicted[~d].mean()), n_a, float(predicted[d].mean()), n_d)
    return groups


def _bias(current: Scored, reference: Scored, limits: Thresholds) -> dict[str, Any]:
    """Change of each facet group's DPPL (difference in positive proportions in predicted labels, q_a - q_d)."""
    ref, cur = _positive_shares(reference, limits), _positive_shares(current, limits)
    result = {}
    for group in sorted(set(ref) & set(cur)):
        (ra, rna, rd, rnd), (ca, cna, cd, cnd) = ref[group], cur[group]
        change = (ca - cd) - (ra - rd)
        var = ra * (1 - ra) / rna + rd * (1 - rd) / rnd + ca * (1 - ca) / cna + cd * (1 - cd) / cnd
        p_value = stats.two_sided_normal_p(change / math.sqrt(var)) if var > 0 else (1.0 if change == 0 else 0.0)
        result[group] = {
            "reference_dppl": ra - rd,
            "current_dppl": ca - cd,
            "change": change,
            "current_group_rows": cnd,
            "test": make_test("dppl_change", abs(change), limits.bias_dppl_change, p_value),
        }
    return result


def mean_abs_shap(booster: Any, rows: np.ndarray) -> np.ndarray:
    """Per-feature contributions (log-odds) of every row, TreeSHAP (``pred_contribs``), bias column dropped."""
    import xgboost as xgb

    contributions = np.asarray(
        booster.predict(xgb.DMatrix(rows, feature_names=list(schema.FEATURE_NAMES)), pred_contribs=True)
    )[:, :-1]
    result: np.ndarray = np.abs(contributions)
    return result


def _attribution(booster: Any, current: Scored, reference: Scored, limits: Thresholds) -> dict[str, Any] | None:
    """NDCG of the current ranking of features by mean |SHAP| against the reference's (Clarify's measure)."""
    if current.sample.shape[0] < min(limits.min_rows, limits.attribution_rows) or not reference.sample.shape[0]:
        return None
    ref_abs, cur_abs = mean_abs_shap(booster, reference.sample), mean_abs_shap(booster, current.sample)
    ref_mean, cur_mean = ref_abs.mean(axis=0), cur_abs.mean(axis=0)
    value = stats.ndcg(ref_mean, cur_mean)
    # null: two samples of these sizes from the reference rows, ranked one against the other
    rng = stats.null_rng("attribution", current.sample.shape[0])
    k = ref_abs.shape[0]
    weights_ref = rng.multinomial(k, np.full(k, 1 / k), size=stats.NULL_REPLICATES) / k
    weights_cur = rng.multinomial(current.sample.shape[0], np.full(k, 1 / k), size=stats.NULL_REPLICATES)
    null_ref, null_cur = weights_ref @ ref_abs, weights_cur @ ref_abs
    null = np.array([1 - stats.ndcg(r, c) for r, c in zip(null_ref, null_cur, strict=True)])
    p_value = stats.NullFit.of(null).gamma_p_value(1 - value)
    order = np.argsort(-ref_mean)
    return {
        "method": "TreeSHAP (xgboost pred_contribs) mean |SHAP|, NDCG of the ranking as SageMaker Clarify",
        "reference_rows": int(k),
        "current_rows": int(current.sample.shape[0]),
        "ndcg": value,
        "features": [
            {"name": schema.FEATURE_NAMES[i], "baseline": float(ref_mean[i]), "current": float(cur_mean[i])}
            for i in order
        ],
        "test": make_test("ndcg", value, limits.attribution_ndcg, p_value, below=True),
    }


def model_drift(booster: Any, current: Scored, reference: Scored, limits: Thresholds) -> dict[str, Any]:
    """Prediction, model-quality, bias and attribution drift of the current data against the reference data."""
    result: dict[str, Any] = {
        "prediction": _prediction(current, reference, limits),
        "bias": _bias(current, reference, limits),
    }
    if (quality := _quality(current, reference, limits)) is not None:
        result["quality"] = quality
    if booster is not None and (attribution := _attribution(booster, current, reference, limits)) is not None:
        result["attribution"] = attribution
    return result


# ------------------------------------------------------------------------------------------- the report


def all_tests(report: dict[str, Any]) -> list[tuple[str, str | None, dict[str, Any]]]:
    """Every test of a report as (check, item, test), in report order."""
    found: list[tuple[str, str | None, dict[str, Any]]] = []
    for name, feature in report["features"].items():
        found += [("feature_drift", name, t) for t in feature["tests"].values()]
    if report.get("label"):
        found.append(("label_drift", schema.LABEL, report["label"]["test"]))
    model = report.get("model") or {}
    if "prediction" in model:
        found.append(("prediction_drift", None, model["prediction"]["test"]))
    if "quality" in model:
        found.append(("model_quality_drift", "auc", model["quality"]["test"]))
    found += [("bias_drift", group, b["test"]) for group, b in model.get("bias", {}).items()]
    if "attribution" in model:
        found.append(("attribution_drift", None, model["attribution"]["test"]))
    return found


def _headline(feature: dict[str, Any]) -> None:
    """A feature's verdict and the test that speaks for it: a drifted one, else the one nearest its threshold."""
    tests = list(feature["tests"].values())
    drifted = [t for t in tests if t["drift"]]
    top = max(drifted or tests, key=severity)
    feature.update(
        drift=bool(drifted),
        method=top["statistic"],
        value=top["value"],
        threshold=top["threshold"],
        direction=top["direction"],
    )


def violations_of(report: dict[str, Any]) -> list[dict[str, Any]]:
    """One entry per drifted item (a feature with every statistic that drifted), a flat list an alarm or a
    retraining trigger can read."""
    found = []
    for name, feature in report["features"].items():
        if feature["drift"]:
            found.append(
                {
                    "check": "feature_drift",
                    "feature": name,
                    "method": feature["method"],
                    "value": feature["value"],
                    "threshold": feature["threshold"],
                    "direction": feature["direction"],
                    "statistics": [s for s, t in feature["tests"].items() if t["drift"]],
                }
            )
    for check, item, test in all_tests(report):
        if check == "feature_drift" or not test["drift"]:
            continue
        entry: dict[str, Any] = {"check": check}
        if check == "label_drift":
            entry["feature"] = item
        elif check == "bias_drift":
            entry["group"] = item
        elif check == "model_quality_drift":
            entry["metric"] = item
        entry |= {
            "method": test["statistic"],
            "value": test["value"],
            "threshold": test["threshold"],
            "direction": test["direction"],  # "below": smaller is worse (attribution NDCG)
            "adjusted_p_value": test["adjusted_p_value"],
        }
        found.append(entry)
    return found


def checks_evaluated(report: dict[str, Any]) -> list[str]:
    """The kinds of check this run could evaluate (a check without its inputs is not reported as 0)."""
    return sorted({check for check, _, _ in all_tests(report)}, key=CHECKS.index)


def cloudwatch_metrics(report: dict[str, Any], namespace: str, dimensions: dict[str, str]) -> dict[str, Any]:
    """The report's headline figures as ``put_metric_data`` arguments (only the row count without a verdict)."""
    base = [{"Name": k, "Value": v} for k, v in sorted(dimensions.items())]

    def datum(name: str, value: float, unit: str = "None", **extra: str) -> dict[str, Any]:
        dims = base + [{"Name": k, "Value": v} for k, v in extra.items()]
        return {"MetricName": name, "Dimensions": dims, "Value": float(value), "Unit": unit}

    data = [datum("MonitoredRows", report["row_count"], "Count")]
    if report["status"] == NOT_ENOUGH_DATA:
        return {"Namespace": namespace, "MetricData": data}
    data += [datum("FeatureDrift", f["value"], Feature=name) for name, f in report["features"].items()]
    data.append(datum("DriftViolations", len(report["violations"])))
    data += [
        datum("Violations", sum(v["check"] == check for v in report["violations"]), Check=check)
        for check in checks_evaluated(report)
    ]
    if report.get("label"):
        data.append(datum("LabelPositiveRate", report["label"]["current_rate"]))
    model = report.get("model") or {}
    if "prediction" in model:
        data.append(datum("PredictionDriftPSI", model["prediction"]["psi"]))
    if "quality" in model:
        data.append(datum("ModelAUC", model["quality"]["current"]["auc"]))
        data.append(datum("ModelAUCDrop", model["quality"]["auc_drop"]))
    data += [datum("BiasDPPLChange", b["change"], Group=g) for g, b in model.get("bias", {}).items()]
    if "attribution" in model:
        data.append(datum("AttributionNDCG", model["attribution"]["ndcg"]))
    return {"Namespace": namespace, "MetricData": data}


def _booster(model: Path | str | None) -> Any:
    """The model's booster, or None without a model (the model checks are then skipped)."""
    if model is None:
        return None
    from pipeline_code.train import load_model  # xgboost only when a model is checked

    return load_model(model)


def drift_check(
    baseline: dict[str, Any],
    data: Path | str,
    limits: Thresholds,
    model: Path | str | None = None,
    reference: Path | str | None = None,
) -> dict[str, Any]:
    """Run every applicable check on the current data; returns the full report including ``violations``."""
    if (model is None) != (reference is None):
        raise PipelineError("--model and --reference go together: model checks compare current with reference")
    booster = _booster(model)
    return check_batches(
        baseline,
        tabular.prefetched(tabular.iter_processed_batches(data, READ_BLOCK_SIZE)),
        limits,
        booster,
        None if reference is None else tabular.iter_processed_batches(reference, READ_BLOCK_SIZE),
    )


def check_batches(
    baseline: dict[str, Any],
    batches: Iterable[tabular.EncodedBatch],
    limits: Thresholds,
    booster: Any = None,
    reference: Iterable[tabular.EncodedBatch] | None = None,
) -> dict[str, Any]:
    """``drift_check`` on batches already read (the scenario tests and benchmarks feed resampled data)."""
    limits.check()
    counts, current = count_current(baseline, batches, limits, booster if reference is not None else None)
    return finish_check(baseline, counts, current, limits, booster, reference)


def count_current(
    baseline: dict[str, Any], batches: Iterable[tabular.EncodedBatch], limits: Thresholds, booster: Any = None
) -> tuple[CurrentCounts, Scored | None]:
    """Read the current data once: its tallies and, with a model, its scores (what one shard of a sharded check
    computes: `drift_shards` saves and merges them)."""
    counts = CurrentCounts(baseline)
    if booster is not None:
        return counts, score_batches(batches, booster, counts, limits.attribution_rows)
    for batch in batches:
        counts.add(batch)
    return counts, None


def finish_check(
    baseline: dict[str, Any],
    counts: CurrentCounts,
    current: Scored | None,
    limits: Thresholds,
    booster: Any = None,
    reference: Iterable[tabular.EncodedBatch] | None = None,
) -> dict[str, Any]:
    """Every test on the current data's tallies and scores (of one reader, or merged from every shard's)."""
    report: dict[str, Any] = {
        "status": "ok",
        "row_count": counts.rows,
        "baseline_row_count": baseline["row_count"],
        "thresholds": asdict(limits),
    }
    if counts.rows < limits.min_rows:
        report |= {"status": NOT_ENOUGH_DATA, "min_rows": limits.min_rows, "features": {}, "violations": []}
        return report
    model_report = None
    if current is not None and reference is not None:
        ref_scored = score_batches(reference, booster, None, limits.attribution_rows)
        model_report = model_drift(booster, current, ref_scored, limits)
    report |= {
        "features": feature_drift(counts, limits),
        "label": label_drift(counts, limits),
        "model": model_report,
    }
    tests = all_tests(report)
    decide([t for _, _, t in tests], limits.false_alarm_rate)
    report["test_count"] = len(tests)
    for feature in report["features"].values():
        _headline(feature)
    report["violations"] = violations_of(report)
    return report


def publish_metrics(cloudwatch: Any, document: dict[str, Any]) -> int:
    """Put the ``cloudwatch_metrics.json`` document, ``MAX_METRIC_DATUMS`` at a time; returns the calls made.

    A datum without a finite value (null in the file, e.g. the AUC of a window with one class) is left out:
    CloudWatch rejects the whole request for one NaN.
    """
    data = [d for d in document["MetricData"] if isinstance(d.get("Value"), int | float) and math.isfinite(d["Value"])]
    for start in range(0, len(data), MAX_METRIC_DATUMS):
        aws.call(
            cloudwatch,
            "PutMetricData",
            Namespace=document["Namespace"],
            MetricData=data[start : start + MAX_METRIC_DATUMS],
        )
    return -(-len(data) // MAX_METRIC_DATUMS)


def violations_event(environment: str, report_uri: str, violations: list[dict[str, Any]]) -> dict[str, Any]:
    """The EventBridge entry announcing a drift report with violations; ``reportHtmlUri`` is what people read."""
    html = f"{report_uri.rstrip('/')}/report.html"
    detail = {"environment": environment, "reportUri": report_uri, "reportHtmlUri": html, "violations": violations}
    return {"Source": EVENT_SOURCE, "DetailType": EVENT_DETAIL_TYPE, "Detail": json.dumps(detail)}


def publish_event(events: Any, entry: dict[str, Any]) -> None:
    """PutEvents of one entry; an entry EventBridge rejects is an error, like a failed call."""
    response = aws.call(events, "PutEvents", Entries=[entry])
    if response.get("FailedEntryCount"):
        failed = response["Entries"][0]
        raise PipelineError(f"PutEvents rejected the event: {failed.get('ErrorCode')} {failed.get('ErrorMessage')}")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", default=f"{PROCESSING_INPUT}/baseline/baseline.json")
    parser.add_argument("--data", default=f"{PROCESSING_INPUT}/data", help="processed CSV file or folder")
    parser.add_argument("--model", default=None, help="model folder: enables prediction, quality and bias drift")
    parser.add_argument("--reference", default=None, help="processed, labelled reference data for --model")
    parser.add_argument("--output", default=f"{PROCESSING_OUTPUT}/drift")
    parser.add_argument("--namespace", default="MLOps/Drift", help="CloudWatch namespace of the metric lines")
    parser.add_argument(
        "--dimension",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="extra CloudWatch dimension, e.g. ModelName=adult (repeatable)",
    )
    parser.add_argument("--fail-on-violation", action="store_true", help=f"exit {VIOLATION_EXIT_CODE} on drift")
    parser.add_argument("--publish-cloudwatch", action="store_true", help="put the metrics (PutMetricData)")
    parser.add_argument("--publish-events", action="store_true", help="put an EventBridge event on violations")
    parser.add_argument("--report-uri", default=None, help="S3 URI of the report, named in the event")
    parser.add_argument("--environment", default=None, help="environment name, in the event")
    parser.add_argument(
        "--latest-report-uri", default=None, help="S3 URI (…/report.html) the report is also copied to once written"
    )
    parser.add_argument("--title", default=None, help="what the report's heading names (environment, model)")
    parser.add_argument(
        "--shard-output",
        action="store_true",
        help="one instance of a sharded check: save this share's tallies and scores under <output>/<host>/ "
        "(no verdict; `--parts` merges them)",
    )
    parser.add_argument(
        "--parts", default=None, help="<host>/ folders of the shards' parts: check their merge instead of --data"
    )
    parser.add_argument("--region", default=None)
    parser.add_argument("--endpoint-url", default=None)
    add_limit_arguments(parser, Thresholds())
    return parser.parse_args(argv)


def publish(args: argparse.Namespace, metrics: dict[str, Any], violations: list[dict[str, Any]]) -> None:
    """What the options ask to publish, after the outputs were written."""
    if args.publish_cloudwatch:
        calls = publish_metrics(aws.make_client("cloudwatch", args.endpoint_url, args.region), metrics)
        print(f"drift: {len(metrics['MetricData'])} metric(s) put to {metrics['Namespace']} in {calls} call(s)")
    if args.publish_events and violations:
        events = aws.make_client("events", args.endpoint_url, args.region)
        publish_event(events, violations_event(args.environment, args.report_uri, violations))
        print(f"drift: violations event put ({EVENT_SOURCE}, {EVENT_DETAIL_TYPE})")
    if args.latest_report_uri:
        bucket, key = aws.split_s3_uri(args.latest_report_uri)
        s3 = aws.make_client("s3", args.endpoint_url, args.region)
        body = (Path(args.output) / "report.html").read_bytes()
        aws.call(s3, "PutObject", Bucket=bucket, Key=key, Body=body, ContentType="text/html; charset=utf-8")
        print(f"drift: report copied to {args.latest_report_uri}")


def shard(args: argparse.Namespace, limits: Thresholds) -> None:
    """``--shard-output``: this host's share of the current data, counted and scored, under <output>/<host>/."""
    from pipeline_code import drift_shards, shards

    host = shards.current_host()
    limits.check()
    booster = _booster(args.model)
    batches = tabular.iter_processed_batches(args.data, READ_BLOCK_SIZE) if shards.has_data(args.data) else iter(())
    counts, current = count_current(read_json(args.baseline), tabular.prefetched(batches), limits, booster)
    with atomic_output(Path(args.output) / host) as out:
        drift_shards.save_part(out, counts, current)
    print(f"drift: {counts.rows} rows counted on {host}")


def merged_check(args: argparse.Namespace, limits: Thresholds) -> dict[str, Any]:
    """``--parts``: the check of every shard's tallies and scores, merged (`drift_shards`)."""
    from pipeline_code import drift_shards

    if (args.model is None) != (args.reference is None):
        raise PipelineError("--model and --reference go together: model checks compare current with reference")
    limits.check()
    baseline = read_json(args.baseline)
    counts, current = drift_shards.load_parts(args.parts, baseline, limits)
    booster = _booster(args.model)
    reference = None if args.reference is None else tabular.iter_processed_batches(args.reference, READ_BLOCK_SIZE)
    return finish_check(baseline, counts, current, limits, booster, reference)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    limits = limits_from_args(Thresholds, args)
    found: list[dict[str, Any]] = []

    def step() -> None:
        if args.publish_events and not (args.report_uri and args.environment):
            raise PipelineError("--publish-events needs --report-uri and --environment")
        dimensions = dict(d.split("=", 1) for d in args.dimension)
        if args.shard_output:  # one share of a sharded check: its tallies and scores, merged by `--parts`
            shard(args, limits)
            return
        if args.parts:
            report = merged_check(args, limits)
        else:
            report = drift_check(read_json(args.baseline), args.data, limits, args.model, args.reference)
        found.extend(report["violations"])
        metrics = cloudwatch_metrics(report, args.namespace, dimensions)
        with atomic_output(args.output) as out:
            write_json(out / "drift_report.json", report)
            write_json(out / "violations.json", {"violations": report["violations"]})
            write_json(out / "cloudwatch_metrics.json", metrics)
            (out / "report.html").write_text(drift_html.render(report, args.title or str(args.data)))
        verdict = "; ".join(f"{v['check']} {v.get('feature', v.get('group', ''))}".strip() for v in found)
        if report["status"] == NOT_ENOUGH_DATA:
            print(f"drift: not enough data: {report['row_count']} rows, at least {limits.min_rows} needed; no verdict")
        else:
            print(f"drift: {report['row_count']} rows, {len(found)} violation(s){': ' + verdict if found else ''}")
        publish(args, metrics, report["violations"])

    code = run_step(step, "drift")
    return VIOLATION_EXIT_CODE if code == 0 and found and args.fail_on_violation else code


if __name__ == "__main__":
    sys.exit(main())
