"""Streaming distribution summaries and the drift statistics computed from them.

A baseline keeps, for each numeric feature, its exact distinct values with counts (compressed to quantiles
only past ``max_distinct``), and for each categorical feature its counts per code. Current data is then
counted into the baseline's support with ``searchsorted`` + ``bincount``: no sort of the current data and
constant memory, yet the Kolmogorov-Smirnov statistic is exact (see ``interleaved_cdfs``).

Verdicts use effect sizes (PSI, Jensen-Shannon distance): at a million rows significance tests flag
differences nobody cares about; p-values are reported for information only.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import special  # scipy.stats would add ~0.4 s to every drift check's start

DENSE_RANGE_LIMIT = 1 << 22
PSI_EPSILON = 1e-4


@dataclass
class ValueCounter:
    """Exact distinct-value counts of a numeric column, accumulated batch by batch.

    Whole numbers in a modest range are counted with ``bincount`` into a dense array (the common case, and
    an order of magnitude faster than ``np.unique``); anything else falls back to merging unique counts.
    """

    missing: int = 0
    _offset: int | None = None
    _dense: np.ndarray | None = None
    _sparse: list[tuple[np.ndarray, np.ndarray]] = field(default_factory=list)

    def add(self, values: np.ndarray) -> None:
        nan = np.isnan(values)
        self.missing += int(nan.sum())
        v = values[~nan] if nan.any() else values
        if not v.size:
            return
        lo, hi = float(v.min()), float(v.max())
        whole = lo.is_integer() and hi.is_integer() and bool(np.all(v == np.floor(v)))
        if self._sparse or not whole or hi - lo >= DENSE_RANGE_LIMIT or not self._fits_dense(int(lo), int(hi)):
            self._to_sparse()
            self._sparse.append(np.unique(v, return_counts=True))
            return
        assert self._offset is not None
        assert self._dense is not None
        self._dense += np.bincount((v - self._offset).astype(np.int64), minlength=self._dense.size)[: self._dense.size]

    def _fits_dense(self, lo: int, hi: int) -> bool:
        """Grow the dense array to cover [lo, hi] if the total range stays under the limit."""
        if self._dense is None:
            self._offset, self._dense = lo, np.zeros(hi - lo + 1, dtype=np.int64)
            return True
        assert self._offset is not None
        new_lo, new_hi = min(lo, self._offset), max(hi, self._offset + self._dense.size - 1)
        if new_hi - new_lo >= DENSE_RANGE_LIMIT:
            return False
        grown = np.zeros(new_hi - new_lo + 1, dtype=np.int64)
        grown[self._offset - new_lo : self._offset - new_lo + self._dense.size] = self._dense
        self._offset, self._dense = new_lo, grown
        return True

    def _to_sparse(self) -> None:
        if self._dense is not None:
            self._sparse.append(self._dense_pairs())
            self._dense, self._offset = None, None

    def _dense_pairs(self) -> tuple[np.ndarray, np.ndarray]:
        assert self._dense is not None
        assert self._offset is not None
        idx = np.flatnonzero(self._dense)
        return (idx + self._offset).astype(np.float64), self._dense[idx]

    def result(self) -> tuple[np.ndarray, np.ndarray]:
        """Sorted distinct values and their counts."""
        if self._dense is not None:
            return self._dense_pairs()
        if not self._sparse:
            return np.empty(0), np.empty(0, dtype=np.int64)
        values = np.concatenate([v for v, _ in self._sparse])
        counts = np.concatenate([c for _, c in self._sparse])
        distinct, inverse = np.unique(values, return_inverse=True)
        return distinct, np.bincount(inverse, weights=counts).astype(np.int64)


def compress(values: np.ndarray, counts: np.ndarray, max_distinct: int) -> tuple[np.ndarray, np.ndarray]:
    """Fold a too-long support into ``max_distinct`` quantile points (each value moves up to its quantile).

    Keeps baselines of truly continuous features bounded; statistics then become approximate at the
    resolution of the quantile grid, which the baseline records.
    """
    if values.size <= max_distinct:
        return values, counts
    cum = np.cumsum(counts)
    targets = np.linspace(0, cum[-1], max_distinct + 1)[1:]
    points = np.unique(values[np.searchsorted(cum, targets - 0.5)])
    slot = np.searchsorted(points, values)
    return points, np.bincount(slot, weights=counts, minlength=points.size).astype(np.int64)


def interleaved_bucket(reference_values: np.ndarray, current: np.ndarray) -> np.ndarray:
    """Bucket of each current value: 2j+1 if it equals reference value j, 2j if strictly below it.

    So bucket 0 is below all reference values and bucket 2m above them: the 2m+1 buckets interleave the
    reference's support, which is what makes the CDF comparison in ``interleaved_cdfs`` exact.
    """
    pos = np.searchsorted(reference_values, current, side="left")
    hit = np.zeros(current.shape, dtype=bool)
    inside = pos < reference_values.size
    hit[inside] = reference_values[pos[inside]] == current[inside]
    return 2 * pos + hit


@dataclass(frozen=True)
class Support:
    """A baseline numeric feature's distinct values, plus a lookup table when they are whole numbers.

    Binary search of every current value was half the drift check's CPU time. For whole-number supports
    (all of Adult's) a table holding the bucket of every integer from the smallest to the largest reference
    value replaces it; values outside that range, fractions and other supports still use ``searchsorted``.
    """

    values: np.ndarray
    lookup: np.ndarray | None = None

    @classmethod
    def of(cls, values: np.ndarray) -> Support:
        if not values.size or values[-1] - values[0] >= DENSE_RANGE_LIMIT or np.any(values != np.floor(values)):
            return cls(values)
        return cls(values, interleaved_bucket(values, np.arange(values[0], values[-1] + 1)))

    def buckets(self, current: np.ndarray) -> np.ndarray:
        """``interleaved_bucket`` of every current value (not NaN)."""
        if self.lookup is None:
            return interleaved_bucket(self.values, current)
        index = current - self.values[0]
        slot = np.clip(index, 0, self.lookup.size - 1).astype(np.intp)
        result: np.ndarray = self.lookup[slot]
        direct = slot == index  # whole numbers inside the table's range
        if not direct.all():
            result[~direct] = interleaved_bucket(self.values, current[~direct])
        return result

    def count(self, current: np.ndarray) -> tuple[np.ndarray, int]:
        """Counts of current values per interleaved bucket (length 2m+1) and the number of missing values."""
        nan = np.isnan(current)
        values = current[~nan] if nan.any() else current
        return np.bincount(self.buckets(values), minlength=2 * self.values.size + 1), int(nan.sum())


def interleaved_cdfs(ref_counts: np.ndarray, cur_buckets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Both empirical CDFs at the end of every bucket.

    Between two reference values the reference CDF is flat and the current CDF monotone, so the largest gap
    lies at a bucket end: the maximum over these points is the exact two-sample KS statistic.
    """
    ref = np.zeros(cur_buckets.size, dtype=np.float64)
    ref[1::2] = ref_counts
    return np.cumsum(ref) / ref.sum(), np.cumsum(cur_buckets) / max(cur_buckets.sum(), 1)


def ks_test(ref_counts: np.ndarray, cur_buckets: np.ndarray) -> tuple[float, float]:
    """Exact KS statistic and its asymptotic p-value (information only: see the module docstring)."""
    f_ref, f_cur = interleaved_cdfs(ref_counts, cur_buckets)
    d = float(np.max(np.abs(f_ref - f_cur)))
    n, m = float(ref_counts.sum()), float(cur_buckets.sum())
    if not m:
        return float("nan"), float("nan")
    return d, float(special.kolmogorov(d * np.sqrt(n * m / (n + m))))


def quantile_bins(ref_counts: np.ndarray, n_bins: int) -> np.ndarray:
    """Bin index of each reference value so that bins hold about equal reference mass (ties stay together)."""
    share = (np.cumsum(ref_counts) - ref_counts) / ref_counts.sum()
    bins: np.ndarray = np.minimum((share * n_bins).astype(np.int64), n_bins - 1)
    return bins


def psi(expected: np.ndarray, actual: np.ndarray) -> float:
    """Population stability index of two count vectors over the same bins."""
    if not actual.sum() or not expected.sum():
        return float("nan")
    e = np.maximum(expected / expected.sum(), PSI_EPSILON)
    a = np.maximum(actual / actual.sum(), PSI_EPSILON)
    return float(np.sum((a - e) * np.log(a / e)))


def numeric_psi(ref_counts: np.ndarray, cur_buckets: np.ndarray, n_bins: int = 10) -> float:
    """PSI over reference-quantile bins, using the interleaved bucket counts of the current data."""
    ref_bin = quantile_bins(ref_counts, n_bins)
    # a value strictly below reference value j falls into the bin of value j; above all into the last bin
    bucket_bin = np.empty(cur_buckets.size, dtype=np.int64)
    bucket_bin[1::2] = ref_bin
    bucket_bin[0:-1:2] = ref_bin
    bucket_bin[-1] = ref_bin[-1]
    n = int(ref_bin[-1]) + 1
    return psi(np.bincount(ref_bin, weights=ref_counts, minlength=n), np.bincount(bucket_bin, cur_buckets, n))


def jensen_shannon(p: np.ndarray, q: np.ndarray) -> float:
    """Jensen-Shannon distance with natural logarithms (as scipy's ``jensenshannon`` and Evidently)."""
    p, q = p / p.sum(), q / q.sum()
    m = (p + q) / 2
    return float(np.sqrt((special.rel_entr(p, m).sum() + special.rel_entr(q, m).sum()) / 2))


def chi_square_p_value(ref_counts: np.ndarray, cur_counts: np.ndarray) -> float:
    """Pearson's chi-square test of homogeneity on the 2 x k table (no continuity correction)."""
    seen = (ref_counts + cur_counts) > 0
    table = np.vstack([ref_counts[seen], cur_counts[seen]]).astype(np.float64)
    if table.shape[1] < 2:
        return 1.0
    expected = table.sum(axis=1, keepdims=True) * table.sum(axis=0, keepdims=True) / table.sum()
    statistic = float(((table - expected) ** 2 / expected).sum())
    return float(special.chdtrc(table.shape[1] - 1, statistic))


def categorical_drift(ref_counts: np.ndarray, cur_counts: np.ndarray) -> tuple[float, float, float]:
    """Jensen-Shannon distance, PSI, and chi-square p-value (information only)."""
    if not cur_counts.sum():
        return float("nan"), float("nan"), float("nan")
    return (
        jensen_shannon(ref_counts, cur_counts),
        psi(ref_counts, cur_counts),
        chi_square_p_value(ref_counts, cur_counts),
    )


def category_counts(codes: np.ndarray, n_categories: int) -> np.ndarray:
    """Counts per category with slot 0 for missing (code -1)."""
    return np.bincount((codes + 1).astype(np.int64), minlength=n_categories + 1)
