"""The local run: one command, every artifact under one folder, a summary a person can read."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline_code import local_run


def test_every_artifact_lands_under_the_run_folder(run_dir: Path) -> None:
    expected = [
        "validation/validation_report.json",
        "preprocess/train/train.csv",
        "preprocess/validation/validation.csv",
        "preprocess/test/test.csv",
        "preprocess/raw_test/test.csv",
        "preprocess/baseline/baseline.json",
        "preprocess/manifest/feature_manifest.json",
        "model/xgboost-model.json",
        "model/metadata/feature_manifest.json",
        "model/code/inference.py",
        "model/code/pipeline_code/serve.py",
        "evaluation/evaluation.json",
        "evaluation/roc_curve.png",
        "evaluation/confusion_matrix.png",
        "bias/bias_report.json",
        "bias/explainability.json",
        "drift/unshifted/drift_report.json",
        "drift/numeric/violations.json",
        "drift/label-prior/cloudwatch_metrics.json",
    ]
    assert [p for p in expected if not (run_dir / p).is_file()] == []
    assert not list(run_dir.parent.glob(".*staging*"))


def test_summary_shows_metrics_features_bias_and_drift(run_dir: Path) -> None:
    text = local_run.summary(run_dir, ["unshifted", "numeric"])
    assert "auc 0.9" in text
    assert "top features (mean |SHAP|): " in text
    assert "bias sex: Female DI" in text
    assert "drift [unshifted]: no violation" in text
    assert "drift [numeric]: DRIFT: feature_drift(age=" in text


def test_a_failing_step_stops_the_run(tmp_path: Path) -> None:
    (tmp_path / "bad.csv").write_text("age, Y\n39, >50K\n")
    with pytest.raises(SystemExit, match="validate"):
        local_run.main(["--out", str(tmp_path / "out"), "--data", str(tmp_path / "bad.csv")])
