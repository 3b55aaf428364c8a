"""Batch inference, step 1: raw Adult-format CSV to the features the model's batch transform scores.

Input: raw files as the lake receives them (a header line, the schema's feature columns in any order, the
label column ``Y`` optional). Schema problems stop the step as the validate step reports them (a missing or
unexpected column, a wrong type, a value out of range, an unseen category), naming the file, the column and
the first line. Rows are encoded exactly as preprocess encodes them (``tabular``) and written in input order.

Outputs: ``features.csv`` (processed layout without the label: no header, the features in schema order,
categories as codes, one line per input row, so transform output line N belongs to input row N) and
``manifest.json`` (row count, size and SHA-256 of each input file, how many labels were dropped).
Point the transform at ``.../features.csv`` itself, not at the folder, so the manifest is not scored.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from pipeline_code import schema, tabular, validate
from pipeline_code.artifacts import atomic_output, write_json
from pipeline_code.cli import PROCESSING_INPUT, PROCESSING_OUTPUT, run_step
from pipeline_code.errors import DataValidationError
from pipeline_code.preprocess import input_lineage

FEATURE_RAW_NAMES = tuple(c.raw_name for c in schema.FEATURES)


def read_feature_header(path: Path) -> list[str]:
    """The header of a raw file: every feature column, the label optional, nothing else."""
    first = tabular._first_line(path)
    if not first:
        raise DataValidationError(f"{path.name}: file is empty (no header line)")
    names = [n.strip() for n in first.split(",")]
    problems = [f"{path.name}: missing column '{c}'" for c in FEATURE_RAW_NAMES if c not in names]
    problems += [f"{path.name}: unexpected column '{n}'" for n in names if n not in schema.RAW_COLUMNS]
    if len(set(names)) != len(names):
        problems.append(f"{path.name}: duplicate column names in header")
    if problems:
        raise DataValidationError(problems)
    return names


def iter_feature_batches(path: Path) -> Iterator[pa.RecordBatch]:
    """Typed record batches of a raw file with or without its label column."""
    names = read_feature_header(path)
    try:
        for batch in tabular._raw_reader(path, names, all_strings=False):
            if batch.num_rows:
                yield batch
    except pa.ArrowInvalid as err:
        if "conversion error" in str(err) and (problems := type_problems(path, names)):
            raise DataValidationError(problems) from err
        raise tabular._describe_arrow_error(path, err, names) from err


def type_problems(path: Path, names: list[str]) -> list[str]:
    """On a typed read's conversion error only: the validate step's numeric checks over the file as strings,
    which name the column, the values and the first line (the fast typed read knows none of them)."""
    batches = list(tabular._raw_reader(path, names, all_strings=True))
    frame = pa.Table.from_batches(batches).to_pandas().apply(lambda s: s.str.strip())
    frame["_file"], frame["_line"] = path.name, range(2, len(frame) + 2)
    problems: list[str] = []
    for col in schema.FEATURES:
        if isinstance(col, schema.NumericColumn):
            present = frame[col.raw_name].notna() & (frame[col.raw_name] != schema.MISSING_TOKEN)
            problems += [f"{path.name}: {p}" for p in validate.check_numeric(frame, col, present)[0]]
    return problems


def _first_line_of(mask: np.ndarray, first_line: int) -> int:
    return first_line + int(np.flatnonzero(mask)[0])


def encode_features(batch: pa.RecordBatch, where: str, first_line: int) -> np.ndarray:
    """Features in model layout, encoded as preprocess does; out-of-range values are errors naming the line."""
    matrix = np.empty((batch.num_rows, len(schema.FEATURES)), dtype=np.float64, order="F")
    problems: list[str] = []
    for j, col in enumerate(schema.FEATURES):
        column = batch.column(col.raw_name)
        if isinstance(col, schema.CategoricalColumn):
            matrix[:, j] = tabular.encode_categories(column, col, where)
            continue
        values = column.to_numpy(zero_copy_only=False).astype(np.float64)
        outside = ~np.isnan(values) & ((values < col.minimum) | (values > col.maximum))
        if outside.any():
            examples = sorted({float(v) for v in values[outside]})[:5]
            problems.append(
                f"{where}: column '{col.raw_name}': {int(outside.sum())} value(s) outside "
                f"[{col.minimum}, {col.maximum}] {examples} (first at line {_first_line_of(outside, first_line)})"
            )
        matrix[:, j] = values
    if problems:
        raise DataValidationError(problems)
    return matrix


def prepare(paths: list[Path], features_csv: Path) -> dict[str, int]:
    """Stream every file into ``features_csv``; returns the row count and the number of labels dropped."""
    rows = labels = 0
    features_csv.parent.mkdir(parents=True, exist_ok=True)
    with features_csv.open("wb") as out:
        for path in paths:
            line = 2  # the header is line 1
            for batch in tabular.prefetched(iter_feature_batches(path)):
                matrix = encode_features(batch, path.name, line)
                out.write(tabular.processed_csv(tabular.EncodedBatch(matrix, None)))
                if schema.RAW_LABEL in batch.schema.names:  # a present label (not empty, not '?') is dropped
                    labels += batch.num_rows - batch.column(schema.RAW_LABEL).null_count
                rows += batch.num_rows
                line += batch.num_rows
    if not rows:
        raise DataValidationError("no data rows in the input")
    return {"rows": rows, "labels_dropped": labels}


def manifest(counts: dict[str, int], paths: list[Path]) -> dict[str, Any]:
    return {
        "layout": "csv, no header, features only (schema order, categories as codes)",
        "features": list(schema.FEATURE_NAMES),
        **counts,
        **input_lineage(paths),
    }


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--input", default=f"{PROCESSING_INPUT}/data", help="raw CSV file or folder")
    parser.add_argument("--output", default=f"{PROCESSING_OUTPUT}/features", help="folder for features.csv")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)

    def step() -> None:
        paths = tabular.data_files(args.input)
        with atomic_output(args.output) as out:
            counts = prepare(paths, out / "features.csv")
            write_json(out / "manifest.json", manifest(counts, paths))
        print(f"batch_prepare: {counts['rows']} row(s) prepared, {counts['labels_dropped']} label(s) dropped")

    return run_step(step, "batch_prepare")


if __name__ == "__main__":
    sys.exit(main())
