"""Step 2, preprocess: clean and encode raw data, split it, and record the baseline later drift checks use.

Streams record batches end to end (read, encode, split, write, count), so memory stays flat at any size.
Outputs, each in its own sub-folder so a SageMaker ProcessingOutput can map it to S3:

- ``train/train.csv``, ``validation/validation.csv``, ``test/test.csv``: the SageMaker XGBoost container's
  CSV layout (no header, label first, then the features in ``schema.FEATURES`` order, categories as codes).
- ``raw_test/test.csv``: the same test rows, in the same order, as raw records (no header, the feature columns in
  schema order then the label, values trimmed, the missing token for missing): what a client sends the endpoint. The
  promotion's champion/challenger transform and smoke test send these rows.
- ``manifest/feature_manifest.json``: the encoding (`features.FeatureManifest`): column order, kinds, category
  codes, ranges, the missing and unseen rules. Training packs it into ``model.tar.gz``; serving encodes with it.
- ``manifest/lineage.json``: the data snapshot's URI and every input object's key, size and SHA-256, recorded
  with the registered model (by URI, and the combined digest).
- ``baseline/baseline.json``: per-feature statistics and full distributions of the train split.

A learned column's categories (the contract's ``categories: learn``) are learned first, by a pass over that
column that assigns the records to the splits exactly as the main pass does (`learn_categories`): the training
split's values seen at least ``min_count`` times, the ``max_categories`` most frequent, in alphabetical order, then
``schema.OTHER``, which every other value (rarer, or only in validation or test) gets.

Cleaning is: trim the blank after each comma, drop the test file's trailing dot from labels, encode missing
categories as code -1. Rows are not de-duplicated (the validate step bounds the duplicate ratio).

A record's split is decided by a hash of the record itself (`record_split`), and the encoding is the schema's, so
the rows of each split do not depend on how the data was batched or sharded. With ``--shard-output`` (one
instance of a sharded job) every output goes under ``<output>/<name>/<host>/``, the baseline and the lineage as
parts that ``merge preprocess`` combines into the documents above (`partials`).
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pipeline_code import features, partials, record_split, schema, shards, stats, tabular
from pipeline_code.artifacts import atomic_output, write_json
from pipeline_code.cli import PROCESSING_INPUT, PROCESSING_OUTPUT, run_step
from pipeline_code.errors import PipelineError

SPLITS = ("train", "validation", "test")
RAW_TEST = "raw_test"  # the test split as raw records, the endpoint's request layout
FORMAT_CHUNK_ROWS = 100_000


def learn_categories(paths: list[Path], fractions: tuple[float, float, float], seed: int) -> dict[str, tuple[str, ...]]:
    """The categories of each learned column (by processed name), from the rows of the training split only (the
    records `record_split.assign` puts there, exactly as the main pass does)."""
    columns = schema.learned_features()
    if not columns:
        return {}
    counts: dict[str, dict[str, int]] = {c.name: {} for c in columns}
    for path in paths:
        for batch in tabular.iter_raw_batches(path):
            train = pa.array(record_split.assign(batch, fractions, seed) == 0)
            for col in columns:
                words = tabular.trimmed(batch.column(col.raw_name).filter(train).cast(pa.string()))
                found = counts[col.name]
                for item in pc.value_counts(pc.drop_null(words)).to_pylist():
                    found[item["values"]] = found.get(item["values"], 0) + item["counts"]
    learned = {}
    for col in columns:
        assert col.learn is not None
        min_count, max_categories = col.learn
        kept = [(-n, w) for w, n in counts[col.name].items() if n >= min_count and w not in ("", schema.OTHER)]
        learned[col.name] = tuple(sorted(w for _, w in sorted(kept)[:max_categories]))
    return learned


@dataclass
class BaselineBuilder:
    """Accumulates the train split's distributions batch by batch."""

    numeric: dict[str, stats.ValueCounter] = field(
        default_factory=lambda: {n: stats.ValueCounter() for n in schema.NUMERIC_FEATURES}
    )
    categorical: dict[str, np.ndarray] = field(default_factory=dict)
    #: every categorical feature's categories as the manifest codes them (a learned column's included)
    categories: dict[str, tuple[str, ...]] = field(
        default_factory=lambda: {
            c.name: c.categories for c in schema.FEATURES if isinstance(c, schema.CategoricalColumn)
        }
    )
    label_counts: np.ndarray = field(default_factory=lambda: np.zeros(2, dtype=np.int64))
    rows: int = 0

    def add(self, batch: tabular.EncodedBatch) -> None:
        self.rows += batch.features.shape[0]
        for j, col in enumerate(schema.FEATURES):
            values = batch.features[:, j]
            if isinstance(col, schema.NumericColumn):
                self.numeric[col.name].add(values)
            else:
                counts = stats.category_counts(values, len(self.categories[col.name]))
                self.categorical[col.name] = self.categorical.get(col.name, 0) + counts
        if batch.label is not None:
            self.label_counts += np.bincount(batch.label, minlength=2)

    def part(self) -> dict[str, Any]:
        """This share's exact tallies (`partials.baseline_part`): what a merge step combines."""
        return partials.baseline_part(self.numeric, self.categorical, self.label_counts, self.rows)

    def result(self, max_distinct: int) -> dict[str, Any]:
        """The baseline document; numeric supports longer than ``max_distinct`` are quantile-compressed (after
        the merge of the shards' parts, so one instance and N shards write the same baseline)."""
        return partials.baseline_document([self.part()], max_distinct, self.categories)


