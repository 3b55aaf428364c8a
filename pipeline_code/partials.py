"""Partial results of a step run on a share of the data, and their exact merge.

One instance and N instances run the same code: each computes a *partial* of its rows (counts, sums, min/max,
exact distinct-value tallies, the first examples of each finding with their position), and the report is built
from the merge of the partials: the partials of one instance, or of every host of a sharded job. So the
report of N shards is the report of one instance, not an approximation of it:

- counts, sums, min/max, per-category counts and the label counts add up exactly;
- numeric distributions are exact distinct-value tallies (`stats.ValueCounter`), merged by adding counts, and
  quantile-compressed (`stats.compress`) only after the merge, as one instance compresses its own tally; no
  sketch is needed, so there is no error bound to state: the merged baseline is the one-instance baseline;
- examples ("first at file line") keep the position of each example's first occurrence: sorted by position, the
  first five distinct values of the merge are the first five of the whole data set (every shard keeps its own
  first five, and a value among the global first five is among its shard's first five);
- duplicates are counted from 64-bit hashes of the rows (pandas' `hash_pandas_object`), the same way on one
  instance as on N: two different rows count as one only on a hash collision (about n² / 2⁶⁵: 3·10⁻⁶ at 10 M rows).

Positions order as the whole input does (`tabular.data_files`: relative paths, then line), since sharding by S3
key gives each instance whole objects.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pipeline_code import schema, stats
from pipeline_code.artifacts import read_json, write_json
from pipeline_code.errors import DataValidationError

EXAMPLES = 5
VALIDATION_PART = "validation_part.json"
ROW_HASHES = "row_hashes.npy"
BASELINE_PART = "baseline_part.json"
LINEAGE_PART = "lineage_part.json"

# ------------------------------------------------------------------------------------------------ validation


def _finding(df: pd.DataFrame, mask: pd.Series, column: str) -> dict[str, Any] | None:
    """Count, first distinct examples (with the position of their first occurrence) and first position."""
    if not mask.any():
        return None
    hits = df.loc[mask, [column, "_key", "_file", "_line"]].drop_duplicates(subset=[column]).head(EXAMPLES)
    first = df.loc[mask].iloc[0]
    return {
        "count": int(mask.sum()),
        "first": [str(first["_key"]), int(first["_line"]), str(first["_file"])],
        "examples": [[str(r[column]), str(r["_key"]), int(r["_line"])] for r in hits.to_dict("records")],
    }


def validation_part(df: pd.DataFrame) -> tuple[dict[str, Any], np.ndarray]:
    """The mergeable summary of a share of the raw rows (all strings, with `_file`, `_key` and `_line`), and the
    64-bit hash of each row (duplicates are counted across shards from them)."""
    part: dict[str, Any] = {"rows": len(df), "files": sorted(df["_file"].unique().tolist()), "columns": {}}
    for col in schema.FEATURES:
        raw = df[col.raw_name]
        present = raw.notna() & (raw != schema.MISSING_TOKEN)
        entry: dict[str, Any] = {"present": int(present.sum())}
        if isinstance(col, schema.NumericColumn):
            numbers = pd.to_numeric(raw.where(present), errors="coerce")
            entry["bad_type"] = _finding(df, present & numbers.isna(), col.raw_name)
            entry["fractional"] = (
                _finding(df, numbers.notna() & (numbers != numbers.round()), col.raw_name)
                if col.feature_store_type == "Integral"
                else None
            )
            outside = numbers.notna() & ((numbers < col.minimum) | (numbers > col.maximum))
            entry["out_of_range"] = _finding(df, outside, col.raw_name)
            entry["min"] = float(numbers.min()) if numbers.notna().any() else None
            entry["max"] = float(numbers.max()) if numbers.notna().any() else None
        else:  # a learned column has no unseen value: every value is a category, or the model's "other"
            entry["unseen"] = None if col.learn else _finding(df, present & ~raw.isin(col.categories), col.raw_name)
            entry["distinct"] = sorted(raw[present].unique().tolist())
        part["columns"][col.name] = entry
    part["timestamps"] = {name: timestamp_finding(df, name) for name in schema.DATASET.timestamps if name in df}
    labels = df[schema.RAW_LABEL].str.rstrip(schema.LABEL_TRAILING_CHARS)
    bad = ~labels.isin(schema.LABEL_VALUES)
    part["label"] = {
        "bad": _finding(df, bad, schema.RAW_LABEL),
        "positive": int((labels == schema.POSITIVE_LABEL).sum()),
    }
    hashes = pd.util.hash_pandas_object(df[list(schema.RAW_COLUMNS)], index=False).to_numpy(dtype=np.uint64)
    return part, hashes


def timestamp_finding(df: pd.DataFrame, name: str) -> dict[str, Any] | None:
    """A timestamp column (carried, not a feature): its present values that are no ISO 8601 date or time."""
    raw = df[name]
    present = raw.notna() & (raw != "") & (raw != schema.MISSING_TOKEN)
    parsed = pd.to_datetime(raw.where(present), format="ISO8601", errors="coerce", utc=True)
    return _finding(df, present & parsed.isna(), name)


def timestamp_violations(name: str, findings: Iterable[dict[str, Any] | None]) -> list[str]:
    """The violation of a timestamp column, from its findings on every share."""
    bad = _merged_finding(findings)
    return [_message(name, bad, "value(s) that are no ISO 8601 timestamp")] if bad else []


def write_validation_part(out: Path, part: dict[str, Any], hashes: np.ndarray) -> None:
    write_json(out / VALIDATION_PART, part)
    np.save(out / ROW_HASHES, hashes)


def read_validation_parts(root: Path | str) -> list[tuple[dict[str, Any], np.ndarray]]:
    """Every host's part under ``root`` (the merge step's input: ``<root>/<host>/validation_part.json``)."""
    from pipeline_code.shards import part_folders

    return [
        (read_json(folder / VALIDATION_PART), np.load(folder / ROW_HASHES))
        for folder in part_folders(root, VALIDATION_PART)
    ]


def _merged_finding(findings: Iterable[dict[str, Any] | None]) -> dict[str, Any] | None:
    found = [f for f in findings if f]
    if not found:
        return None
    examples: list[str] = []
    for value, _, _ in sorted((e for f in found for e in f["examples"]), key=lambda e: (e[1], e[2])):
        if value not in examples:
            examples.append(value)
    first = min((f["first"] for f in found), key=lambda p: (p[0], p[1]))
    return {
        "count": sum(f["count"] for f in found),
        "examples": examples[:EXAMPLES],
        "where": f"{first[2]} line {first[1]}",
    }


def _message(raw_name: str, finding: dict[str, Any], what: str) -> str:
    return f"column '{raw_name}': {finding['count']} {what} {finding['examples']} (first at {finding['where']})"


def validation_report(parts: list[tuple[dict[str, Any], np.ndarray]], limits: Any) -> dict[str, Any]:
    """The validation report of the merged parts (``violations`` empty when the data passed): the same checks,
    limits and messages as `validate.validate_frame` had on the whole data in one frame."""
    rows = sum(p["rows"] for p, _ in parts)
    if rows < limits.min_rows:
        raise DataValidationError(f"no data: {rows} row(s), at least {limits.min_rows} required")
    violations: list[str] = []
    columns: dict[str, dict[str, Any]] = {}
    for col in schema.FEATURES:
        entries = [p["columns"][col.name] for p, _ in parts]
        missing_ratio = 1.0 - sum(e["present"] for e in entries) / rows
        columns[col.name] = {"missing_ratio": round(missing_ratio, 6)}
        if missing_ratio == 1.0:
            violations.append(f"column '{col.raw_name}': every value is missing")
            continue
        if missing_ratio > limits.max_missing_ratio:
            violations.append(
                f"column '{col.raw_name}': missing ratio {missing_ratio:.4f} exceeds {limits.max_missing_ratio}"
            )
        if isinstance(col, schema.NumericColumn):
            if bad := _merged_finding(e["bad_type"] for e in entries):
                violations.append(_message(col.raw_name, bad, "non-numeric value(s)"))
            if fractional := _merged_finding(e["fractional"] for e in entries):
                violations.append(_message(col.raw_name, fractional, "non-whole value(s)"))
            if outside := _merged_finding(e["out_of_range"] for e in entries):
                violations.append(_message(col.raw_name, outside, f"value(s) outside [{col.minimum}, {col.maximum}]"))
            lows = [e["min"] for e in entries if e["min"] is not None]
            highs = [e["max"] for e in entries if e["max"] is not None]
            if lows:
                columns[col.name].update({"min": min(lows), "max": max(highs)})
        else:
            if unseen := _merged_finding(e["unseen"] for e in entries):
                violations.append(_message(col.raw_name, unseen, "value(s) in unseen categories"))
            columns[col.name]["distinct"] = len(set().union(*(e["distinct"] for e in entries)))
    for name in schema.DATASET.timestamps:
        violations += timestamp_violations(name, (p["timestamps"].get(name) for p, _ in parts))
    bad_label = _merged_finding(p["label"]["bad"] for p, _ in parts)
    positive_share = float("nan")
    if bad_label:
        violations.append(
            f"label '{schema.RAW_LABEL}': {bad_label['count']} value(s) outside {list(schema.LABEL_VALUES)} "
            f"{bad_label['examples']} (first at {bad_label['where']})"
        )
    else:
        positive_share = sum(p["label"]["positive"] for p, _ in parts) / rows
        if min(positive_share, 1 - positive_share) < limits.min_minority_share:
            violations.append(
                f"label '{schema.RAW_LABEL}': minority class share {min(positive_share, 1 - positive_share):.4f} "
                f"is below {limits.min_minority_share}"
            )
    distinct_rows = np.unique(np.concatenate([h for _, h in parts])).size
    duplicate_ratio = (rows - distinct_rows) / rows
    if duplicate_ratio > limits.max_duplicate_ratio:
        violations.append(f"duplicate rows: ratio {duplicate_ratio:.4f} exceeds {limits.max_duplicate_ratio}")
    return {
        "row_count": rows,
        "files": sorted(set().union(*(p["files"] for p, _ in parts))),
        "columns": columns,
        "duplicate_ratio": round(duplicate_ratio, 6),
        "label_positive_share": positive_share,
        "limits": asdict(limits),
        "violations": violations,
    }


# -------------------------------------------------------------------------------------------- baseline


def baseline_part(
    numeric: dict[str, stats.ValueCounter], categorical: dict[str, np.ndarray], label_counts: np.ndarray, rows: int
) -> dict[str, Any]:
    """The train split's exact tallies on this share: distinct numeric values with counts, category counts."""
    part: dict[str, Any] = {"rows": rows, "label_counts": label_counts.astype(int).tolist(), "numeric": {}}
    for name, counter in numeric.items():
        values, counts = counter.result()
        part["numeric"][name] = {
            "missing": counter.missing,
            "values": values.tolist(),
            "counts": counts.astype(int).tolist(),
        }
    part["categorical"] = {name: counts.astype(int).tolist() for name, counts in categorical.items()}
    return part


