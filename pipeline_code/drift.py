"""Step 7, drift check: compare a batch of new or captured data with the baseline, without Model Monitor.

Input is processed data (the layout the endpoint receives; a leading label column, e.g. merged ground truth,
is optional) streamed in record batches. Checks, each with a threshold argument:

- feature drift: numeric PSI over baseline-quantile bins, categorical Jensen-Shannon distance (effect sizes,
  valid at any batch size; exact KS and chi-square p-values are reported but never decide, because at a
  million rows they flag differences of no consequence);
- label drift: change of the positive rate, when labels are present;
- with ``--model`` and ``--reference`` (processed, labelled reference data such as the validation split):
  prediction drift (PSI of the score distribution), model-quality drift (AUC drop, when labels are present)
  and bias drift (change of each facet group's difference in positive proportions in predicted labels).

Writes ``drift_report.json`` (every statistic), ``violations.json`` and ``cloudwatch_metrics.json``
(``{"Namespace", "MetricData"}``, ready for ``cloudwatch.put_metric_data(**doc)``). Drift is a finding, not a
failure: the exit code is 0 unless ``--fail-on-violation`` is given (then 2).

Publishing, only once the outputs are written (a publish failure exits 1 and names the API):
``--publish-cloudwatch`` puts ``cloudwatch_metrics.json`` with ``PutMetricData`` (at most 1,000 datums a call);
``--publish-events`` (with ``--report-uri`` and ``--environment``) puts one EventBridge event when there are
violations: source ``mlops.monitoring``, detail type ``Drift Violations Report``.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from pipeline_code import aws, schema, stats, tabular
from pipeline_code.artifacts import atomic_output, read_json, write_json
from pipeline_code.cli import (
    PROCESSING_INPUT,
    PROCESSING_OUTPUT,
    add_limit_arguments,
    limits_from_args,
    run_step,
)
from pipeline_code.errors import DataValidationError, PipelineError
from pipeline_code.metrics import bias_report, classification_metrics

SCORE_BINS = np.linspace(0.0, 1.0, 11)
VIOLATION_EXIT_CODE = 2
MAX_METRIC_DATUMS = 1000  # PutMetricData's limit per request
EVENT_SOURCE = "mlops.monitoring"
EVENT_DETAIL_TYPE = "Drift Violations Report"


@dataclass(frozen=True)
class Thresholds:
    """Drift limits; the CDK config passes per-environment values as arguments."""

    numeric_psi: float = 0.2
    categorical_js: float = 0.1
    label_rate_change: float = 0.05
    prediction_psi: float = 0.2
    auc_drop: float = 0.05
    bias_dppl_change: float = 0.1
    min_facet_group: int = 100
    min_rows: int = 100
    decision_threshold: float = 0.5


@dataclass
class CurrentCounts:
    """Everything the feature and label checks need, counted batch by batch in the baseline's support."""

    baseline: dict[str, Any]
    numeric_buckets: dict[str, np.ndarray] = field(default_factory=dict)
    numeric_missing: dict[str, int] = field(default_factory=dict)
    categorical: dict[str, np.ndarray] = field(default_factory=dict)
    label_counts: np.ndarray = field(default_factory=lambda: np.zeros(2, dtype=np.int64))
    rows: int = 0
    labelled: bool = True

    def __post_init__(self) -> None:
        self._support = {
            name: stats.Support.of(np.asarray(spec["values"], dtype=np.float64))
            for name, spec in self.baseline["features"].items()
            if spec["kind"] == "numeric"
        }

    def add(self, batch: tabular.EncodedBatch) -> None:
        self.rows += batch.features.shape[0]
        for j, col in enumerate(schema.FEATURES):
            values = batch.features[:, j]
            if isinstance(col, schema.NumericColumn):
                buckets, missing = self._support[col.name].count(values)
                self.numeric_buckets[col.name] = self.numeric_buckets.get(col.name, 0) + buckets
                self.numeric_missing[col.name] = self.numeric_missing.get(col.name, 0) + missing
            else:
                counts = stats.category_counts(values, len(col.categories))
                self.categorical[col.name] = self.categorical.get(col.name, 0) + counts
        if batch.label is None:
            self.labelled = False
        else:
            self.label_counts += np.bincount(batch.label, minlength=2)


