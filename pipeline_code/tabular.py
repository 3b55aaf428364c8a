"""Reading raw Adult-format CSV and processed (model-layout) CSV, in streamed record batches.

Raw files are read with pyarrow's streaming CSV reader so that preprocessing 10 M rows never holds the whole
file in memory; each category word is encoded by `features.Encoder`, the transformation the endpoint applies to
its requests, once per distinct word of a batch (pyarrow's dictionary of the column).
Processed files follow the SageMaker XGBoost layout: no header, label first (optional for captured data),
then the features in ``schema.FEATURES`` order with categories as integer codes (-1 for missing).
"""

from __future__ import annotations

import queue
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from pipeline_code import features, schema
from pipeline_code.errors import DataValidationError

T = TypeVar("T")
BLOCK_SIZE = 16 << 20
RAW_SUFFIXES = (".csv", ".data", ".test", ".gz")
MISSING_CODE = features.MISSING_CODE
#: The code's own schema's encoding: what preprocess encodes training data with (and writes as its manifest).
SCHEMA_ENCODER = features.Encoder(features.FeatureManifest.from_schema())
UCI_COMMENT = "|"  # UCI's adult.test opens with the line "|1x3 Cross validator"


def data_files(path: Path | str, *, strict: bool = False) -> list[Path]:
    """The data files of an input: the file itself, or every data file under a folder (a SageMaker channel).

    Folders are walked recursively, in the order of their relative paths: a ManifestFile or S3Prefix input
    lands its objects under their S3 keys (`adult/adult.data`, `feedback/2026/12/01/part-0.csv`). With
    ``strict`` (a data snapshot, where the starter chose every object) any other file is an error, so no
    delivered object is silently skipped; otherwise files of other kinds (a README) are left alone.
    """
    p = Path(path)
    if p.is_file():
        return [p]
    if not p.is_dir():
        raise DataValidationError(f"input {p} does not exist")
    found = sorted((f for f in p.rglob("*") if f.is_file()), key=lambda f: f.relative_to(p).as_posix())
    files = [f for f in found if f.name.endswith(RAW_SUFFIXES)]
    if strict and (others := [f.relative_to(p).as_posix() for f in found if f not in files]):
        raise DataValidationError(
            f"input {p} holds file(s) that are not data files ({', '.join(RAW_SUFFIXES)}): {others[:10]}"
        )
    if not files:
        raise DataValidationError(f"input folder {p} holds no data file ({', '.join(RAW_SUFFIXES)})")
    return files


def _first_line(path: Path) -> str:
    """The first line of a (possibly compressed) file, without reading the rest."""
    return _lines(path, 1)[0]


@dataclass(frozen=True)
class RawLayout:
    """Where a raw file's rows start and what its columns are called."""

    names: list[str]
    skip_rows: int  # lines before the first data row (a header, UCI's comment line)


def _lines(path: Path, count: int) -> list[str]:
    """The first ``count`` lines of a (possibly compressed) file, without reading the rest."""
    with pa.input_stream(str(path)) as stream:
        head: bytes = stream.read(1 << 16)
    return [line.decode("utf-8", errors="replace").strip() for line in head.split(b"\n")[:count]]


def raw_layout(path: Path) -> RawLayout:
    """Read a raw file's layout: with a header (every schema column, no other, in any order) or without one.

    The UCI originals have no header (columns in ``schema.RAW_COLUMNS`` order) and ``adult.test`` starts with
    a comment line (``|1x3 Cross validator``); the shipped copies and the feedback files have a header.
    """
    lines = _lines(path, 2)
    skip = 1 if lines[0].startswith(UCI_COMMENT) else 0
    first = lines[skip] if skip < len(lines) else ""
    if not first:
        raise DataValidationError(f"{path.name}: file is empty (no header or data line)")
    names = [n.strip() for n in first.split(",")]
    if not set(names) & set(schema.RAW_COLUMNS):  # no column name: a data row
        if len(names) != len(schema.RAW_COLUMNS):
            raise DataValidationError(
                f"{path.name}: first row has {len(names)} fields and is no header; a file without header "
                f"needs {len(schema.RAW_COLUMNS)} fields in this order: {', '.join(schema.RAW_COLUMNS)}"
            )
        return RawLayout(list(schema.RAW_COLUMNS), skip)
    # timestamp columns are carried, not read by the model: a file without them (feedback, the serving layout) is
    # complete
    missing = [c for c in schema.RAW_COLUMNS if c not in names and c not in schema.DATASET.timestamps]
    extra = [n for n in names if n not in schema.RAW_COLUMNS]
    problems = [f"{path.name}: missing column '{c}'" for c in missing]
    problems += [f"{path.name}: unexpected column '{c}'" for c in extra]
    if len(set(names)) != len(names):
        problems.append(f"{path.name}: duplicate column names in header")
    if problems:
        raise DataValidationError(problems)
    return RawLayout(names, skip + 1)