def read_parts(root: Path | str, file_name: str) -> list[dict[str, Any]]:
    from pipeline_code.shards import part_folders

    return [read_json(folder / file_name) for folder in part_folders(root, file_name)]


def merge_numeric(parts: list[dict[str, Any]]) -> tuple[np.ndarray, np.ndarray, int]:
    """Exact merge of distinct-value tallies: sorted distinct values, summed counts, summed missing."""
    values = np.concatenate([np.asarray(p["values"], dtype=np.float64) for p in parts])
    counts = np.concatenate([np.asarray(p["counts"], dtype=np.int64) for p in parts])
    missing = sum(int(p["missing"]) for p in parts)
    if not values.size:
        return values, counts, missing
    distinct, inverse = np.unique(values, return_inverse=True)
    return distinct, np.bincount(inverse, weights=counts).astype(np.int64), missing


def baseline_document(
    parts: list[dict[str, Any]], max_distinct: int, categories: dict[str, tuple[str, ...]] | None = None
) -> dict[str, Any]:
    """The baseline (`preprocess`'s ``baseline.json``) of the merged parts; stops, as preprocessing does, when
    there is no train row or a feature has no value at all. ``categories``: each categorical feature's categories
    as the manifest codes them (a learned column's); default the contract's."""
    from pipeline_code.preprocess import numeric_summary

    rows = sum(int(p["rows"]) for p in parts)
    if not rows:
        raise DataValidationError("no data rows in the input")
    features: dict[str, Any] = {}
    empty = []
    for col in schema.FEATURES:
        if isinstance(col, schema.NumericColumn):
            values, counts, missing = merge_numeric([p["numeric"][col.name] for p in parts])
            exact = values.size <= max_distinct
            values, counts = stats.compress(values, counts, max_distinct)
            features[col.name] = numeric_summary(values, counts, missing, exact)
        else:
            names = (categories or {}).get(col.name, col.categories)
            size = len(names) + 1
            total = np.zeros(size, dtype=np.int64)
            for p in parts:
                if col.name in p["categorical"]:
                    total += np.asarray(p["categorical"][col.name], dtype=np.int64)
            missing = int(total[0])
            features[col.name] = {
                "kind": "categorical",
                "categories": list(names),
                "missing": missing,
                "counts": total[1:].astype(int).tolist(),
            }
        if features[col.name]["missing"] == rows:
            empty.append(col.raw_name)
    if empty:
        raise DataValidationError([f"column '{name}': every value is missing" for name in empty])
    label = np.sum([np.asarray(p["label_counts"], dtype=np.int64) for p in parts], axis=0)
    return {
        "source": "train split",
        "row_count": rows,
        "label": {"name": schema.LABEL, "counts": label.astype(int).tolist()},
        "features": features,
    }


# --------------------------------------------------------------------------------------------- lineage


def merge_lineage(parts: list[dict[str, Any]]) -> dict[str, Any]:
    """One lineage document from every share's: the files in input order (relative keys), one combined digest
    over all of them, computed as one instance computes it (`preprocess.input_lineage`)."""
    import hashlib

    uris = {p["manifest_uri"] for p in parts}
    if len(uris) > 1:
        raise DataValidationError(f"the shards name different data snapshots: {sorted(map(str, uris))}")
    files = sorted((f for p in parts for f in p["input"]["files"]), key=lambda f: f["key"])
    combined = hashlib.sha256()
    for f in files:
        combined.update(f"{f['key']}\0{f['sha256']}\n".encode())
    return {"manifest_uri": uris.pop(), "input": {"sha256": combined.hexdigest(), "files": files}}
