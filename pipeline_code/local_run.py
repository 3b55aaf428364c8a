"""Run the ML pipeline on this machine: validate, preprocess, train, evaluate, bias/explainability, drift.

Each step is called through its own ``main(argv)`` with local paths, i.e. exactly as a SageMaker job would
run it, so a green local run exercises the container entry points. Every artifact lands under ``--out``.
``--shift`` also runs the drift check on shifted copies of the test split (see ``shifts``) to show drift
being found. Feature Store writes are left out: they need an endpoint (see ``feature_records``).

    python -m pipeline_code.local_run --out local-run/
    python -m pipeline_code.local_run --out local-run/ --shift            # all scenarios
    python -m pipeline_code.local_run --out local-run/ --shift tail       # or any name in shifts.SCENARIOS

Every drift run writes ``report.html`` beside its JSON (``local-run/drift/<scenario>/report.html``).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pipeline_code import bias_explain, drift, evaluate, preprocess, schema, shifts, tabular, train, validate
from pipeline_code.artifacts import read_json

DEFAULT_DATA = Path(__file__).resolve().parent.parent / "data" / schema.DATASET.name  # the active data set's files


def _run(name: str, entry: Callable[[list[str]], int], argv: list[str]) -> None:
    started = time.perf_counter()
    code = entry(argv)
    if code != 0:
        raise SystemExit(f"local run stopped: step '{name}' exited with {code}")
    print(f"  [{name}: {time.perf_counter() - started:.1f} s]")


def write_shifted(test_dir: Path, out_dir: Path, scenario: str) -> Path:
    """A shifted copy of the processed test split."""
    return tabular.save_processed(out_dir / f"{scenario}.csv", shifts.shift(tabular.read_processed(test_dir), scenario))


def run_pipeline(data: Path, out: Path, scenarios: list[str], explain_rows: int | None = None) -> dict[str, Any]:
    """All steps in order; returns the paths of the reports the summary reads. ``explain_rows``: the SHAP sample of
    ``bias_explain`` (default: the step's own)."""
    pre, model = out / "preprocess", out / "model"
    _run("validate", validate.main, ["--input", str(data), "--output", str(out / "validation")])
    _run("preprocess", preprocess.main, ["--input", str(data), "--output", str(pre)])
    _run(
        "train",
        train.main,
        [
            *("--train", str(pre / "train"), "--validation", str(pre / "validation")),
            *("--manifest", str(pre / "manifest"), "--model-dir", str(model)),
        ],
    )
    _run(
        "evaluate",
        evaluate.main,
        ["--model", str(model), "--test", str(pre / "test"), "--output", str(out / "evaluation")],
    )
    _run(
        "bias_explain",
        bias_explain.main,
        ["--model", str(model), "--data", str(pre / "test"), "--output", str(out / "bias")]
        + (["--max-explain-rows", str(explain_rows)] if explain_rows else []),
    )
    currents = {"unshifted": pre / "test"}
    currents |= {s: write_shifted(pre / "test", out / "shifted", s) for s in scenarios}
    for name, current in currents.items():
        _run(
            f"drift ({name})",
            drift.main,
            [
                "--baseline",
                str(pre / "baseline" / "baseline.json"),
                "--data",
                str(current),
                "--model",
                str(model),
                "--reference",
                str(pre / "validation"),
                "--output",
                str(out / "drift" / name),
            ],
        )
    return {"out": out, "drift": list(currents)}


def summary(out: Path, drift_runs: list[str]) -> str:
    """A few lines a person reads: metrics, top features, bias figures, drift verdicts."""
    ev = read_json(out / "evaluation" / "evaluation.json")
    m = ev["binary_classification_metrics"]
    business = ev["business_metric"]
    lines = [
        f"artifacts: {out}",
        "model (test split): " + ", ".join(f"{k} {m[k]['value']:.3f}" for k in evaluate.REPORTED),
        f"business: {business['expected_cost_per_1000']:.1f} expected cost per 1,000 decisions at threshold "
        f"{business['threshold']:.3f} (FP cost {business['false_positive_cost']:g}, "
        f"FN cost {business['false_negative_cost']:g})",
    ]
    explain = read_json(out / "bias" / "explainability.json")
    lines.append(
        "top features (mean |SHAP|): "
        + ", ".join(f"{f['name']} {f['mean_abs_shap']:.3f}" for f in explain["features"][:5])
    )
    bias = read_json(out / "bias" / "bias_report.json")
    for facet, groups in bias["facets"].items():
        lines.append(
            f"bias {facet}: "
            + "; ".join(
                f"{value} DI {g['post_training']['disparate_impact']:.2f} "
                f"DPL {g['pre_training']['difference_in_proportions_of_labels']:+.3f} "
                f"EOD {g['post_training']['equal_opportunity_difference']:+.3f}"
                for value, g in groups.items()
            )
        )
    for name in drift_runs:
        found = read_json(out / "drift" / name / "violations.json")["violations"]
        what = ", ".join(f"{v['check']}({v.get('feature', v.get('group', ''))}={v['value']:.3f})" for v in found)
        lines.append(f"drift [{name}]: " + (f"DRIFT: {what}" if found else "no violation"))
    if drift_runs:
        lines.append(f"drift reports: {out / 'drift' / '<run>' / 'report.html'} (open in a browser)")
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="local-run", help="folder for every artifact")
    parser.add_argument("--data", default=str(DEFAULT_DATA), help="raw CSV file or folder (MLOPS_DATASET)")
    parser.add_argument(
        "--shift",
        nargs="?",
        const="all",
        choices=[*shifts.SCENARIOS, "all"],
        default=None,
        help="also check shifted copies of the test split (default with no value: all)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    scenarios = [] if args.shift is None else list(shifts.SCENARIOS) if args.shift == "all" else [args.shift]
    started = time.perf_counter()
    result = run_pipeline(Path(args.data), Path(args.out), scenarios)
    print(f"\n== local run finished in {time.perf_counter() - started:.1f} s ==")
    print(summary(result["out"], result["drift"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