def numeric_summary(values: np.ndarray, counts: np.ndarray, missing: int, exact: bool) -> dict[str, Any]:
    """Statistics and the full distribution (distinct values with counts) of one numeric feature."""
    total = counts.sum()
    if not total:
        return {"kind": "numeric", "missing": missing, "values": [], "counts": [], "exact": exact}
    mean = float(np.dot(values, counts) / total)
    std = float(np.sqrt(np.dot((values - mean) ** 2, counts) / total))
    cum = np.cumsum(counts) / total
    quantiles = {f"p{int(q * 100)}": float(values[np.searchsorted(cum, q)]) for q in (0.01, 0.25, 0.5, 0.75, 0.99)}
    return {
        "kind": "numeric",
        "missing": missing,
        "mean": mean,
        "std": std,
        "min": float(values[0]),
        "max": float(values[-1]),
        "quantiles": quantiles,
        "exact": exact,
        "values": values.tolist(),
        "counts": counts.astype(int).tolist(),
    }


def feature_manifest(learned: dict[str, tuple[str, ...]] | None = None) -> dict[str, Any]:
    """How to read the processed files, and how serving encodes raw records: `features.FeatureManifest`."""
    return features.FeatureManifest.from_schema(learned).document()


def input_lineage(paths: list[Path], root: Path | None = None, manifest_uri: str | None = None) -> dict[str, Any]:
    """What the model was made from: every input object's key, size and SHA-256, and one digest over all.

    A file's key is its path relative to ``root`` (the input folder: under a ManifestFile input, its S3 key
    relative to the manifest's prefix). The Model Registry records `input.sha256` (a pipeline PropertyFile reads
    it) and this document's URI, so a registered model names the exact bytes it was trained on, and the data
    snapshot (``manifest_uri``) that selected them.
    """
    files = []
    combined = hashlib.sha256()
    for path in paths:
        key = path.relative_to(root).as_posix() if root is not None and path.is_relative_to(root) else path.name
        digest = hashlib.sha256()
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        files.append({"key": key, "bytes": path.stat().st_size, "sha256": digest.hexdigest()})
        combined.update(f"{key}\0{digest.hexdigest()}\n".encode())
    return {"manifest_uri": manifest_uri, "input": {"sha256": combined.hexdigest(), "files": files}}