def feature_drift(counts: CurrentCounts, limits: Thresholds) -> dict[str, dict[str, Any]]:
    """Per-feature statistics and verdicts."""
    result: dict[str, dict[str, Any]] = {}
    for name, spec in counts.baseline["features"].items():
        if spec["kind"] == "numeric":
            ref = np.asarray(spec["counts"], dtype=np.float64)
            buckets = counts.numeric_buckets[name]
            ks, ks_p = stats.ks_test(ref, buckets)
            value = stats.numeric_psi(ref, buckets)
            result[name] = {
                "kind": "numeric",
                "method": "psi",
                "value": value,
                "threshold": limits.numeric_psi,
                "ks_statistic": ks,
                "ks_p_value": ks_p,
                "ks_exact": spec["exact"],  # False when the baseline's support was quantile-compressed
                "baseline_missing": spec["missing"],
                "current_missing": counts.numeric_missing[name],
            }
        else:
            ref = np.asarray([spec["missing"], *spec["counts"]], dtype=np.float64)
            js, cat_psi, chi2_p = stats.categorical_drift(ref, counts.categorical[name].astype(np.float64))
            result[name] = {
                "kind": "categorical",
                "method": "jensen_shannon",
                "value": js,
                "threshold": limits.categorical_js,
                "psi": cat_psi,
                "chi2_p_value": chi2_p,
            }
        result[name]["drift"] = bool(result[name]["value"] >= result[name]["threshold"])
    return result


def label_drift(counts: CurrentCounts, limits: Thresholds) -> dict[str, Any] | None:
    """Change of the positive rate against the baseline's, if the current data has labels."""
    if not counts.labelled:
        return None
    base = np.asarray(counts.baseline["label"]["counts"], dtype=np.float64)
    base_rate, cur_rate = base[1] / base.sum(), counts.label_counts[1] / counts.label_counts.sum()
    change = float(cur_rate - base_rate)
    return {
        "baseline_rate": float(base_rate),
        "current_rate": float(cur_rate),
        "change": change,
        "threshold": limits.label_rate_change,
        "drift": abs(change) >= limits.label_rate_change,
    }


@dataclass
class Scored:
    """Predictions of one data set with what model-level checks need (kept whole: 6 bytes per row)."""

    score: np.ndarray
    label: np.ndarray | None
    facets: np.ndarray  # facet codes, one column per schema.FACETS entry


def score_batches(batches: Iterable[tabular.EncodedBatch], booster: Any, counts: CurrentCounts | None) -> Scored:
    """Predict batch by batch (feeding ``counts`` on the way, so the current data is read once)."""
    from pipeline_code.train import predict_proba  # xgboost is imported only when a model is checked

    facet_cols = [schema.FEATURE_NAMES.index(f) for f in schema.FACETS]
    scores: list[np.ndarray] = []
    labels: list[np.ndarray | None] = []
    facets: list[np.ndarray] = []
    for batch in batches:
        if counts is not None:
            counts.add(batch)
        scores.append(predict_proba(booster, batch.features).astype(np.float32))
        labels.append(batch.label)
        facets.append(batch.features[:, facet_cols].astype(np.int8))
    return Scored(np.concatenate(scores), tabular.concat_labels(labels), np.concatenate(facets))


def _dppl_by_group(scored: Scored, limits: Thresholds) -> dict[str, float]:
    features = np.zeros((scored.score.size, len(schema.FEATURES)))
    for k, facet in enumerate(schema.FACETS):
        features[:, schema.FEATURE_NAMES.index(facet)] = scored.facets[:, k]
    report = bias_report(features, None, scored.score, limits.decision_threshold, limits.min_facet_group)
    return {
        f"{facet}={value}": groups["post_training"]["difference_in_positive_proportions_in_predicted_labels"]
        for facet, by_value in report["facets"].items()
        for value, groups in by_value.items()
    }


def model_drift(current: Scored, reference: Scored, limits: Thresholds) -> dict[str, Any]:
    """Prediction, model-quality and bias drift of the current data against the reference data."""
    ref_hist = np.histogram(reference.score, SCORE_BINS)[0]
    cur_hist = np.histogram(current.score, SCORE_BINS)[0]
    prediction_psi = stats.psi(ref_hist.astype(float), cur_hist.astype(float))
    result: dict[str, Any] = {
        "prediction": {
            "psi": prediction_psi,
            "threshold": limits.prediction_psi,
            "drift": bool(prediction_psi >= limits.prediction_psi),
        },
    }
    if current.label is not None and reference.label is not None:
        ref_q = classification_metrics(reference.label, reference.score, limits.decision_threshold)
        cur_q = classification_metrics(current.label, current.score, limits.decision_threshold)
        drop = ref_q["auc"] - cur_q["auc"]
        result["quality"] = {
            "reference": ref_q,
            "current": cur_q,
            "auc_drop": drop,
            "threshold": limits.auc_drop,
            "drift": bool(drop >= limits.auc_drop),
        }
    ref_bias, cur_bias = _dppl_by_group(reference, limits), _dppl_by_group(current, limits)
    result["bias"] = {
        group: {
            "reference_dppl": ref_bias[group],
            "current_dppl": cur_bias[group],
            "change": cur_bias[group] - ref_bias[group],
            "threshold": limits.bias_dppl_change,
            "drift": bool(abs(cur_bias[group] - ref_bias[group]) >= limits.bias_dppl_change),
        }
        for group in sorted(set(ref_bias) & set(cur_bias))
    }
    return result