def _raw_reader(path: Path, names: list[str], all_strings: bool, skip_rows: int = 1) -> pacsv.CSVStreamingReader:
    # categories are read dictionary-encoded: cleaning and lookup run once per distinct value, not per row;
    # whole-number columns as int64, which parses faster than float64 (a fraction there is a type error)
    text = pa.string() if all_strings else pa.dictionary(pa.int32(), pa.string())
    numeric = {c.raw_name: c.feature_store_type for c in schema.FEATURES if isinstance(c, schema.NumericColumn)}
    number = {"Integral": pa.int64(), "Fractional": pa.float64()}
    types = {n: text if all_strings or n not in numeric else number[numeric[n]] for n in names}
    return pacsv.open_csv(
        pa.input_stream(str(path)),
        read_options=pacsv.ReadOptions(column_names=names, skip_rows=skip_rows, block_size=BLOCK_SIZE),
        convert_options=pacsv.ConvertOptions(
            column_types=types,
            null_values=["", schema.MISSING_TOKEN, " " + schema.MISSING_TOKEN],
            strings_can_be_null=not all_strings,
            quoted_strings_can_be_null=False,
        ),
    )


def _describe_arrow_error(path: Path, err: pa.ArrowInvalid, names: list[str] | None = None) -> DataValidationError:
    """Turn pyarrow's parse errors into a message that names the file, the column and the value."""
    message = str(err).split("\n")[0]
    number = re.search(r"CSV column #(\d+)", message)
    if number and names and int(number.group(1)) < len(names):
        message = message.replace(number.group(0), f"column '{names[int(number.group(1))]}'")
    if "conversion error" in message:
        return DataValidationError(f"{path.name}: wrong type: {message}")
    return DataValidationError(f"{path.name}: malformed CSV: {message}")


def iter_raw_batches(path: Path, all_strings: bool = False) -> Iterator[pa.RecordBatch]:
    """Stream a raw file's record batches, numeric columns typed unless ``all_strings``."""
    layout = raw_layout(path)
    try:
        reader = _raw_reader(path, layout.names, all_strings, layout.skip_rows)
        for batch in reader:
            if batch.num_rows:
                yield batch
    except pa.ArrowInvalid as err:
        raise _describe_arrow_error(path, err, layout.names) from err


@dataclass
class EncodedBatch:
    """A batch in model layout: ``features`` is (rows, features) float64, ``label`` 0/1 or None."""

    features: np.ndarray
    label: np.ndarray | None


def trimmed(column: pa.Array) -> pa.Array:
    """Strip the blank after each comma the Adult files put in every value."""
    return pc.utf8_trim_whitespace(column)


def dictionary_codes(column: pa.Array, allowed: tuple[str, ...], strip: str = "") -> tuple[np.ndarray, list[str]]:
    """Positions in ``allowed`` of each (trimmed) value, -1 for null, and the values outside ``allowed``.

    Works on the column's dictionary, so the string work is done once per distinct value.
    """
    if not pa.types.is_dictionary(column.type):
        column = pc.dictionary_encode(column)
    words = trimmed(column.dictionary)
    if strip:
        words = pc.utf8_rtrim(words, characters=strip)
    positions = pc.index_in(words, value_set=pa.array(allowed))
    unseen = pc.filter(column.dictionary, pc.and_(pc.is_null(positions), pc.is_valid(words))).to_pylist()
    lookup = np.append(pc.fill_null(positions, -2).to_numpy(zero_copy_only=False), MISSING_CODE)
    indices = pc.fill_null(column.indices, len(words)).to_numpy(zero_copy_only=False)
    return lookup[indices], unseen


def parse_label(column: pa.Array, where: str) -> np.ndarray:
    """Map raw label strings (test file: with a trailing dot) to 0/1; any other value is an error."""
    codes, unseen = dictionary_codes(column, schema.LABEL_VALUES, schema.LABEL_TRAILING_CHARS)
    if unseen or (codes == MISSING_CODE).any():
        bad = [w.strip() for w in unseen] or ["<missing>"]
        raise DataValidationError(
            f"{where}: label '{schema.RAW_LABEL}' has value(s) outside {list(schema.LABEL_VALUES)}: {bad[:10]}"
        )
    positive: np.ndarray = codes == schema.LABEL_VALUES.index(schema.POSITIVE_LABEL)
    return positive.astype(np.int8)