def preprocess(
    paths: list[Path],
    out: Path,
    fractions: tuple[float, float, float],
    seed: int,
    max_distinct: int,
    *,
    root: Path | None = None,
    manifest_uri: str | None = None,
    host: str | None = None,
) -> dict[str, int]:
    """Encode, split and write every batch; write manifest and baseline. Returns the row count per split.

    With ``host`` (one instance of a sharded job), every output goes under a ``<host>/`` folder of its own and
    the baseline and lineage are this share's parts (`partials`), which the merge step combines.
    """
    counts = dict.fromkeys(SPLITS, 0)
    learned = schema.learned_features()
    if host is not None and learned:  # config refuses it (scale_out); a share would learn its own
        raise PipelineError(
            f"learned categories ({', '.join(c.raw_name for c in learned)}) cannot be preprocessed in "
            "shards: each instance would learn its own share's categories"
        )
    manifest = features.FeatureManifest.from_schema(learn_categories(paths, fractions, seed))
    encoder = features.Encoder(manifest)
    baseline = BaselineBuilder(categories={f.name: f.categories for f in manifest.features if f.categories})
    files: dict[str, BinaryIO] = {}
    sub = host or ""
    for split in SPLITS:
        (out / split / sub).mkdir(parents=True, exist_ok=True)
        files[split] = (out / split / sub / f"{split}.csv").open("wb")
    (out / RAW_TEST / sub).mkdir(parents=True, exist_ok=True)
    files[RAW_TEST] = (out / RAW_TEST / sub / "test.csv").open("wb")
    # overlapping stages (pyarrow and numpy release the GIL): parse on the prefetch thread; encode, split and
    # count here; format CSV chunks on the pool; write them here in order, one batch behind (bounded memory)
    pending: list[tuple[str, Future[pa.Buffer]]] = []
    try:
        with ThreadPoolExecutor(max_workers=2) as pool:
            for raw, batch in tabular.prefetched(tabular.iter_raw_and_encoded(paths, encoder)):
                assert batch.label is not None
                assignment = record_split.assign(raw, fractions, seed)
                parts = {}
                for split_index, split in enumerate(SPLITS):
                    rows = assignment == split_index
                    parts[split] = tabular.EncodedBatch(batch.features[rows], batch.label[rows])
                    counts[split] += int(rows.sum())
                for split, formatted in pending:
                    files[split].write(formatted.result())
                pending = [
                    (split, pool.submit(tabular.processed_csv, chunk))
                    for split, part in parts.items()
                    for chunk in tabular.row_chunks(part, FORMAT_CHUNK_ROWS)
                ]
                pending.append((RAW_TEST, pool.submit(tabular.raw_csv, raw.filter(pa.array(assignment == 2)))))
                baseline.add(parts["train"])
            for split, formatted in pending:
                files[split].write(formatted.result())
    finally:
        for file in files.values():
            file.close()
    if host is not None:  # one share: its parts, merged by MergePreprocess (`merge`)
        for split in (*SPLITS, RAW_TEST):  # a share without rows of a split writes no file for it (readers of
            for written in (out / split / host).glob("*.csv"):  # the split's folder would find an empty CSV)
                if not written.stat().st_size:
                    written.unlink()
        write_json(out / "manifest" / host / "feature_manifest.json", manifest.document())
        write_json(out / "manifest" / host / partials.LINEAGE_PART, input_lineage(paths, root, manifest_uri))
        write_json(out / "baseline" / host / partials.BASELINE_PART, baseline.part())
        return counts
    write_json(out / "baseline" / "baseline.json", baseline.result(max_distinct))  # stops on empty data first
    write_json(out / "manifest" / "feature_manifest.json", manifest.document())
    write_json(out / "manifest" / "lineage.json", input_lineage(paths, root, manifest_uri))
    return counts


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--input", default=f"{PROCESSING_INPUT}/data", help="raw CSV file or folder")
    parser.add_argument("--output", default=PROCESSING_OUTPUT, help="folder for train/ validation/ test/ ...")
    parser.add_argument("--train-fraction", type=float, default=0.7)
    parser.add_argument("--validation-fraction", type=float, default=0.15)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument(
        "--manifest-uri",
        help="the data snapshot (ManifestFile) that delivered --input: recorded in lineage.json, and every file "
        "there must then be a data file",
    )
    parser.add_argument("--max-distinct", type=int, default=100_000, help="numeric baseline resolution")
    parser.add_argument(
        "--shard-output",
        action="store_true",
        help="one instance of a sharded job: every output under <output>/<name>/<host>/, baseline and lineage as "
        "parts (`python -m pipeline_code.merge preprocess` merges them)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)

    def step() -> None:
        test_fraction = 1.0 - args.train_fraction - args.validation_fraction
        if min(args.train_fraction, args.validation_fraction, test_fraction) <= 0:
            raise PipelineError("train, validation and test fractions must each be > 0 and sum to 1")
        fractions = (args.train_fraction, args.validation_fraction, test_fraction)
        host = shards.current_host() if args.shard_output else None
        # a share may be given no object (fewer objects than instances): it writes empty parts
        empty_share = host is not None and not shards.has_data(args.input)
        paths = [] if empty_share else tabular.data_files(args.input, strict=args.manifest_uri is not None)
        root = Path(args.input) if Path(args.input).is_dir() else None
        with atomic_output(args.output) as out:
            counts = preprocess(
                paths, out, fractions, args.seed, args.max_distinct, root=root, manifest_uri=args.manifest_uri,
                host=host,
            )  # fmt: skip
        print("preprocess: " + ", ".join(f"{k} {v} rows" for k, v in counts.items()) + (f" on {host}" if host else ""))

    return run_step(step, "preprocess")


if __name__ == "__main__":
    sys.exit(main())