def violations_of(report: dict[str, Any]) -> list[dict[str, Any]]:
    """One entry per check over its threshold, in a flat list an alarm or a retraining trigger can read."""
    found = [
        {
            "check": "feature_drift",
            "feature": name,
            "method": f["method"],
            "value": f["value"],
            "threshold": f["threshold"],
        }
        for name, f in report["features"].items()
        if f["drift"]
    ]
    label = report.get("label")
    if label and label["drift"]:
        found.append(
            {
                "check": "label_drift",
                "feature": schema.LABEL,
                "value": label["change"],
                "threshold": label["threshold"],
            }
        )
    model = report.get("model") or {}
    if model.get("prediction", {}).get("drift"):
        found.append(
            {
                "check": "prediction_drift",
                "value": model["prediction"]["psi"],
                "threshold": model["prediction"]["threshold"],
            }
        )
    if model.get("quality", {}).get("drift"):
        found.append(
            {
                "check": "model_quality_drift",
                "metric": "auc",
                "value": model["quality"]["auc_drop"],
                "threshold": model["quality"]["threshold"],
            }
        )
    found += [
        {"check": "bias_drift", "group": group, "value": b["change"], "threshold": b["threshold"]}
        for group, b in model.get("bias", {}).items()
        if b["drift"]
    ]
    return found


def cloudwatch_metrics(report: dict[str, Any], namespace: str, dimensions: dict[str, str]) -> dict[str, Any]:
    """The report's headline figures as ``put_metric_data`` arguments."""
    base = [{"Name": k, "Value": v} for k, v in sorted(dimensions.items())]

    def datum(name: str, value: float, **extra: str) -> dict[str, Any]:
        dims = base + [{"Name": k, "Value": v} for k, v in extra.items()]
        return {"MetricName": name, "Dimensions": dims, "Value": float(value), "Unit": "None"}

    data = [datum("FeatureDrift", f["value"], Feature=name) for name, f in report["features"].items()]
    data.append(datum("DriftViolations", len(report["violations"])))
    if report.get("label"):
        data.append(datum("LabelPositiveRate", report["label"]["current_rate"]))
    model = report.get("model") or {}
    if model:
        data.append(datum("PredictionDriftPSI", model["prediction"]["psi"]))
    if "quality" in model:
        data.append(datum("ModelAUC", model["quality"]["current"]["auc"]))
    data += [datum("BiasDPPLChange", b["change"], Group=g) for g, b in model.get("bias", {}).items()]
    return {"Namespace": namespace, "MetricData": data}


def drift_check(
    baseline: dict[str, Any],
    data: Path | str,
    limits: Thresholds,
    model: Path | str | None = None,
    reference: Path | str | None = None,
) -> dict[str, Any]:
    """Run every applicable check on the current data; returns the full report including ``violations``."""
    counts = CurrentCounts(baseline)
    batches = tabular.prefetched(tabular.iter_processed_batches(data))
    model_report = None
    if (model is None) != (reference is None):
        raise PipelineError("--model and --reference go together: model checks compare current with reference")
    if model is not None and reference is not None:
        from pipeline_code.train import load_model

        booster = load_model(model)
        current = score_batches(batches, booster, counts)
        model_report = model_drift(
            current, score_batches(tabular.iter_processed_batches(reference), booster, None), limits
        )
    else:
        for batch in batches:
            counts.add(batch)
    if counts.rows < limits.min_rows:
        raise DataValidationError(f"{data}: {counts.rows} row(s); a drift check needs at least {limits.min_rows}")
    report: dict[str, Any] = {
        "row_count": counts.rows,
        "baseline_row_count": baseline["row_count"],
        "thresholds": asdict(limits),
        "features": feature_drift(counts, limits),
        "label": label_drift(counts, limits),
        "model": model_report,
    }
    report["violations"] = violations_of(report)
    return report


