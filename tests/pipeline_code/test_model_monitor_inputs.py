"""The inputs of SageMaker's own baselines (native checks): the train split in the endpoint's request layout, and a
one-row SHAP baseline, from the session's local run on the Adult data."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from pipeline_code import batch_prepare, model_monitor_inputs, schema, tabular
from pipeline_code.errors import DataValidationError


@pytest.fixture(scope="module")
def outputs(run_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("model-monitor-inputs")
    pre = run_dir / "preprocess"
    code = model_monitor_inputs.main(
        ["--train", str(pre / "train"), "--baseline", str(pre / "baseline"), "--output", str(out)]
    )
    assert code == 0
    return out


def test_features_are_the_train_split_without_its_label_in_request_layout(
    run_dir: Path, outputs: Path, adult_dir: Path, tmp_path: Path
) -> None:
    train = tabular.read_processed(run_dir / "preprocess" / "train")
    features_csv = outputs / "features" / "features.csv"
    written = tabular.read_processed(features_csv)
    assert written.label is None  # no leading label column: the file has exactly the feature count
    assert np.array_equal(written.features, train.features, equal_nan=True)
    first = features_csv.read_text().splitlines()[0]
    assert len(first.split(",")) == len(schema.FEATURES)
    assert not first[0].isalpha()  # no header line
    # Same layout as what the endpoint receives: batch_prepare's features of raw rows have the same column count
    batch_prepare.prepare([adult_dir / "adult.test.gz"], tmp_path / "requests.csv")
    request = (tmp_path / "requests.csv").read_text().splitlines()[0]
    assert len(request.split(",")) == len(first.split(","))


def test_shap_baseline_is_one_row_of_medians_and_modes_of_the_train_split(run_dir: Path, outputs: Path) -> None:
    row = [float(v) for v in (outputs / "shap" / "shap_baseline.csv").read_text().strip().split(",")]
    train = tabular.read_processed(run_dir / "preprocess" / "train").features
    assert len(row) == len(schema.FEATURES)
    for j, col in enumerate(schema.FEATURES):
        values = train[:, j][~np.isnan(train[:, j])]
        if isinstance(col, schema.CategoricalColumn):
            codes, counts = np.unique(values[values >= 0], return_counts=True)
            assert row[j] == codes[np.argmax(counts)], col.name
        else:
            assert row[j] == pytest.approx(np.quantile(values, 0.5, method="inverted_cdf")), col.name
    sex = schema.FEATURE_NAMES.index("sex")
    assert schema.SEX[int(row[sex])] == "Male"  # two thirds of the Adult rows


def test_a_baseline_without_a_feature_is_refused_naming_it(run_dir: Path) -> None:
    baseline = json.loads((run_dir / "preprocess" / "baseline" / "baseline.json").read_text())
    del baseline["features"]["age"]
    with pytest.raises(DataValidationError, match="no statistics for feature 'age'"):
        model_monitor_inputs.shap_baseline(baseline)
    baseline = json.loads((run_dir / "preprocess" / "baseline" / "baseline.json").read_text())
    baseline["features"]["sex"]["counts"] = [0, 0]
    with pytest.raises(DataValidationError, match="'sex' needs 2 category counts, not all 0"):
        model_monitor_inputs.shap_baseline(baseline)


def test_an_empty_train_split_fails_the_step_and_writes_nothing(run_dir: Path, tmp_path: Path) -> None:
    empty = tmp_path / "train"
    empty.mkdir()
    (empty / "train.csv").write_text("")
    code = model_monitor_inputs.main(
        ["--train", str(empty), "--baseline", str(run_dir / "preprocess" / "baseline"), "--output", str(tmp_path)]
    )
    assert code == 1
    assert not (tmp_path / "features" / "features.csv").exists()
    assert not (tmp_path / "shap").exists()
