"""Step 1, validate: check raw data against the schema and configured limits before anything is trained on it.

Every problem is collected (not just the first), so one failed run tells the data owner all that is wrong.
On success it writes ``validation_report.json``; on any violation it writes nothing and exits non-zero with
a message naming each violation (column, value, file and line).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa

from pipeline_code import partials, schema, shards, tabular
from pipeline_code.artifacts import atomic_output, write_json
from pipeline_code.cli import (
    PROCESSING_INPUT,
    PROCESSING_OUTPUT,
    add_limit_arguments,
    limits_from_args,
    run_step,
)
from pipeline_code.errors import DataValidationError


@dataclass(frozen=True)
class Limits:
    """Configured limits; the CDK config passes per-environment values as arguments."""

    max_missing_ratio: float = 0.10
    max_duplicate_ratio: float = 0.01
    min_minority_share: float = 0.05
    min_rows: int = 1


def load_raw_strings(paths: list[Path], root: Path | None = None) -> pd.DataFrame:
    """All rows of all files as strings (no typing yet: wrong types are findings, not crashes).

    Adds ``_file`` (the file name), ``_key`` (its path relative to ``root``: the order of the whole input) and
    ``_line`` (1-based line in the file, counting a header or comment line) so messages can point at rows.
    """
    frames = []
    for path in paths:
        first_data_line = tabular.raw_layout(path).skip_rows + 1
        key = path.relative_to(root).as_posix() if root is not None and path.is_relative_to(root) else path.name
        batches = list(tabular.iter_raw_batches(path, all_strings=True))
        if not batches:
            frames.append(pd.DataFrame(columns=[*schema.RAW_COLUMNS, "_file", "_key", "_line"]))
            continue
        df = pa.Table.from_batches(batches).to_pandas()
        df = df.apply(lambda s: s.str.strip())
        df["_file"] = path.name
        df["_key"] = key
        df["_line"] = range(first_data_line, len(df) + first_data_line)
        frames.append(df)
    if not frames:
        return pd.DataFrame(columns=[*schema.RAW_COLUMNS, "_file", "_key", "_line"])
    return pd.concat(frames, ignore_index=True)


def validate_frame(df: pd.DataFrame, limits: Limits) -> dict[str, Any]:
    """All checks on loaded data; returns the report (``violations`` empty when the data passed).

    Computed as a sharded run computes it: the frame's mergeable part (`partials.validation_part`), then the
    report of the merge (`partials.validation_report`), so one instance and N shards report the same.
    """
    return partials.validation_report([partials.validation_part(df)], limits)


def validate(paths: list[Path], limits: Limits, root: Path | None = None) -> dict[str, Any]:
    """Load and check; raise ``DataValidationError`` listing every violation, else return the report."""
    report = validate_frame(load_raw_strings(paths, root), limits)
    if report["violations"]:
        raise DataValidationError(report["violations"])
    return report


def passed(report: dict[str, Any], manifest_uri: str | None) -> dict[str, Any]:
    """The ``validation_report.json`` document of a report that passed."""
    return {"status": "passed", "manifest_uri": manifest_uri, **report}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--input", default=f"{PROCESSING_INPUT}/data", help="raw CSV file or folder")
    parser.add_argument("--output", default=f"{PROCESSING_OUTPUT}/validation", help="report folder")
    parser.add_argument(
        "--manifest-uri",
        help="the data snapshot (ManifestFile) that delivered --input: every file there must then be a data file",
    )
    parser.add_argument(
        "--shard-output",
        action="store_true",
        help="one instance of a sharded job: write this share's mergeable part under <output>/<host>/ "
        "(`python -m pipeline_code.merge validation` checks the merge)",
    )
    add_limit_arguments(parser, Limits())
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    limits = limits_from_args(Limits, args)

    def step() -> None:
        root = Path(args.input) if Path(args.input).is_dir() else None
        if args.shard_output:  # one share of a sharded job: its part only, MergeValidation decides
            host = shards.current_host()
            paths = (
                tabular.data_files(args.input, strict=args.manifest_uri is not None)
                if shards.has_data(args.input)
                else []
            )
            part, hashes = partials.validation_part(load_raw_strings(paths, root))
            with atomic_output(Path(args.output) / host) as out:
                partials.write_validation_part(out, part, hashes)
            print(f"validate: {part['rows']} rows of {len(paths)} file(s) counted on {host}")
            return
        paths = tabular.data_files(args.input, strict=args.manifest_uri is not None)
        report = validate(paths, limits, root)
        with atomic_output(args.output) as out:
            write_json(out / "validation_report.json", passed(report, args.manifest_uri))
        print(f"validate: {report['row_count']} rows passed every check")

    return run_step(step, "validate")


if __name__ == "__main__":
    sys.exit(main())
