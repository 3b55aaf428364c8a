"""The reduce steps of sharded jobs: merge every host's partial results into the one-instance outputs.

    python -m pipeline_code.merge validation --parts IN/validation --output OUT/validation [--manifest-uri URI] [limits]
    python -m pipeline_code.merge preprocess --manifest IN/manifest --baseline IN/baseline [--raw-test IN/raw_test] \
        --output OUT

`validation` writes ``validation_report.json`` exactly as ValidateData on one instance would, or fails naming
every violation; `preprocess` writes ``manifest/feature_manifest.json``, ``manifest/lineage.json`` and
``baseline/baseline.json`` (the shards' encodings must agree: the encoding is the schema's, never a shard's).
How the parts merge exactly: `partials`.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from pipeline_code import partials, shards
from pipeline_code.artifacts import atomic_output, read_json, write_json
from pipeline_code.cli import PROCESSING_INPUT, PROCESSING_OUTPUT, add_limit_arguments, limits_from_args, run_step
from pipeline_code.errors import DataValidationError, PipelineError
from pipeline_code.validate import Limits, passed


def merge_validation(parts_root: Path | str, limits: Limits, manifest_uri: str | None) -> dict[str, object]:
    """The validation report of every host's part; raises `DataValidationError` listing every violation."""
    report = partials.validation_report(partials.read_validation_parts(parts_root), limits)
    if report["violations"]:
        raise DataValidationError(report["violations"])
    return passed(report, manifest_uri)


def concatenate_parts(root: Path | str, file_name: str, target: Path) -> int:
    """Every host's ``file_name`` under ``root``, in host order, as one file (streamed); returns the parts."""
    folders = shards.part_folders(root, file_name)
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("wb") as sink:
        for folder in folders:
            with (folder / file_name).open("rb") as part:
                shutil.copyfileobj(part, sink, 1 << 20)
    return len(folders)


def merge_preprocess(
    manifest_root: Path | str,
    baseline_root: Path | str,
    out: Path,
    max_distinct: int,
    raw_test: Path | str | None = None,
) -> int:
    """Write the merged encoding, lineage and baseline into ``out`` (and, given the hosts' raw test rows, the
    whole raw test split as ``raw_test/test.csv``, the promotion's one object); returns the parts merged."""
    if raw_test is not None:
        concatenate_parts(raw_test, "test.csv", out / "raw_test" / "test.csv")
    encodings = [
        read_json(folder / "feature_manifest.json")
        for folder in shards.part_folders(manifest_root, "feature_manifest.json")
    ]
    if any(encoding != encodings[0] for encoding in encodings[1:]):
        raise PipelineError("the shards wrote different feature encodings: they ran different code or schemas")
    lineage = partials.merge_lineage(partials.read_parts(manifest_root, partials.LINEAGE_PART))
    baseline_parts = partials.read_parts(baseline_root, partials.BASELINE_PART)
    write_json(out / "baseline" / "baseline.json", partials.baseline_document(baseline_parts, max_distinct))
    write_json(out / "manifest" / "feature_manifest.json", encodings[0])
    write_json(out / "manifest" / "lineage.json", lineage)
    return len(baseline_parts)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="what", required=True)
    validation = commands.add_parser("validation", help="merge ValidateData's parts into validation_report.json")
    validation.add_argument("--parts", default=f"{PROCESSING_INPUT}/validation", help="<host>/ folders of parts")
    validation.add_argument("--output", default=f"{PROCESSING_OUTPUT}/validation")
    validation.add_argument("--manifest-uri", help="the data snapshot the shards read (recorded in the report)")
    add_limit_arguments(validation, Limits())
    preprocess = commands.add_parser("preprocess", help="merge Preprocess's baseline and lineage parts")
    preprocess.add_argument("--manifest", default=f"{PROCESSING_INPUT}/manifest", help="<host>/ folders")
    preprocess.add_argument("--baseline", default=f"{PROCESSING_INPUT}/baseline", help="<host>/ folders")
    preprocess.add_argument("--raw-test", help="<host>/ folders of raw test rows, concatenated into raw_test/test.csv")
    preprocess.add_argument("--output", default=PROCESSING_OUTPUT, help="folder for manifest/, baseline/, raw_test/")
    preprocess.add_argument("--max-distinct", type=int, default=100_000, help="numeric baseline resolution")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)

    def step() -> None:
        if args.what == "validation":
            report = merge_validation(args.parts, limits_from_args(Limits, args), args.manifest_uri)
            with atomic_output(args.output) as out:
                write_json(out / "validation_report.json", report)
            print(f"merge validation: {report['row_count']} rows passed every check")
        else:
            with atomic_output(args.output) as out:
                count = merge_preprocess(args.manifest, args.baseline, out, args.max_distinct, args.raw_test)
            print(f"merge preprocess: {count} part(s) merged")

    return run_step(step, f"merge {args.what}")


if __name__ == "__main__":
    sys.exit(main())
