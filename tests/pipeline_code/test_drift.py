"""Drift check on the real test split: silent when nothing moved, precise when one thing did."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy import stats as sps

from pipeline_code import drift, shifts, stats, tabular
from pipeline_code.artifacts import read_json


def _drift_argv(run_dir: Path, data: Path, out: Path) -> list[str]:
    baseline = run_dir / "preprocess" / "baseline" / "baseline.json"
    return ["--baseline", str(baseline), "--data", str(data), "--output", str(out)]


def _report(run_dir: Path, name: str) -> dict:
    return read_json(run_dir / "drift" / name / "drift_report.json")


def test_unshifted_test_split_raises_no_violation(run_dir: Path) -> None:
    report = _report(run_dir, "unshifted")
    assert report["violations"] == []
    assert report["model"]["quality"]["current"]["auc"] > 0.9
    assert report["model"]["bias"]  # bias drift was actually evaluated


@pytest.mark.parametrize("scenario", shifts.BASIC_SCENARIOS)
def test_each_shift_is_flagged_on_the_shifted_features(run_dir: Path, scenario: str) -> None:
    """End to end through local_run; every scenario in process: test_drift_scenarios.py."""
    report = _report(run_dir, scenario)
    drifted = {v["feature"] for v in report["violations"] if v["check"] == "feature_drift"}
    expected = shifts.SCENARIOS_BY_NAME[scenario]
    assert drifted >= expected.features
    if expected.exclusive:
        assert drifted == expected.features
    label_flagged = any(v["check"] == "label_drift" for v in report["violations"])
    assert label_flagged == (scenario == "label-prior")
    assert (run_dir / "drift" / scenario / "report.html").is_file()


def test_ks_statistic_is_exact(run_dir: Path) -> None:
    baseline = read_json(run_dir / "preprocess" / "baseline" / "baseline.json")
    reference_rows = tabular.read_processed(run_dir / "preprocess" / "train").features
    current_rows = tabular.read_processed(run_dir / "shifted" / "numeric.csv").features
    for j, name in [(0, "age"), (2, "fnlwgt"), (12, "hours_per_week")]:
        spec = baseline["features"][name]
        support, counts = np.asarray(spec["values"]), np.asarray(spec["counts"], dtype=float)
        buckets, _ = stats.Support.of(support).count(current_rows[:, j])
        slow, _ = stats.Support(support).count(current_rows[:, j])  # binary search only
        assert buckets.tolist() == slow.tolist()
        d, _ = stats.ks_test(counts, buckets)
        assert d == pytest.approx(sps.ks_2samp(reference_rows[:, j], current_rows[:, j]).statistic, abs=1e-12)


def test_psi_matches_a_direct_binned_computation(run_dir: Path) -> None:
    baseline = read_json(run_dir / "preprocess" / "baseline" / "baseline.json")
    reference = tabular.read_processed(run_dir / "preprocess" / "train").features[:, 0]
    current = tabular.read_processed(run_dir / "shifted" / "numeric.csv").features[:, 0]
    spec = baseline["features"]["age"]
    bins = stats.spike_aware_bins(np.asarray(spec["counts"], dtype=float), 10)  # age has no spike: quantile bins
    upper = [max(v for v, b in zip(spec["values"], bins, strict=True) if b == k) for k in range(bins.max() + 1)]
    # the check's bins are right-closed (a, b]; for whole-year ages that is np.histogram's [a + 0.5, b + 0.5)
    edges = np.array([-np.inf, *upper[:-1], np.inf]) + 0.5
    expected = np.histogram(reference, edges)[0].astype(float)
    actual = np.histogram(current, edges)[0].astype(float)
    psi = _report(run_dir, "numeric")["features"]["age"]["tests"]["psi"]["value"]
    assert psi == pytest.approx(stats.psi(expected, actual))


def test_large_samples_do_not_make_unshifted_data_drift(run_dir: Path, tmp_path: Path) -> None:
    """Significance tests flag 200k rows resampled from the test split (the train-test difference is real at
    this size); the effect-size half of the verdict keeps them from drifting."""
    test = tabular.read_processed(run_dir / "preprocess" / "test")
    rows = np.random.default_rng(3).integers(0, test.features.shape[0], 200_000)
    path = tmp_path / "big.csv"
    tabular.save_processed(path, tabular.EncodedBatch(test.features[rows], test.label[rows]))
    report = drift.drift_check(
        read_json(run_dir / "preprocess" / "baseline" / "baseline.json"), path, drift.Thresholds()
    )
    assert report["violations"] == []
    assert any(f.get("chi2_p_value", 1) < 0.01 for f in report["features"].values())
    tests = [t for f in report["features"].values() for t in f["tests"].values()]
    assert any(t["significant"] and not t["over_threshold"] for t in tests)


def test_unlabelled_captured_data_gets_feature_and_prediction_checks(run_dir: Path, tmp_path: Path) -> None:
    test = tabular.read_processed(run_dir / "shifted" / "numeric.csv")
    path = tmp_path / "captured.csv"
    tabular.save_processed(path, tabular.EncodedBatch(test.features, None))
    out = tmp_path / "out"
    model_args = [
        "--model",
        str(run_dir / "model"),
        "--reference",
        str(run_dir / "preprocess" / "validation"),
    ]
    options = ["--fail-on-violation", "--dimension", "ModelName=adult"]
    code = drift.main([*_drift_argv(run_dir, path, out), *model_args, *options])
    assert code == drift.VIOLATION_EXIT_CODE
    report = read_json(out / "drift_report.json")
    assert report["label"] is None
    assert "quality" not in report["model"]
    assert "prediction" in report["model"]
    metrics = read_json(out / "cloudwatch_metrics.json")
    assert metrics["Namespace"] == "MLOps/Drift"
    age = [m for m in metrics["MetricData"] if {"Name": "Feature", "Value": "age"} in m["Dimensions"]]
    assert len(age) == 1
    assert age[0]["Value"] == report["features"]["age"]["value"]
    assert all({"Name": "ModelName", "Value": "adult"} in m["Dimensions"] for m in metrics["MetricData"])
    assert read_json(out / "violations.json")["violations"] == report["violations"]


def test_thresholds_are_arguments(run_dir: Path, tmp_path: Path) -> None:
    argv = _drift_argv(run_dir, run_dir / "shifted" / "category.csv", tmp_path)
    assert drift.main([*argv, "--categorical-js", "0.9"]) == 0
    assert read_json(tmp_path / "violations.json")["violations"] == []


def test_model_checks_need_reference_data(run_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = _drift_argv(run_dir, run_dir / "preprocess" / "test", tmp_path / "out")
    argv += ["--model", str(run_dir / "model")]
    assert drift.main(argv) == 1
    assert "--reference" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_lookup_table_buckets_match_binary_search_on_edge_values() -> None:
    support = np.array([1.0, 2.0, 5.0])
    current = np.array([0.0, 1.0, 1.5, 2.0, 3.0, 5.0, 6.0, -7.0, 4.999])
    expected = [0, 1, 2, 3, 4, 5, 6, 0, 4]  # 2j+1 on reference value j, 2j just below it
    assert stats.Support.of(support).lookup is not None
    assert stats.Support.of(support).buckets(current).tolist() == expected
    assert stats.interleaved_bucket(support, current).tolist() == expected
