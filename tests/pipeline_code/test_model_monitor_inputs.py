"""The inputs of SageMaker's own baselines (native checks): the train split in the endpoint's request layout (raw
records), and a one-row raw SHAP baseline, from the session's local run on the Adult data."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from pipeline_code import features, model_monitor_inputs, schema, serve, tabular
from pipeline_code.errors import DataValidationError


@pytest.fixture(scope="module")
def outputs(run_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("model-monitor-inputs")
    pre = run_dir / "preprocess"
    code = model_monitor_inputs.main(
        [
            "--train",
            str(pre / "train"),
            "--baseline",
            str(pre / "baseline"),
            "--manifest",
            str(pre / "manifest"),
            "--output",
            str(out),
        ]
    )
    assert code == 0
    return out


MANIFEST = features.FeatureManifest.from_schema()


def test_features_are_the_train_split_as_the_raw_requests_the_endpoint_receives(run_dir: Path, outputs: Path) -> None:
    train = tabular.read_processed(run_dir / "preprocess" / "train")
    text = (outputs / "features" / "features.csv").read_text()
    first = text.splitlines()[0]
    assert len(first.split(",")) == len(schema.FEATURES)  # features only: no label column, no header line
    assert first.split(",")[0].isdigit()
    assert "?" in text  # missing values as the raw files write them
    # what the endpoint's handlers make of these lines is the train split itself
    _, encoded = serve.encode(serve.input_fn(text, serve.CSV), features.Encoder(MANIFEST))
    assert np.array_equal(encoded.matrix, train.features, equal_nan=True)


def test_shap_baseline_is_one_raw_row_of_medians_and_modes_of_the_train_split(run_dir: Path, outputs: Path) -> None:
    row = (outputs / "shap" / "shap_baseline.csv").read_text().strip().split(",")
    train = tabular.read_processed(run_dir / "preprocess" / "train").features
    assert len(row) == len(schema.FEATURES)
    for j, col in enumerate(schema.FEATURES):
        values = train[:, j][~np.isnan(train[:, j])]
        if isinstance(col, schema.CategoricalColumn):
            codes, counts = np.unique(values[values >= 0], return_counts=True)
            assert row[j] == col.categories[int(codes[np.argmax(counts)])], col.name
        else:
            assert float(row[j]) == pytest.approx(np.quantile(values, 0.5, method="inverted_cdf")), col.name
    assert row[schema.FEATURE_NAMES.index("sex")] == "Male"  # two thirds of the Adult rows
    _, encoded = serve.encode(serve.input_fn(",".join(row), serve.CSV), features.Encoder(MANIFEST))
    assert encoded.unseen_count == 0  # a record the endpoint scores as it is


def test_a_baseline_without_a_feature_is_refused_naming_it(run_dir: Path) -> None:
    baseline = json.loads((run_dir / "preprocess" / "baseline" / "baseline.json").read_text())
    del baseline["features"]["age"]
    with pytest.raises(DataValidationError, match="no statistics for feature 'age'"):
        model_monitor_inputs.shap_baseline(baseline, MANIFEST)
    baseline = json.loads((run_dir / "preprocess" / "baseline" / "baseline.json").read_text())
    baseline["features"]["sex"]["counts"] = [0, 0]
    with pytest.raises(DataValidationError, match="'sex' needs 2 category counts, not all 0"):
        model_monitor_inputs.shap_baseline(baseline, MANIFEST)


def test_an_empty_train_split_fails_the_step_and_writes_nothing(run_dir: Path, tmp_path: Path) -> None:
    empty = tmp_path / "train"
    empty.mkdir()
    (empty / "train.csv").write_text("")
    pre = run_dir / "preprocess"
    code = model_monitor_inputs.main(
        [
            "--train",
            str(empty),
            "--baseline",
            str(pre / "baseline"),
            "--manifest",
            str(pre / "manifest"),
            "--output",
            str(tmp_path),
        ]
    )
    assert code == 1
    assert not (tmp_path / "features" / "features.csv").exists()
    assert not (tmp_path / "shap").exists()
