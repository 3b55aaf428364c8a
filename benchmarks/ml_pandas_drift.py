"""A plain pandas drift check, the comparison point for ``pipeline_code.drift`` in ``bench_ml_steps.py``.

Same criteria as the pipeline's check (numeric PSI over reference-decile bins, categorical Jensen-Shannon
distance, same thresholds), written the straightforward way: load both files whole with ``pandas.read_csv``
and use ``value_counts`` / ``pd.cut``. Prints one JSON object: per-feature value and verdict.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.spatial.distance import jensenshannon

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from pipeline_code import schema  # standard library only

EPS = 1e-4


def _psi(expected: pd.Series, actual: pd.Series) -> float:
    e = np.maximum(expected / expected.sum(), EPS)
    a = np.maximum(actual / actual.sum(), EPS)
    return float(np.sum((a - e) * np.log(a / e)))


def drift(reference: pd.DataFrame, current: pd.DataFrame, psi_limit: float, js_limit: float) -> dict:
    result = {}
    for name in schema.FEATURE_NAMES:
        ref, cur = reference[name], current[name]
        if name in schema.NUMERIC_FEATURES:
            edges = np.unique(np.quantile(ref, np.linspace(0, 1, 11)[1:-1]))
            bins = np.concatenate([[-np.inf], edges, [np.inf]])
            e = pd.cut(ref, bins).value_counts(sort=False)
            a = pd.cut(cur, bins).value_counts(sort=False)
            value, limit = _psi(e, a), psi_limit
        else:
            e = ref.value_counts()
            a = cur.value_counts().reindex(e.index.union(cur.unique()), fill_value=0)
            e = e.reindex(a.index, fill_value=0)
            value, limit = float(jensenshannon(e / e.sum(), a / a.sum())), js_limit
        result[name] = {"value": value, "drift": value >= limit}
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference", required=True, help="processed CSV (label first)")
    parser.add_argument("--current", required=True, help="processed CSV (label first)")
    parser.add_argument("--numeric-psi", type=float, default=0.2)
    parser.add_argument("--categorical-js", type=float, default=0.1)
    args = parser.parse_args()
    names = [schema.LABEL, *schema.FEATURE_NAMES]
    reference = pd.read_csv(args.reference, header=None, names=names)
    current = pd.read_csv(args.current, header=None, names=names)
    report = drift(reference, current, args.numeric_psi, args.categorical_js)
    print(json.dumps({"rows": len(current), "features": report}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
