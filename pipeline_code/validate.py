"""Step 1, validate: check raw data against the schema and configured limits before anything is trained on it.

Every problem is collected (not just the first), so one failed run tells the data owner all that is wrong.
On success it writes ``validation_report.json``; on any violation it writes nothing and exits non-zero with
a message naming each violation (column, value, file and line).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa

from pipeline_code import schema, tabular
from pipeline_code.artifacts import atomic_output, write_json
from pipeline_code.cli import (
    PROCESSING_INPUT,
    PROCESSING_OUTPUT,
    add_limit_arguments,
    limits_from_args,
    run_step,
)
from pipeline_code.errors import DataValidationError

EXAMPLES = 5


@dataclass(frozen=True)
class Limits:
    """Configured limits; the CDK config passes per-environment values as arguments."""

    max_missing_ratio: float = 0.10
    max_duplicate_ratio: float = 0.01
    min_minority_share: float = 0.05
    min_rows: int = 1


def load_raw_strings(paths: list[Path]) -> pd.DataFrame:
    """All rows of all files as strings (no typing yet: wrong types are findings, not crashes).

    Adds ``_file`` and ``_line`` (1-based line in the file, counting a header or comment line) so messages can
    point at rows.
    """
    frames = []
    for path in paths:
        first_data_line = tabular.raw_layout(path).skip_rows + 1
        batches = list(tabular.iter_raw_batches(path, all_strings=True))
        if not batches:
            frames.append(pd.DataFrame(columns=[*schema.RAW_COLUMNS, "_file", "_line"]))
            continue
        df = pa.Table.from_batches(batches).to_pandas()
        df = df.apply(lambda s: s.str.strip())
        df["_file"] = path.name
        df["_line"] = range(first_data_line, len(df) + first_data_line)
        frames.append(df)
    return pd.concat(frames, ignore_index=True)


def _where(df: pd.DataFrame, mask: pd.Series) -> str:
    first = df.loc[mask].iloc[0]
    return f"{first['_file']} line {first['_line']}"


def _examples(values: pd.Series) -> list[str]:
    return [str(v) for v in values.drop_duplicates().head(EXAMPLES)]


def check_numeric(
    df: pd.DataFrame, col: schema.NumericColumn, present: pd.Series
) -> tuple[list[str], dict[str, float]]:
    """Type, whole-number and range checks of one numeric column."""
    raw = df[col.raw_name]
    numbers = pd.to_numeric(raw.where(present), errors="coerce")
    violations = []
    bad_type = present & numbers.isna()
    if bad_type.any():
        violations.append(
            f"column '{col.raw_name}': {int(bad_type.sum())} non-numeric value(s) {_examples(raw[bad_type])} "
            f"(first at {_where(df, bad_type)})"
        )
    if col.feature_store_type == "Integral":
        fractional = numbers.notna() & (numbers != numbers.round())
        if fractional.any():
            violations.append(
                f"column '{col.raw_name}': {int(fractional.sum())} non-whole value(s) "
                f"{_examples(raw[fractional])} (first at {_where(df, fractional)})"
            )
    out_of_range = numbers.notna() & ((numbers < col.minimum) | (numbers > col.maximum))
    if out_of_range.any():
        violations.append(
            f"column '{col.raw_name}': {int(out_of_range.sum())} value(s) "
            f"outside [{col.minimum}, {col.maximum}] "
            f"{_examples(raw[out_of_range])} (first at {_where(df, out_of_range)})"
        )
    stats = {"min": float(numbers.min()), "max": float(numbers.max())} if numbers.notna().any() else {}
    return violations, stats


def check_categorical(df: pd.DataFrame, col: schema.CategoricalColumn, present: pd.Series) -> list[str]:
    """Values outside the allowed categories (the model has no code for them); a learned column has none: every
    value is a category, or the model's "other"."""
    if col.learn:
        return []
    unseen = present & ~df[col.raw_name].isin(col.categories)
    if not unseen.any():
        return []
    return [
        f"column '{col.raw_name}': {int(unseen.sum())} value(s) in unseen categories "
        f"{_examples(df.loc[unseen, col.raw_name])} (first at {_where(df, unseen)})"
    ]


def check_timestamp(df: pd.DataFrame, name: str) -> list[str]:
    """A timestamp column (carried, not a feature): every present value must be an ISO 8601 date or time."""
    raw = df[name]
    present = raw.notna() & (raw != "") & (raw != schema.MISSING_TOKEN)
    parsed = pd.to_datetime(raw.where(present), format="ISO8601", errors="coerce", utc=True)
    bad = present & parsed.isna()
    if not bad.any():
        return []
    return [
        f"column '{name}': {int(bad.sum())} value(s) that are no ISO 8601 timestamp {_examples(raw[bad])} "
        f"(first at {_where(df, bad)})"
    ]


