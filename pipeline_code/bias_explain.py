"""Step 6, bias and explainability, computed in the job itself (SageMaker Clarify is closed to new customers).

- ``bias_report.json``: for each facet (``schema.FACETS``) and each of its values, pre-training figures on
  the labels and post-training figures on the model's predicted labels (definitions in ``metrics``).
- ``explainability.json``: global feature attributions as mean absolute SHAP values, from XGBoost's exact
  TreeSHAP (``pred_contribs``), so no SHAP library and no sampling approximation are needed.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np
import xgboost as xgb

from pipeline_code import metrics, schema, tracking
from pipeline_code.artifacts import atomic_output, write_json
from pipeline_code.cli import PROCESSING_INPUT, PROCESSING_OUTPUT, run_step
from pipeline_code.evaluate import labelled_predictions
from pipeline_code.train import load_model


def global_attributions(booster: xgb.Booster, features: np.ndarray) -> dict[str, Any]:
    """Mean |SHAP| and mean SHAP per feature (log-odds units), largest first."""
    contributions = booster.predict(
        xgb.DMatrix(features, feature_names=list(schema.FEATURE_NAMES)), pred_contribs=True
    )[:, :-1]  # the last column is the bias term
    mean_abs = np.abs(contributions).mean(axis=0)
    order = np.argsort(-mean_abs)
    return {
        "method": "TreeSHAP (xgboost pred_contribs), mean absolute value, log-odds",
        "row_count": int(features.shape[0]),
        "features": [
            {
                "name": schema.FEATURE_NAMES[i],
                "mean_abs_shap": float(mean_abs[i]),
                "mean_shap": float(contributions[:, i].mean()),
            }
            for i in order
        ],
    }


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=f"{PROCESSING_INPUT}/model")
    parser.add_argument("--data", default=f"{PROCESSING_INPUT}/test", help="processed, labelled CSV or folder")
    parser.add_argument("--output", default=f"{PROCESSING_OUTPUT}/bias")
    parser.add_argument("--threshold", type=float, default=0.5, help="score at which a prediction is positive")
    parser.add_argument(
        "--min-group",
        type=int,
        default=schema.DATASET.min_facet_group,
        help="smallest facet group reported (default: the data set's contract)",
    )
    parser.add_argument("--max-explain-rows", type=int, default=20_000, help="seeded sample size for SHAP")
    parser.add_argument("--seed", type=int, default=42)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)

    def step() -> None:
        features, label, score = labelled_predictions(args.model, args.data)
        bias = metrics.bias_report(features, label, score, args.threshold, args.min_group)
        rows = np.random.default_rng(args.seed).permutation(features.shape[0])[: args.max_explain_rows]
        attributions = global_attributions(load_model(args.model), features[np.sort(rows)])
        with atomic_output(args.output) as out:
            write_json(out / "bias_report.json", bias)
            write_json(out / "explainability.json", attributions)
        summary = bias["summary"]
        tracking.log_step(
            "bias_explain",
            params={"least_favoured_group": summary["min_disparate_impact_group"]},
            metrics={"min_disparate_impact": summary["min_disparate_impact"]}
            if summary["min_disparate_impact"] is not None
            else {},
            artifacts=[Path(args.output) / "bias_report.json", Path(args.output) / "explainability.json"],
        )
        top = ", ".join(f["name"] for f in attributions["features"][:3])
        print(f"bias_explain: facets {', '.join(bias['facets'])}; top features {top}")

    return run_step(step, "bias_explain")


if __name__ == "__main__":
    sys.exit(main())
