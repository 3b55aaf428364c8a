"""What the steps need from (and give to) SageMaker: hyper-parameters from SM_HPS, models from model.tar.gz,
the one bias number the pipeline's gate compares, the input lineage the registry records, and MLflow tracking."""

from __future__ import annotations

import hashlib
import json
import tarfile
from pathlib import Path

import numpy as np
import pytest

from pipeline_code import preprocess, tabular, tracking, train


def test_hyperparameters_arrive_from_sm_hps_and_explicit_arguments_win(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SM_HPS", json.dumps({"num_round": "7", "max_depth": 2, "eta": 0.3}))
    args = train.parse_args(["--max_depth", "5"])
    assert (args.num_round, args.max_depth, args.eta) == (7, 5, 0.3)


@pytest.mark.parametrize(
    ("hps", "message"),
    [
        ('{"num_rounds": 7}', "unknown hyper-parameter(s) in SM_HPS: num_rounds"),
        ("{not json", "SM_HPS is not valid JSON"),
    ],
)
def test_bad_sm_hps_stops_with_a_message(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], hps: str, message: str
) -> None:
    monkeypatch.setenv("SM_HPS", hps)
    with pytest.raises(SystemExit) as exit_info:
        train.parse_args([])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_a_model_arrives_as_the_model_tar_gz_a_training_job_makes(run_dir: Path, tmp_path: Path) -> None:
    with tarfile.open(tmp_path / "model.tar.gz", "w:gz") as tar:
        tar.add(run_dir / "model" / train.MODEL_FILE, arcname=train.MODEL_FILE)
    rows = tabular.read_processed(run_dir / "preprocess" / "test").features[:200]
    from_folder = train.predict_proba(train.load_model(run_dir / "model"), rows)
    from_archive = train.predict_proba(train.load_model(tmp_path), rows)
    np.testing.assert_array_equal(from_folder, from_archive)


def test_an_archive_without_a_model_is_named(tmp_path: Path) -> None:
    (tmp_path / "other.txt").write_text("x")
    with tarfile.open(tmp_path / "model.tar.gz", "w:gz") as tar:
        tar.add(tmp_path / "other.txt", arcname="other.txt")
    with pytest.raises(Exception, match=r"model\.tar\.gz: holds no xgboost-model\.json"):
        train.load_model(tmp_path)


def test_the_gate_number_is_the_lowest_disparate_impact_of_any_group(run_dir: Path) -> None:
    report = json.loads((run_dir / "bias" / "bias_report.json").read_text())
    by_group = {
        f"{facet}={value}": entry["post_training"]["disparate_impact"]
        for facet, values in report["facets"].items()
        for value, entry in values.items()
    }
    lowest = min(by_group, key=by_group.__getitem__)
    assert report["summary"] == {"min_disparate_impact": by_group[lowest], "min_disparate_impact_group": lowest}


def test_lineage_names_the_exact_input_bytes(adult_dir: Path, tmp_path: Path) -> None:
    files = sorted(adult_dir.glob("*.gz"))
    lineage = preprocess.input_lineage(files)["input"]
    assert [f["sha256"] for f in lineage["files"]] == [hashlib.sha256(f.read_bytes()).hexdigest() for f in files]
    changed = tmp_path / files[0].name
    changed.write_bytes(files[0].read_bytes() + b"\n")
    assert preprocess.input_lineage([changed, *files[1:]])["input"]["sha256"] != lineage["sha256"]


def test_training_logs_its_run_to_mlflow_when_a_tracking_server_is_set(
    run_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    monkeypatch.setenv("MLFLOW_EXPERIMENT_NAME", "contract-test")
    monkeypatch.chdir(tmp_path)  # a sqlite-backed MLflow keeps artifacts in ./mlruns
    data = run_dir / "preprocess"
    code = train.main(["--train", str(data / "train"), "--validation", str(data / "validation"),
                       "--model-dir", str(tmp_path / "model"), "--num_round", "5"])  # fmt: skip
    assert code == 0
    import mlflow

    (run,) = mlflow.search_runs(experiment_names=["contract-test"], output_format="list")
    assert run.data.params["num_round"] == "5"
    assert 0.5 < run.data.metrics["validation-auc"] <= 1.0
    assert run.data.tags["step"] == "train"


def test_without_a_tracking_server_nothing_is_logged_or_imported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert tracking.log_step("train", params={"a": 1}) is False


def test_a_tracking_server_that_is_down_does_not_fail_the_step(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:9")  # nothing listens on the discard port
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "2")
    assert tracking.log_step("evaluate", metrics={"auc": 0.9}) is False
    assert "experiment tracking failed, the step goes on" in capsys.readouterr().err