def check_label(df: pd.DataFrame, limits: Limits) -> tuple[list[str], float]:
    """Label values (a trailing dot, as in the test file, is accepted) and class balance."""
    labels = df[schema.RAW_LABEL].str.rstrip(schema.LABEL_TRAILING_CHARS)
    bad = ~labels.isin(schema.LABEL_VALUES)
    if bad.any():
        return [
            f"label '{schema.RAW_LABEL}': {int(bad.sum())} value(s) outside {list(schema.LABEL_VALUES)} "
            f"{_examples(df.loc[bad, schema.RAW_LABEL])} (first at {_where(df, bad)})"
        ], float("nan")
    share = float((labels == schema.POSITIVE_LABEL).mean())
    if min(share, 1 - share) < limits.min_minority_share:
        return [
            f"label '{schema.RAW_LABEL}': minority class share {min(share, 1 - share):.4f} is below "
            f"{limits.min_minority_share}"
        ], share
    return [], share


def validate_frame(df: pd.DataFrame, limits: Limits) -> dict[str, Any]:
    """All checks on loaded data; returns the report (``violations`` empty when the data passed)."""
    violations: list[str] = []
    rows = len(df)
    if rows < limits.min_rows:
        raise DataValidationError(f"no data: {rows} row(s), at least {limits.min_rows} required")
    columns: dict[str, dict[str, Any]] = {}
    for col in schema.FEATURES:
        present = df[col.raw_name].notna() & (df[col.raw_name] != schema.MISSING_TOKEN)
        missing_ratio = 1.0 - float(present.mean())
        columns[col.name] = {"missing_ratio": round(missing_ratio, 6)}
        if missing_ratio == 1.0:
            violations.append(f"column '{col.raw_name}': every value is missing")
            continue
        if missing_ratio > limits.max_missing_ratio:
            violations.append(
                f"column '{col.raw_name}': missing ratio {missing_ratio:.4f} exceeds {limits.max_missing_ratio}"
            )
        if isinstance(col, schema.NumericColumn):
            found, stats = check_numeric(df, col, present)
            columns[col.name].update(stats)
        else:
            found = check_categorical(df, col, present)
            columns[col.name]["distinct"] = int(df.loc[present, col.raw_name].nunique())
        violations += found
    for name in schema.DATASET.timestamps:
        if name in df.columns:
            violations += check_timestamp(df, name)
    label_violations, positive_share = check_label(df, limits)
    violations += label_violations
    duplicate_ratio = float(df.duplicated(subset=list(schema.RAW_COLUMNS)).mean())
    if duplicate_ratio > limits.max_duplicate_ratio:
        violations.append(f"duplicate rows: ratio {duplicate_ratio:.4f} exceeds {limits.max_duplicate_ratio}")
    return {
        "row_count": rows,
        "files": sorted(df["_file"].unique().tolist()),
        "columns": columns,
        "duplicate_ratio": round(duplicate_ratio, 6),
        "label_positive_share": positive_share,
        "limits": asdict(limits),
        "violations": violations,
    }


def validate(paths: list[Path], limits: Limits) -> dict[str, Any]:
    """Load and check; raise ``DataValidationError`` listing every violation, else return the report."""
    report = validate_frame(load_raw_strings(paths), limits)
    if report["violations"]:
        raise DataValidationError(report["violations"])
    return report


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--input", default=f"{PROCESSING_INPUT}/data", help="raw CSV file or folder")
    parser.add_argument("--output", default=f"{PROCESSING_OUTPUT}/validation", help="report folder")
    parser.add_argument(
        "--manifest-uri",
        help="the data snapshot (ManifestFile) that delivered --input: every file there must then be a data file",
    )
    add_limit_arguments(parser, Limits())
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    limits = limits_from_args(Limits, args)

    def step() -> None:
        paths = tabular.data_files(args.input, strict=args.manifest_uri is not None)
        report = validate(paths, limits)
        with atomic_output(args.output) as out:
            write_json(
                out / "validation_report.json", {"status": "passed", "manifest_uri": args.manifest_uri, **report}
            )
        print(f"validate: {report['row_count']} rows passed every check")

    return run_step(step, "validate")


if __name__ == "__main__":
    sys.exit(main())