def publish_metrics(cloudwatch: Any, document: dict[str, Any]) -> int:
    """Put the ``cloudwatch_metrics.json`` document, ``MAX_METRIC_DATUMS`` at a time; returns the calls made.

    A datum without a finite value (null in the file, e.g. the AUC of a window with one class) is left out:
    CloudWatch rejects the whole request for one NaN.
    """
    data = [d for d in document["MetricData"] if isinstance(d.get("Value"), int | float) and math.isfinite(d["Value"])]
    for start in range(0, len(data), MAX_METRIC_DATUMS):
        aws.call(
            cloudwatch,
            "PutMetricData",
            Namespace=document["Namespace"],
            MetricData=data[start : start + MAX_METRIC_DATUMS],
        )
    return -(-len(data) // MAX_METRIC_DATUMS)


def violations_event(environment: str, report_uri: str, violations: list[dict[str, Any]]) -> dict[str, Any]:
    """The EventBridge entry announcing a drift report with violations."""
    detail = {"environment": environment, "reportUri": report_uri, "violations": violations}
    return {"Source": EVENT_SOURCE, "DetailType": EVENT_DETAIL_TYPE, "Detail": json.dumps(detail)}


def publish_event(events: Any, entry: dict[str, Any]) -> None:
    """PutEvents of one entry; an entry EventBridge rejects is an error, like a failed call."""
    response = aws.call(events, "PutEvents", Entries=[entry])
    if response.get("FailedEntryCount"):
        failed = response["Entries"][0]
        raise PipelineError(f"PutEvents rejected the event: {failed.get('ErrorCode')} {failed.get('ErrorMessage')}")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", default=f"{PROCESSING_INPUT}/baseline/baseline.json")
    parser.add_argument("--data", default=f"{PROCESSING_INPUT}/data", help="processed CSV file or folder")
    parser.add_argument("--model", default=None, help="model folder: enables prediction, quality and bias drift")
    parser.add_argument("--reference", default=None, help="processed, labelled reference data for --model")
    parser.add_argument("--output", default=f"{PROCESSING_OUTPUT}/drift")
    parser.add_argument("--namespace", default="MLOps/Drift", help="CloudWatch namespace of the metric lines")
    parser.add_argument(
        "--dimension",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="extra CloudWatch dimension, e.g. ModelName=adult (repeatable)",
    )
    parser.add_argument("--fail-on-violation", action="store_true", help=f"exit {VIOLATION_EXIT_CODE} on drift")
    parser.add_argument("--publish-cloudwatch", action="store_true", help="put the metrics (PutMetricData)")
    parser.add_argument("--publish-events", action="store_true", help="put an EventBridge event on violations")
    parser.add_argument("--report-uri", default=None, help="S3 URI of the report, named in the event")
    parser.add_argument("--environment", default=None, help="environment name, in the event")
    parser.add_argument("--region", default=None)
    parser.add_argument("--endpoint-url", default=None)
    add_limit_arguments(parser, Thresholds())
    return parser.parse_args(argv)


def publish(args: argparse.Namespace, metrics: dict[str, Any], violations: list[dict[str, Any]]) -> None:
    """What the options ask to publish, after the outputs were written."""
    if args.publish_cloudwatch:
        calls = publish_metrics(aws.make_client("cloudwatch", args.endpoint_url, args.region), metrics)
        print(f"drift: {len(metrics['MetricData'])} metric(s) put to {metrics['Namespace']} in {calls} call(s)")
    if args.publish_events and violations:
        events = aws.make_client("events", args.endpoint_url, args.region)
        publish_event(events, violations_event(args.environment, args.report_uri, violations))
        print(f"drift: violations event put ({EVENT_SOURCE}, {EVENT_DETAIL_TYPE})")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    limits = limits_from_args(Thresholds, args)
    found: list[dict[str, Any]] = []

    def step() -> None:
        if args.publish_events and not (args.report_uri and args.environment):
            raise PipelineError("--publish-events needs --report-uri and --environment")
        dimensions = dict(d.split("=", 1) for d in args.dimension)
        report = drift_check(read_json(args.baseline), args.data, limits, args.model, args.reference)
        found.extend(report["violations"])
        metrics = cloudwatch_metrics(report, args.namespace, dimensions)
        with atomic_output(args.output) as out:
            write_json(out / "drift_report.json", report)
            write_json(out / "violations.json", {"violations": report["violations"]})
            write_json(out / "cloudwatch_metrics.json", metrics)
        verdict = "; ".join(f"{v['check']} {v.get('feature', v.get('group', ''))}".strip() for v in found)
        print(f"drift: {report['row_count']} rows, {len(found)} violation(s){': ' + verdict if found else ''}")
        publish(args, metrics, report["violations"])

    code = run_step(step, "drift")
    return VIOLATION_EXIT_CODE if code == 0 and found and args.fail_on_violation else code


if __name__ == "__main__":
    sys.exit(main())
