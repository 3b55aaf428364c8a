"""Which split (train, validation, test) a record goes to: decided by the record alone, never by its batch or shard.

The split of a record is a function of a 64-bit hash of its identity and the seed, so the same record lands in
the same split whatever the file layout, the batch boundaries or the number of instances reading the data: one
instance and N shards produce the same rows in each split. The identity is the record's feature values as the
raw data holds them (trimmed; the label is not part of it, so the test file's `>50K.` changes nothing). Equal
records share their split, which keeps duplicates from leaking between train and test.

Vectorised: each column is hashed once per distinct word of its dictionary (pandas' `hash_array`, SipHash with a
fixed key) or per number, and the columns are combined as pandas combines a frame's columns; the result goes
through the splitmix64 finalizer with the seed, whose top 53 bits are a uniform number in [0, 1). The split is
then by the fractions, so its sizes vary by sampling noise around them (no stratification by label: that would
need the whole data at once).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from pipeline_code import schema

_MISSING = np.uint64(0x9E3779B97F4A7C15)
_MULTIPLIER = np.uint64(1_000_003)


def _column_hash(column: pa.Array) -> np.ndarray:
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    if pa.types.is_dictionary(column.type):
        words = pc.utf8_trim_whitespace(column.dictionary.cast(pa.string()))
        lookup = np.append(pd.util.hash_array(np.asarray(words.to_pylist(), dtype=object)), _MISSING)
        indices = pc.fill_null(column.indices, len(words)).to_numpy(zero_copy_only=False)
        hashed: np.ndarray = lookup[indices]
        return hashed
    if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
        return _column_hash(pc.dictionary_encode(column))
    numbers = pc.cast(column, pa.float64()).to_numpy(zero_copy_only=False)
    hashed = pd.util.hash_array(np.where(np.isnan(numbers), 0.0, numbers))
    return np.where(np.isnan(numbers), _MISSING, hashed)


def record_hashes(batch: pa.RecordBatch) -> np.ndarray:
    """A 64-bit hash per record of its feature values (raw columns of `schema.FEATURES`, trimmed)."""
    combined = np.full(batch.num_rows, np.uint64(0x345678), dtype=np.uint64)
    with np.errstate(over="ignore"):
        for col in schema.FEATURES:
            combined = (combined ^ _column_hash(batch.column(col.raw_name))) * _MULTIPLIER
    return combined


def uniform(hashes: np.ndarray, seed: int) -> np.ndarray:
    """splitmix64 of (hash + seed): a uniform number in [0, 1) per record."""
    with np.errstate(over="ignore"):
        z = hashes + np.uint64(seed & 0xFFFFFFFFFFFFFFFF) * np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(11)).astype(np.float64) / float(1 << 53)


def assign(batch: pa.RecordBatch, fractions: tuple[float, float, float], seed: int) -> np.ndarray:
    """Split index (0 train, 1 validation, 2 test) per record of a raw batch."""
    u = uniform(record_hashes(batch), seed)
    return np.where(u < fractions[0], 0, np.where(u < fractions[0] + fractions[1], 1, 2)).astype(np.int8)
