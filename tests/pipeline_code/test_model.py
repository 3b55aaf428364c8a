"""Training and evaluation on real data: quality bar, tuning-metric line, registry-readable report."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import xgboost as xgb
from sklearn.metrics import f1_score, roc_auc_score

from pipeline_code import train
from pipeline_code.artifacts import read_json
from pipeline_code.evaluate import labelled_predictions

TUNING_REGEX = r"validation-auc:([0-9\.]+)"


def _channels(run_dir: Path, model_dir: Path) -> list[str]:
    pre = run_dir / "preprocess"
    return [
        "--train",
        str(pre / "train"),
        "--validation",
        str(pre / "validation"),
        "--model-dir",
        str(model_dir),
    ]


@pytest.fixture(scope="session")
def evaluation(run_dir: Path) -> dict:
    return read_json(run_dir / "evaluation" / "evaluation.json")


def test_auc_on_the_adult_test_split_is_at_least_0_90(run_dir: Path, evaluation: dict) -> None:
    _, label, score = labelled_predictions(run_dir / "model", run_dir / "preprocess" / "test")
    assert roc_auc_score(label, score) >= 0.90
    assert evaluation["binary_classification_metrics"]["auc"]["value"] == pytest.approx(roc_auc_score(label, score))
    assert evaluation["binary_classification_metrics"]["f1"]["value"] == pytest.approx(f1_score(label, score >= 0.5))


def test_evaluation_json_has_the_property_file_and_model_quality_layout(evaluation: dict) -> None:
    block = evaluation["binary_classification_metrics"]
    for name in ("auc", "accuracy", "precision", "recall", "f1", "log_loss"):
        assert isinstance(block[name]["value"], float)
        assert "standard_deviation" in block[name]
    cm = block["confusion_matrix"]
    assert sum(cm["0"].values()) + sum(cm["1"].values()) == evaluation["row_count"]


def test_business_threshold_minimises_cost(run_dir: Path, evaluation: dict) -> None:
    _, label, score = labelled_predictions(run_dir / "model", run_dir / "preprocess" / "test")
    business = evaluation["business_metric"]
    fp_cost, fn_cost = business["false_positive_cost"], business["false_negative_cost"]

    def cost(threshold: float) -> float:
        predicted = score >= threshold
        return float(
            ((predicted & (label == 0)).sum() * fp_cost + (~predicted & (label == 1)).sum() * fn_cost)
            / label.size
            * 1000
        )

    assert cost(business["threshold"]) == pytest.approx(business["expected_cost_per_1000"])
    grid = np.linspace(0, 1, 201)
    assert business["expected_cost_per_1000"] <= min(cost(t) for t in grid) + 1e-9


def test_plots_are_png_files(run_dir: Path) -> None:
    for name in ("roc_curve.png", "confusion_matrix.png"):
        assert (run_dir / "evaluation" / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_train_prints_the_tuning_metric_and_saves_a_json_model(
    run_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = [
        *_channels(run_dir, tmp_path),
        "--num_round",
        "20",
        "--max_depth",
        "4",
        "--eta",
        "0.3",
    ]
    assert train.main(argv) == 0
    matches = re.findall(TUNING_REGEX, capsys.readouterr().out)
    assert len(matches) == 1
    assert 0.85 < float(matches[0]) <= 1.0
    saved = tmp_path / train.MODEL_FILE
    assert saved.read_text().startswith("{")  # JSON model format
    # XGBoost 1.7 (SageMaker's 1.7-1 container) reads only a scalar base_score and falls back to 0.5
    model = json.loads(saved.read_text())
    assert model["learner"]["learner_model_param"]["base_score"].strip("[]") in ("5E-1", "0.5")
    booster = xgb.Booster(model_file=str(saved))
    assert booster.num_boosted_rounds() <= 20


def test_training_reads_sagemaker_environment(run_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pre = run_dir / "preprocess"
    monkeypatch.setenv("SM_CHANNEL_TRAIN", str(pre / "train"))
    monkeypatch.setenv("SM_CHANNEL_VALIDATION", str(pre / "validation"))
    monkeypatch.setenv("SM_MODEL_DIR", str(tmp_path))
    assert train.main(["--num_round", "5"]) == 0
    assert (tmp_path / train.MODEL_FILE).is_file()


def test_train_runs_as_a_script_like_sagemaker_script_mode(run_dir: Path, tmp_path: Path) -> None:
    """Script mode runs ``python train.py --hp value`` from the code folder, not ``python -m``."""
    script = Path(train.__file__)
    argv = _channels(run_dir, tmp_path)
    done = subprocess.run(
        [sys.executable, str(script), *argv, "--num_round", "3"], cwd=tmp_path, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert re.search(TUNING_REGEX, done.stdout)
