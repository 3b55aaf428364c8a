"""The drift decision rule on shifts it was not built against, and on unshifted data at every size.

Scenarios (``pipeline_code/shifts.py``) are applied to the Adult test split with their own seeds; the drift check
runs in process (``drift.check_batches``) so that many runs stay cheap. Each shifted feature and each shifted
quality, bias or attribution figure must be flagged; unshifted resamples must raise nothing at 200 and 1,000 rows
over 20 seeds each, and at 100,000 rows (10 M rows and more seeds: ``benchmarks/drift_scenarios.py``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scipy import stats as sps

from pipeline_code import drift, drift_html, shifts, stats, tabular
from pipeline_code.artifacts import read_json
from pipeline_code.train import load_model

MODEL_CHECKS = {"model_quality_drift", "bias_drift", "attribution_drift", "prediction_drift"}


@pytest.fixture(scope="module")
def inputs(run_dir: Path) -> dict[str, Any]:
    return {
        "baseline": read_json(run_dir / "preprocess" / "baseline" / "baseline.json"),
        "test": tabular.read_processed(run_dir / "preprocess" / "test"),
        "reference": tabular.read_processed(run_dir / "preprocess" / "validation"),
        "booster": load_model(run_dir / "model"),
    }


def _check(inputs: dict[str, Any], batch: tabular.EncodedBatch, model: bool = False) -> dict[str, Any]:
    if not model:
        return drift.check_batches(inputs["baseline"], [batch], drift.Thresholds())
    return drift.check_batches(
        inputs["baseline"], [batch], drift.Thresholds(), inputs["booster"], [inputs["reference"]]
    )


def _flagged(report: dict[str, Any]) -> tuple[set[str], set[str]]:
    features = {v["feature"] for v in report["violations"] if v["check"] == "feature_drift"}
    return features, {v["check"] for v in report["violations"]} - {"feature_drift"}


@pytest.mark.parametrize("name", shifts.SCENARIOS)
def test_each_scenario_flags_what_it_shifted(inputs: dict[str, Any], name: str) -> None:
    scenario = shifts.SCENARIOS_BY_NAME[name]
    shifted = scenario.apply(inputs["test"], np.random.default_rng(2024))

    report = _check(inputs, shifted, model=bool(scenario.checks & MODEL_CHECKS))

    features, checks = _flagged(report)
    assert features >= scenario.features
    if scenario.exclusive:
        assert features == scenario.features
    assert checks >= scenario.checks


def test_the_old_statistics_alone_missed_the_subgroup_and_tail_shifts(inputs: dict[str, Any]) -> None:
    """Why the Wasserstein and tail tests exist: PSI over the whole feature stays under its threshold."""
    for name, feature in (("subgroup", "hours_per_week"), ("tail", "capital_gain")):
        shifted = shifts.SCENARIOS_BY_NAME[name].apply(inputs["test"], np.random.default_rng(2024))
        tests = _check(inputs, shifted)["features"][feature]["tests"]
        assert tests["psi"]["value"] < 0.2 or name == "subgroup"  # spike-aware bins already catch the subgroup
        assert any(t["drift"] for k, t in tests.items() if k != "psi")


@pytest.mark.parametrize("rows", [200, 1000])
def test_unshifted_resamples_raise_nothing_over_many_seeds(inputs: dict[str, Any], rows: int) -> None:
    test = inputs["test"]
    flagged = {}
    for seed in range(20):
        pick = np.random.default_rng([seed, rows]).integers(0, test.features.shape[0], rows)
        report = _check(inputs, tabular.EncodedBatch(test.features[pick], test.label[pick]))
        if report["violations"]:
            flagged[seed] = report["violations"]
    assert flagged == {}


def test_small_batches_report_noise_not_drift(inputs: dict[str, Any]) -> None:
    """At 200 rows the Jensen-Shannon distance of native_country over all 42 categories is mostly noise (over the
    0.1 threshold by itself); the check pools the categories expected under 5 times, removes the noise floor
    and asks for significance, so it does not flag."""
    test = inputs["test"]
    pick = np.random.default_rng(5).integers(0, test.features.shape[0], 200)
    report = _check(inputs, tabular.EncodedBatch(test.features[pick], test.label[pick]))
    feature = report["features"]["native_country"]
    plot = feature["plot"]
    assert stats.jensen_shannon(np.array(plot["baseline"]), np.array(plot["current"])) > 0.1  # the naive verdict
    js = feature["tests"]["jensen_shannon"]
    assert js["pooled_categories"] > 30
    assert js["value"] < 0.1
    assert not js["drift"]


def test_unshifted_resample_of_100k_rows_raises_nothing(inputs: dict[str, Any]) -> None:
    test = inputs["test"]
    pick = np.random.default_rng(100).integers(0, test.features.shape[0], 100_000)
    assert _check(inputs, tabular.EncodedBatch(test.features[pick], test.label[pick]))["violations"] == []


def test_the_unshifted_window_with_the_model_raises_nothing(inputs: dict[str, Any]) -> None:
    report = _check(inputs, inputs["test"], model=True)
    assert report["violations"] == []
    assert report["model"]["attribution"]["ndcg"] > 0.95
    assert report["model"]["quality"]["test"]["p_value"] > 0.01


# ---------------------------------------------------------------------------------------------- statistics


def test_wasserstein_from_tallies_matches_scipy_on_values_off_the_support() -> None:
    rng = np.random.default_rng(1)
    reference = rng.integers(0, 40, 5000).astype(float)
    current = np.concatenate([rng.integers(5, 45, 3000) + 0.5, rng.normal(20, 30, 500)])  # gaps and outside
    values, counts = np.unique(reference, return_counts=True)
    buckets, sums, missing = stats.Support.of(values).tally(current)
    assert missing == 0
    ours = stats.wasserstein(values, counts.astype(float), buckets.astype(float), sums)
    assert ours == pytest.approx(sps.wasserstein_distance(reference, current), rel=1e-3)


def test_spike_aware_bins_keep_a_mostly_zero_feature_resolved() -> None:
    counts = np.array([920.0] + [8.0] * 10)  # 92 % zeros, then ten values of 0.8 % each
    bins = stats.spike_aware_bins(counts, 10)
    assert bins[0] == 0
    assert len(set(bins[1:].tolist())) == 10  # the tail keeps ten bins (plain quantile bins gave it one)


def test_holm_adjustment() -> None:
    # sorted 0.01, 0.03, 0.04, NaN (as 1): times 4, 3, 2, 1, then made monotone
    assert stats.holm([0.01, 0.04, 0.03, float("nan")]) == pytest.approx([0.04, 0.09, 0.09, 1.0])


def test_ndcg_as_clarify_defines_it() -> None:
    baseline = np.array([0.5, 0.3, 0.2])
    assert stats.ndcg(baseline, baseline * 2) == pytest.approx(1.0)
    swapped = stats.ndcg(baseline, np.array([0.3, 0.5, 0.2]))  # current ranks feature 1 first
    ideal = 0.5 + 0.3 / np.log2(3) + 0.2 / 2
    assert swapped == pytest.approx((0.3 + 0.5 / np.log2(3) + 0.2 / 2) / ideal)


def test_null_p_values_do_not_understate_noise() -> None:
    """P-values of the fitted null against fresh null draws: not too many small ones (the lognormal tail makes a
    five-category divergence conservative; the tails of every Adult feature: benchmarks/drift_calibration.py)."""
    p = np.array([0.6, 0.25, 0.1, 0.04, 0.01])
    null = stats.two_sample_null(p, 20_000, 300, stats.js_divergence_rows, np.random.default_rng(1))
    rng = np.random.default_rng(2)
    fresh = stats.js_divergence_rows(
        rng.multinomial(20_000, p, size=5000).astype(float), rng.multinomial(300, p, size=5000).astype(float)
    )
    p_values = np.array([null.p_value(t) for t in fresh])
    assert np.mean(p_values < 0.01) < 0.02
    assert 0.005 < np.mean(p_values < 0.05) < 0.1


# ------------------------------------------------------------------------------------ bad input and report


def test_a_window_under_the_minimum_gets_no_verdict(run_dir: Path, tmp_path: Path) -> None:
    test = tabular.read_processed(run_dir / "shifted" / "numeric.csv")  # shifted: a verdict would flag it
    small = tmp_path / "small.csv"
    tabular.save_processed(small, tabular.EncodedBatch(test.features[:60], test.label[:60]))
    out = tmp_path / "out"
    argv = ["--baseline", str(run_dir / "preprocess/baseline/baseline.json"), "--data", str(small)]
    assert drift.main([*argv, "--output", str(out), "--fail-on-violation"]) == 0
    report = read_json(out / "drift_report.json")
    assert report["status"] == drift.NOT_ENOUGH_DATA
    assert report["violations"] == []
    assert [m["MetricName"] for m in read_json(out / "cloudwatch_metrics.json")["MetricData"]] == ["MonitoredRows"]
    assert "Not enough data" in (out / "report.html").read_text()


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("0,39,99,77516,0,13,2,0,1,0,1,2174,0,40,0", "column 'workclass': category codes must be"),
        ("0,abc,5,77516,0,13,2,0,1,0,1,2174,0,40,0", "column 'age'"),
        ("0,39,5,77516,0,13,2,0,1,0,1,2174", "12 columns, expected 14 features (age, workclass,"),
    ],
)
def test_bad_columns_are_named(
    run_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], line: str, message: str
) -> None:
    data = tmp_path / "bad.csv"
    data.write_text(line + "\n")
    argv = ["--baseline", str(run_dir / "preprocess/baseline/baseline.json"), "--data", str(data)]
    assert drift.main([*argv, "--output", str(tmp_path / "out")]) == 1
    assert message in capsys.readouterr().err
    assert not (tmp_path / "out").exists()  # nothing written, so nothing published


def test_a_baseline_without_a_feature_is_named(run_dir: Path, tmp_path: Path) -> None:
    baseline = read_json(run_dir / "preprocess/baseline/baseline.json")
    del baseline["features"]["hours_per_week"]
    with pytest.raises(drift.DataValidationError, match="'hours_per_week' is missing"):
        drift.CurrentCounts(baseline)


def test_report_html_is_self_contained_and_puts_drifted_items_first(inputs: dict[str, Any]) -> None:
    shifted = shifts.shift(inputs["test"], "gain-surge", seed=3)
    report = json.loads(json.dumps(_check(inputs, shifted, model=True), default=float))
    page = drift_html.render(report, "test window")
    assert "http://" not in page.replace("http://www.w3.org/2000/svg", "")
    assert "https://" not in page
    features = page.split("<h2>Features</h2>")[1]
    assert features.index("capital_gain (numeric)") < features.index("age (numeric)")
    for section in ("Model quality", "Bias", "Feature attributions", "Predictions"):
        assert f"<h2>{section}</h2>" in page
    assert page.count("<svg") >= len(report["features"]) + 3


def test_the_violations_event_names_the_html_report() -> None:
    entry = drift.violations_event("mlops-dev", "s3://b/monitoring/run/drift", [{"check": "x", "value": 1}])
    assert json.loads(entry["Detail"])["reportHtmlUri"] == "s3://b/monitoring/run/drift/report.html"


def test_limits_that_cannot_work_are_refused(run_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["--baseline", str(run_dir / "preprocess/baseline/baseline.json"), "--data", str(run_dir / "shifted")]
    assert drift.main([*argv, "--output", str(tmp_path / "out"), "--false-alarm-rate", "0"]) == 1
    assert "--false-alarm-rate must be in (0, 1), got 0.0" in capsys.readouterr().err
