"""Step 5, evaluate: model quality on held-out data, a business cost, and plots.

``evaluation.json`` uses the Model Monitor model-quality layout
(``binary_classification_metrics.<metric>.value``), which both a pipeline ``PropertyFile``
(JsonPath ``binary_classification_metrics.auc.value``) and the Model Registry's ``ModelQuality.Statistics``
read. The business figure is the expected cost per 1,000 decisions at the threshold that minimises it, from
configurable false-positive and false-negative costs.

``serving.decision_threshold`` is that threshold as a string: the registration puts it in the model package's
environment, and the endpoint's decisions are taken at it.

It also reports the hyper-parameters the evaluated model was trained with (read from the model itself, so a tuned
run reports the winning job's): ``hyperparameters`` (an object) and ``hyperparameters_summary``
(``num_round=400 ... eta=0.1 ...``), which the pipeline copies into the Model Registry's customer metadata and
which therefore must fit SageMaker's value pattern (see ``metadata_summary``).
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # containers and CI have no display
import matplotlib.pyplot as plt
import numpy as np
from sklearn.metrics import roc_curve

from pipeline_code import metrics, schema, tabular, tracking
from pipeline_code.artifacts import atomic_output, write_json
from pipeline_code.cli import PROCESSING_INPUT, PROCESSING_OUTPUT, run_step
from pipeline_code.errors import DataValidationError, PipelineError
from pipeline_code.train import load_hyperparameters, load_model, predict_proba

REPORTED = ("auc", "accuracy", "precision", "recall", "f1", "log_loss")
# The ASCII part of what SageMaker accepts as a CustomerMetadataProperties value (1-256 characters of
# [\p{L}\p{Z}\p{N}_.:/=+\-@]): the standard library has no \p classes, and numbers never need more.
METADATA_VALUE = re.compile(r"[A-Za-z0-9 _.:/=+\-@]{1,256}")


def _compact(value: float | int) -> str:
    return str(value) if isinstance(value, int) else f"{value:.6g}"


def metadata_summary(hyperparameters: dict[str, float | int]) -> str:
    """``name=value`` pairs joined by blanks, fit for a Model Registry metadata value (or a clear error)."""
    summary = " ".join(f"{name}={_compact(value)}" for name, value in hyperparameters.items())
    if not METADATA_VALUE.fullmatch(summary):
        raise PipelineError(
            f"hyper-parameter summary does not fit SageMaker's metadata value (1-256 of [A-Za-z0-9 _.:/=+-@]): "
            f"{summary[:300]!r}"
        )
    return summary


def labelled_predictions(model_dir: Path | str, data: Path | str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Features, labels and predicted probabilities of a processed, labelled data set."""
    batch = tabular.read_processed(data)
    if batch.label is None:
        raise DataValidationError(f"{data}: evaluation data has no label column")
    return batch.features, batch.label, predict_proba(load_model(model_dir), batch.features)


def evaluation_report(
    label: np.ndarray, score: np.ndarray, threshold: float, fp_cost: float, fn_cost: float
) -> dict[str, Any]:
    """The evaluation document (Model Monitor model-quality layout plus a business-metric block)."""
    m = metrics.classification_metrics(label, score, threshold)
    cm = m["confusion_matrix"]
    block: dict[str, Any] = {name: {"value": m[name], "standard_deviation": "NaN"} for name in REPORTED}
    block["confusion_matrix"] = {"0": {"0": cm["tn"], "1": cm["fp"]}, "1": {"0": cm["fn"], "1": cm["tp"]}}
    return {
        "binary_classification_metrics": block,
        "decision_threshold": threshold,
        "business_metric": metrics.cost_optimal_threshold(label, score, fp_cost, fn_cost),
        "row_count": int(label.size),
        "positive_rate": float(label.mean()),
    }


def serving_block(business: dict[str, Any]) -> dict[str, str]:
    """What the registered model serves with: the cost-optimal threshold, as the string a container environment
    variable needs (``MLOPS_DECISION_THRESHOLD``, read by `serve.model_fn`); exactly the float of the business
    metric (``repr`` round-trips), so the endpoint decides as the evaluation counted."""
    return {"decision_threshold": repr(float(business["threshold"]))}


def plot_roc(label: np.ndarray, score: np.ndarray, auc: float, path: Path) -> None:
    fpr, tpr, _ = roc_curve(label, score)
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.plot(fpr, tpr, label=f"model (AUC = {auc:.3f})")
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="chance")
    ax.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC curve")
    ax.legend(loc="lower right")
    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)


def plot_confusion(cm: dict[str, dict[str, int]], threshold: float, path: Path) -> None:
    grid = np.array([[cm["0"]["0"], cm["0"]["1"]], [cm["1"]["0"], cm["1"]["1"]]])
    fig, ax = plt.subplots(figsize=(4, 4))
    ax.imshow(grid, cmap="Blues")
    for (i, j), value in np.ndenumerate(grid):
        ax.text(j, i, str(value), ha="center", va="center", color="white" if value > grid.max() / 2 else "black")
    names = list(schema.LABEL_VALUES)
    ax.set(
        xticks=[0, 1],
        yticks=[0, 1],
        xticklabels=names,
        yticklabels=names,
        xlabel="predicted",
        ylabel="actual",
        title=f"confusion matrix (threshold {threshold:g})",
    )
    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=f"{PROCESSING_INPUT}/model", help="folder with xgboost-model.json")
    parser.add_argument("--test", default=f"{PROCESSING_INPUT}/test", help="processed, labelled CSV or folder")
    parser.add_argument("--output", default=f"{PROCESSING_OUTPUT}/evaluation")
    parser.add_argument("--threshold", type=float, default=0.5, help="decision threshold of the metrics")
    parser.add_argument("--false-positive-cost", type=float, default=1.0)
    parser.add_argument("--false-negative-cost", type=float, default=5.0)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)

    def step() -> None:
        _, label, score = labelled_predictions(args.model, args.test)
        report = evaluation_report(label, score, args.threshold, args.false_positive_cost, args.false_negative_cost)
        hyperparameters = load_hyperparameters(args.model)
        report["hyperparameters"] = hyperparameters
        report["hyperparameters_summary"] = metadata_summary(hyperparameters)
        report["serving"] = serving_block(report["business_metric"])
        block = report["binary_classification_metrics"]
        with atomic_output(args.output) as out:
            write_json(out / "evaluation.json", report)
            plot_roc(label, score, block["auc"]["value"], out / "roc_curve.png")
            plot_confusion(block["confusion_matrix"], args.threshold, out / "confusion_matrix.png")
        print(
            f"evaluate: auc {block['auc']['value']:.4f}, f1 {block['f1']['value']:.4f}, "
            f"cost/1000 {report['business_metric']['expected_cost_per_1000']:.1f}"
        )
        tracking.log_step(
            "evaluate",
            metrics={
                **{name: block[name]["value"] for name in REPORTED},
                "expected_cost_per_1000": report["business_metric"]["expected_cost_per_1000"],
            },
            artifacts=[Path(args.output) / "evaluation.json", Path(args.output) / "roc_curve.png"],
        )

    return run_step(step, "evaluate")


if __name__ == "__main__":
    sys.exit(main())