def encode_categories(column: pa.Array, j: int, where: str, encoder: features.Encoder = SCHEMA_ENCODER) -> np.ndarray:
    """Codes of feature ``j`` by `features.Encoder.code`, run once per distinct word of the column's dictionary;
    null (the missing token, an empty field) is the missing code. Training data must hold no unseen category
    (the model could not learn it): one is an error naming it, except in a learned column, where it is "other"."""
    if not pa.types.is_dictionary(column.type):
        column = pc.dictionary_encode(column)
    words = column.dictionary.to_pylist()
    coded = [encoder.code(j, word) for word in words]
    unseen = [str(word).strip() for word, (_, is_unseen) in zip(words, coded, strict=True) if is_unseen]
    if unseen and not encoder.manifest.features[j].learned:
        raw_name = encoder.manifest.features[j].raw_name
        raise DataValidationError(f"{where}: column '{raw_name}' has unseen categories {unseen[:10]}")
    lookup = np.array([code for code, _ in coded] + [encoder.manifest.missing_code], dtype=np.float64)
    codes: np.ndarray = lookup[pc.fill_null(column.indices, len(words)).to_numpy(zero_copy_only=False)]
    return codes


def encode_raw_batch(batch: pa.RecordBatch, where: str, encoder: features.Encoder = SCHEMA_ENCODER) -> EncodedBatch:
    """Clean and encode one typed raw batch into model layout."""
    matrix = np.empty((batch.num_rows, len(schema.FEATURES)), dtype=np.float64, order="F")
    for j, col in enumerate(schema.FEATURES):
        arr = batch.column(col.raw_name)
        if isinstance(col, schema.CategoricalColumn):
            matrix[:, j] = encode_categories(arr, j, where, encoder)
        else:
            matrix[:, j] = arr.to_numpy(zero_copy_only=False)
    return EncodedBatch(matrix, parse_label(batch.column(schema.RAW_LABEL), where))


def iter_encoded_raw(paths: list[Path], encoder: features.Encoder = SCHEMA_ENCODER) -> Iterator[EncodedBatch]:
    """Encoded batches of several raw files, in order."""
    for _, encoded in iter_raw_and_encoded(paths, encoder):
        yield encoded


def iter_raw_and_encoded(
    paths: list[Path], encoder: features.Encoder = SCHEMA_ENCODER
) -> Iterator[tuple[pa.RecordBatch, EncodedBatch]]:
    """Each typed raw batch of several files, in order, with its encoding."""
    for path in paths:
        for batch in iter_raw_batches(path):
            yield batch, encode_raw_batch(batch, path.name, encoder)


def raw_csv(batch: pa.RecordBatch) -> pa.Buffer:
    """Typed raw rows back as headerless raw CSV in the serving layout, the features in the schema's order then
    the label (the raw files may hold the label anywhere, and timestamps the model does not read): values trimmed,
    the label without the test file's trailing dot, missing values as the missing token. The layout a client
    sends to the endpoint, which the model's own test split is kept in (``preprocess``)."""
    columns = []
    names = [*(c.raw_name for c in schema.FEATURES), schema.RAW_LABEL]
    for name in names:
        column = batch.column(name)
        if pa.types.is_dictionary(column.type):
            column = column.cast(pa.string())
        if pa.types.is_string(column.type):
            column = trimmed(column)
            if name == schema.RAW_LABEL:
                column = pc.utf8_rtrim(column, characters=schema.LABEL_TRAILING_CHARS)
        else:
            column = column.cast(pa.string())
        columns.append(pc.fill_null(column, schema.MISSING_TOKEN))
    sink = pa.BufferOutputStream()
    options = pacsv.WriteOptions(include_header=False, quoting_style="none")
    pacsv.write_csv(pa.table(columns, names=names), sink, write_options=options)
    return sink.getvalue()


def processed_columns(file: Path) -> tuple[list[str], dict[str, pa.DataType]]:
    """Column names and types of a processed file; a leading label column is detected by the column count.

    Declaring the types (whole numbers as int64) instead of letting pyarrow infer them halves parse time.
    """
    n_fields = _first_line(file).count(",") + 1
    names = list(schema.FEATURE_NAMES)
    if n_fields == len(names) + 1:
        names.insert(0, schema.LABEL)
    elif n_fields != len(names):
        raise DataValidationError(
            f"{file.name}: {n_fields} columns, expected {len(names)} features ({', '.join(names)}), optionally "
            "preceded by the label"
        )
    fractional = {c.name for c in schema.FEATURES if c.feature_store_type == "Fractional"}
    return names, {n: pa.float64() if n in fractional else pa.int64() for n in names}


