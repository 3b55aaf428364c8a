"""Bias figures against an independent pandas computation on the same predictions; SHAP additivity."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xgboost as xgb

from pipeline_code import schema
from pipeline_code.artifacts import read_json
from pipeline_code.bias_explain import global_attributions
from pipeline_code.evaluate import labelled_predictions
from pipeline_code.train import load_model


@pytest.fixture(scope="session")
def predictions(run_dir: Path) -> pd.DataFrame:
    features, label, score = labelled_predictions(run_dir / "model", run_dir / "preprocess" / "test")
    frame = pd.DataFrame({"label": label, "predicted": (score >= 0.5).astype(int)})
    for facet in schema.FACETS:
        codes = features[:, schema.FEATURE_NAMES.index(facet)].astype(int)
        frame[facet] = np.asarray(schema.column(facet).categories)[codes]  # type: ignore[union-attr]
    return frame


def _independent(frame: pd.DataFrame, facet: str, value: str) -> dict[str, float]:
    d, a = frame[frame[facet] == value], frame[frame[facet] != value]
    return {
        "class_imbalance": (len(a) - len(d)) / len(frame),
        "difference_in_proportions_of_labels": a["label"].mean() - d["label"].mean(),
        "disparate_impact": d["predicted"].mean() / a["predicted"].mean(),
        "difference_in_positive_proportions_in_predicted_labels": a["predicted"].mean() - d["predicted"].mean(),
        "equal_opportunity_difference": a.loc[a["label"] == 1, "predicted"].mean()
        - d.loc[d["label"] == 1, "predicted"].mean(),
    }


def test_bias_report_matches_independent_computation(run_dir: Path, predictions: pd.DataFrame) -> None:
    report = read_json(run_dir / "bias" / "bias_report.json")
    checked = 0
    for facet in schema.FACETS:
        assert report["facets"][facet], facet
        for value, figures in report["facets"][facet].items():
            expected = _independent(predictions, facet, value)
            got = figures["pre_training"] | figures["post_training"]
            for name, number in expected.items():
                assert got[name] == pytest.approx(number, rel=1e-9, abs=1e-12), (facet, value, name)
                checked += 1
    assert checked >= 5 * (2 + 3)  # both sexes and at least three race groups, five figures each


def test_women_get_fewer_positive_predictions_as_the_data_says(run_dir: Path) -> None:
    female = read_json(run_dir / "bias" / "bias_report.json")["facets"]["sex"]["Female"]
    assert female["post_training"]["disparate_impact"] < 0.8  # the well-known Adult bias, found, not hidden


def test_shap_contributions_add_up_to_the_margin(run_dir: Path) -> None:
    features, _, _ = labelled_predictions(run_dir / "model", run_dir / "preprocess" / "test")
    booster = load_model(run_dir / "model")
    sample = xgb.DMatrix(features[:500], feature_names=list(schema.FEATURE_NAMES))
    contributions = booster.predict(sample, pred_contribs=True)
    np.testing.assert_allclose(contributions.sum(axis=1), booster.predict(sample, output_margin=True), atol=1e-3)
    report = global_attributions(booster, features[:500])
    top = report["features"][0]
    assert top["mean_abs_shap"] == pytest.approx(np.abs(contributions[:, :-1]).mean(axis=0).max(), rel=1e-6)
    written = read_json(run_dir / "bias" / "explainability.json")
    assert {f["name"] for f in written["features"]} == set(schema.FEATURE_NAMES)
