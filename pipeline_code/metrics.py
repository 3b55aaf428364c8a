"""Model-quality and bias figures, shared by evaluate, bias and the drift check so each is computed one way.

Bias definitions follow SageMaker Clarify's: for a facet value d (e.g. sex = Female) the comparison group a is
every other row. Pre-training: class imbalance CI = (n_a - n_d) / (n_a + n_d) and difference in proportions of
labels DPL = q_a - q_d. Post-training: disparate impact DI = q'_d / q'_a, difference in positive proportions
in predicted labels DPPL = q'_a - q'_d, and equal opportunity difference EOD = TPR_a - TPR_d (Clarify's "DCA"
family calls the last one "recall difference"; the sign convention is a minus d as for the others).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from pipeline_code import schema


def _ratio(num: float, den: float) -> float:
    return float(num / den) if den else float("nan")


def classification_metrics(label: np.ndarray, score: np.ndarray, threshold: float) -> dict[str, Any]:
    """AUC, accuracy, precision, recall, F1, log loss and the confusion matrix at ``threshold``."""
    from sklearn import metrics as skm  # lazily: the drift check's data-only path should not pay for sklearn

    predicted = (score >= threshold).astype(np.int8)
    tn, fp, fn, tp = (int(v) for v in skm.confusion_matrix(label, predicted, labels=[0, 1]).ravel())
    both_classes = np.unique(label).size == 2
    return {
        "auc": float(skm.roc_auc_score(label, score)) if both_classes else float("nan"),
        "accuracy": _ratio(tp + tn, tp + tn + fp + fn),
        "precision": _ratio(tp, tp + fp),
        "recall": _ratio(tp, tp + fn),
        "f1": _ratio(2 * tp, 2 * tp + fp + fn),
        "log_loss": float(skm.log_loss(label, np.clip(score, 1e-15, 1 - 1e-15), labels=[0, 1])),
        "confusion_matrix": {"tn": tn, "fp": fp, "fn": fn, "tp": tp},
        "threshold": threshold,
    }


def cost_optimal_threshold(label: np.ndarray, score: np.ndarray, fp_cost: float, fn_cost: float) -> dict[str, float]:
    """The threshold minimising expected cost, and that cost per 1,000 decisions.

    Every distinct score is a candidate (``roc_curve`` lists them all with drop_intermediate off), so the
    minimum is exact for this data, not a grid approximation.
    """
    from sklearn import metrics as skm

    fpr, tpr, thresholds = skm.roc_curve(label, score, drop_intermediate=False)
    negatives, positives = int((label == 0).sum()), int((label == 1).sum())
    cost = fpr * negatives * fp_cost + (1 - tpr) * positives * fn_cost
    best = int(np.argmin(cost))
    return {
        "threshold": float(min(thresholds[best], 1.0)),
        "expected_cost_per_1000": float(cost[best] / label.size * 1000),
        "false_positive_cost": fp_cost,
        "false_negative_cost": fn_cost,
    }


def facet_groups(facet_codes: np.ndarray, categories: list[str], min_count: int = 1) -> dict[str, np.ndarray]:
    """Row masks of each facet value present at least ``min_count`` times (d = the value, a = the rest)."""
    groups = {}
    for code, name in enumerate(categories):
        mask = facet_codes == code
        if mask.sum() >= min_count and (~mask).sum() >= min_count:
            groups[name] = mask
    return groups


def pretraining_bias(label: np.ndarray, d: np.ndarray) -> dict[str, float]:
    """Class imbalance and difference in proportions of labels for group mask ``d``."""
    a = ~d
    n_a, n_d = int(a.sum()), int(d.sum())
    return {
        "n_d": n_d,
        "n_a": n_a,
        "class_imbalance": _ratio(n_a - n_d, n_a + n_d),
        "difference_in_proportions_of_labels": float(label[a].mean() - label[d].mean()),
    }


def posttraining_bias(label: np.ndarray | None, predicted: np.ndarray, d: np.ndarray) -> dict[str, float]:
    """Disparate impact, DPPL and (with labels) equal opportunity difference for group mask ``d``."""
    a = ~d
    q_a, q_d = float(predicted[a].mean()), float(predicted[d].mean())
    result = {
        "disparate_impact": _ratio(q_d, q_a),
        "difference_in_positive_proportions_in_predicted_labels": q_a - q_d,
    }
    if label is not None:
        tpr_a = _ratio(float((predicted[a] & label[a]).sum()), float(label[a].sum()))
        tpr_d = _ratio(float((predicted[d] & label[d]).sum()), float(label[d].sum()))
        result["equal_opportunity_difference"] = tpr_a - tpr_d
    return result


def bias_report(
    features: np.ndarray, label: np.ndarray | None, score: np.ndarray, threshold: float, min_group: int = 1
) -> dict[str, Any]:
    """Bias figures per facet value; groups smaller than ``min_group`` rows are left out (too noisy)."""
    predicted = (score >= threshold).astype(np.int8)
    facets: dict[str, Any] = {}
    for facet in schema.FACETS:
        col = schema.column(facet)
        assert isinstance(col, schema.CategoricalColumn)
        codes = features[:, schema.FEATURE_NAMES.index(facet)]
        facets[facet] = {}
        for value, d in facet_groups(codes, list(col.categories), min_group).items():
            entry: dict[str, Any] = {"post_training": posttraining_bias(label, predicted, d)}
            if label is not None:
                entry["pre_training"] = pretraining_bias(label, d)
            facets[facet][value] = entry
    return {
        "threshold": threshold,
        "positive_label": schema.POSITIVE_LABEL,
        "facets": facets,
        "summary": bias_summary(facets),
    }


def bias_summary(facets: dict[str, Any]) -> dict[str, Any]:
    """The least favoured group: the lowest disparate impact across every facet value, for a pipeline gate.

    A single number is what a pipeline condition can compare with a threshold; the group names which one it is.
    """
    candidates = [
        (entry["post_training"]["disparate_impact"], f"{facet}={value}")
        for facet, values in facets.items()
        for value, entry in values.items()
        if math.isfinite(entry["post_training"]["disparate_impact"])
    ]
    if not candidates:
        return {"min_disparate_impact": None, "min_disparate_impact_group": None}
    value, group = min(candidates)
    return {"min_disparate_impact": value, "min_disparate_impact_group": group}