def iter_processed_batches(path: Path | str, block_size: int = BLOCK_SIZE) -> Iterator[EncodedBatch]:
    """Stream a processed file (or folder of them), with or without the leading label column."""
    for file in data_files(path):
        names, types = processed_columns(file)
        try:
            reader = pacsv.open_csv(
                pa.input_stream(str(file)),
                read_options=pacsv.ReadOptions(column_names=names, block_size=block_size),
                convert_options=pacsv.ConvertOptions(column_types=types),
            )
            for batch in reader:
                if not batch.num_rows:
                    continue
                # column-major: every per-feature pass downstream reads one contiguous column
                matrix = np.empty((batch.num_rows, len(schema.FEATURES)), dtype=np.float64, order="F")
                for j, name in enumerate(schema.FEATURE_NAMES):
                    matrix[:, j] = batch.column(name).to_numpy(zero_copy_only=False)
                label = None
                if names[0] == schema.LABEL:
                    label = batch.column(schema.LABEL).to_numpy(zero_copy_only=False).astype(np.int8)
                yield EncodedBatch(matrix, label)
        except pa.ArrowInvalid as err:
            raise _describe_arrow_error(file, err, names) from err


def read_processed(path: Path | str) -> EncodedBatch:
    """A whole processed file or folder in memory (model training and evaluation sizes)."""
    batches = list(iter_processed_batches(path))
    if not batches:
        raise DataValidationError(f"{path}: no rows")
    return EncodedBatch(np.concatenate([b.features for b in batches]), concat_labels([b.label for b in batches]))


def concat_labels(labels: list[np.ndarray | None]) -> np.ndarray | None:
    """The batches' labels joined, or None when any batch came without labels (captured data)."""
    present = [y for y in labels if y is not None]
    return np.concatenate(present) if present and len(present) == len(labels) else None


def processed_table(batch: EncodedBatch) -> pa.Table:
    """A batch as an Arrow table in processed layout (integers stay integers in the CSV)."""
    columns: list[pa.Array] = []
    names: list[str] = []
    if batch.label is not None:
        columns.append(pa.array(batch.label.astype(np.int64)))
        names.append(schema.LABEL)
    for j, col in enumerate(schema.FEATURES):
        values = batch.features[:, j]
        missing = np.isnan(values)
        if col.feature_store_type == "Fractional":
            columns.append(pa.array(values, mask=missing))
        else:  # category codes and whole-number features: the type must be the same in every batch
            columns.append(pa.array(np.where(missing, 0, values).astype(np.int64), mask=missing))
        names.append(col.name)
    return pa.table(columns, names=names)


def processed_csv(batch: EncodedBatch) -> pa.Buffer:
    """A batch as headerless processed CSV; pyarrow formats without the GIL, so chunks format in parallel."""
    sink = pa.BufferOutputStream()
    pacsv.write_csv(processed_table(batch), sink, write_options=pacsv.WriteOptions(include_header=False))
    return sink.getvalue()


def row_chunks(batch: EncodedBatch, rows: int) -> Iterator[EncodedBatch]:
    """Consecutive slices of at most ``rows`` rows (views, no copy)."""
    for start in range(0, batch.features.shape[0], rows):
        label = None if batch.label is None else batch.label[start : start + rows]
        yield EncodedBatch(batch.features[start : start + rows], label)


def save_processed(path: Path, batch: EncodedBatch) -> Path:
    """Write one batch as a headerless processed CSV file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as file:
        file.write(processed_csv(batch))
    return path


class _Raised:
    def __init__(self, error: BaseException) -> None:
        self.error = error


def prefetched(items: Iterator[T], depth: int = 2) -> Iterator[T]:
    """Produce ``items`` on a background thread, at most ``depth`` ahead of the consumer.

    pyarrow's CSV parsing and numpy release the GIL, so on two cores reading the next batch overlaps with
    encoding and writing the current one; ``depth`` bounds the extra memory to that many batches.
    """
    slots: queue.Queue[object] = queue.Queue(maxsize=depth)
    done = object()

    def produce() -> None:
        try:
            for item in items:
                slots.put(item)
        except BaseException as err:  # handed to the consumer, which re-raises it in its own thread
            slots.put(_Raised(err))
        slots.put(done)

    threading.Thread(target=produce, name="prefetch", daemon=True).start()
    while (item := slots.get()) is not done:
        if isinstance(item, _Raised):
            raise item.error
        yield item  # type: ignore[misc]
