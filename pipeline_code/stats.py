"""Streaming distribution summaries and the drift statistics computed from them.

A baseline keeps, for each numeric feature, its exact distinct values with counts (compressed to quantiles
only past ``max_distinct``), and for each categorical feature its counts per code. Current data is then
counted into the baseline's support with ``searchsorted`` + ``bincount``: no sort of the current data and
constant memory, yet the Kolmogorov-Smirnov statistic is exact (see ``interleaved_cdfs``).

A verdict needs two things (see ``drift``): an effect size over its threshold (normalised Wasserstein distance,
PSI over spike-aware bins, a small-sample-debiased Jensen-Shannon distance) *and* evidence that the effect is not
noise at this batch size: the statistic's p-value under its own null distribution at this n, simulated from the
baseline (``NullModel``), corrected for the number of tests in the run (``holm``). At a million rows the test
alone would flag differences of no consequence; at 200 rows the effect alone is mostly noise.
"""

from __future__ import annotations

import functools
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from scipy import special  # scipy.stats would add ~0.4 s to every drift check's start

DENSE_RANGE_LIMIT = 1 << 22
PSI_EPSILON = 1e-4
#: replicates of each simulated null distribution (moments only: the tail comes from the fitted gamma)
NULL_REPLICATES = 400
#: support points of the Wasserstein test statistic (a longer baseline support is quantile-compressed to it)
NULL_GRID = 256


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
        """The support with its lookup table, built once per process for a given set of values."""
        return _support(np.ascontiguousarray(values, dtype=np.float64).tobytes())

    @classmethod
    def build(cls, values: np.ndarray) -> Support:
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

    def tally(self, current: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
        """``count`` plus the sum of the values in each gap bucket (even buckets: between reference values).

        With the sums, the Wasserstein distance is exact (``wasserstein``); values on reference points (all of
        them, for unshifted whole-number data) need no sum, so the extra pass runs only when a gap is hit.
        """
        nan = np.isnan(current)
        values = current[~nan] if nan.any() else current
        buckets = self.buckets(values)
        counts = np.bincount(buckets, minlength=2 * self.values.size + 1)
        sums = np.zeros(self.values.size + 1)
        if counts[0::2].any():
            gap = (buckets & 1) == 0
            sums += np.bincount(buckets[gap] >> 1, weights=values[gap], minlength=self.values.size + 1)
        return counts, sums, int(nan.sum())


@functools.lru_cache(maxsize=64)
def _support(values: bytes) -> Support:
    support = Support.build(np.frombuffer(values, dtype=np.float64))
    for array in (support.values, support.lookup):
        if array is not None:
            array.flags.writeable = False
    return support


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


def psi_bin_counts(
    ref_counts: np.ndarray, cur_buckets: np.ndarray, ref_missing: int, cur_missing: int, n_bins: int = 10
) -> tuple[np.ndarray, np.ndarray]:
    """Reference and current counts per PSI bin (``spike_aware_bins``), missing values as one more bin."""
    bins = spike_aware_bins(ref_counts, n_bins)
    if not bins.size:
        return np.array([0.0, ref_missing]), np.array([float(cur_buckets.sum()), cur_missing])
    spike = ref_counts >= ref_counts.sum() / n_bins
    k = int(bins[-1]) + 1
    expected = np.append(np.bincount(bins, weights=ref_counts, minlength=k), ref_missing)
    actual = np.append(np.bincount(bucket_bins(bins, spike), weights=cur_buckets, minlength=k), cur_missing)
    return expected, actual


def numeric_psi(
    ref_counts: np.ndarray, cur_buckets: np.ndarray, ref_missing: int = 0, cur_missing: int = 0, n_bins: int = 10
) -> float:
    """PSI over spike-aware reference-quantile bins plus a missing-value bin."""
    return psi(*psi_bin_counts(ref_counts, cur_buckets, ref_missing, cur_missing, n_bins))


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


# ---------------------------------------------------------------------------------- effect sizes (numeric)


def spike_aware_bins(ref_counts: np.ndarray, n_bins: int) -> np.ndarray:
    """Bin index of each reference value for PSI: a spike gets a bin of its own, the rest quantile bins.

    A value holding at least ``1 / n_bins`` of the mass (the zeros of ``capital_gain``, 40 hours a week) is a
    spike: plain quantile bins put a 92 % spike and the whole tail into two bins, so a change of the tail was
    invisible. Here the non-spike mass is cut into ``n_bins`` quantile bins of its own, never across a spike.
    """
    if not ref_counts.size:
        return np.zeros(0, dtype=np.int64)
    spike = ref_counts >= ref_counts.sum() / n_bins
    rest = np.where(spike, 0, ref_counts).astype(np.float64)
    share = (np.cumsum(rest) - rest) / rest.sum() if rest.sum() else np.zeros(rest.size)
    key = np.where(spike, -1 - np.arange(ref_counts.size), np.minimum((share * n_bins).astype(np.int64), n_bins - 1))
    new = np.ones(ref_counts.size, dtype=bool)
    new[1:] = key[1:] != key[:-1]
    bins: np.ndarray = np.cumsum(new) - 1
    return bins


def bucket_bins(ref_bins: np.ndarray, spike: np.ndarray) -> np.ndarray:
    """The PSI bin of each interleaved bucket: a reference value's own bin; a gap joins its upper neighbour's
    bin (bins are right-closed), or its lower neighbour's when the upper one is a spike (a spike is one value)."""
    m = ref_bins.size
    out = np.empty(2 * m + 1, dtype=np.int64)
    out[1::2] = ref_bins
    upper = np.append(ref_bins, ref_bins[-1])  # gap j lies below reference value j (j = m: above all)
    lower = np.insert(ref_bins, 0, ref_bins[0])
    upper_spike = np.append(spike, True)
    out[0::2] = np.where(upper_spike, lower, upper)
    return out


def psi(expected: np.ndarray, actual: np.ndarray) -> float:
    """Population stability index of two count vectors over the same bins."""
    if not actual.sum() or not expected.sum():
        return float("nan")
    return float(psi_rows(expected[None, :], actual[None, :])[0])


def psi_rows(expected: np.ndarray, actual: np.ndarray) -> np.ndarray:
    """PSI of each row pair of two count matrices (replicates x bins)."""
    e = np.maximum(expected / expected.sum(axis=1, keepdims=True), PSI_EPSILON)
    a = np.maximum(actual / np.maximum(actual.sum(axis=1, keepdims=True), 1), PSI_EPSILON)
    result: np.ndarray = np.sum((a - e) * np.log(a / e), axis=1)
    return result


def bucket_positions(values: np.ndarray, cur_buckets: np.ndarray, gap_sums: np.ndarray) -> np.ndarray:
    """A position for each interleaved bucket: the reference value, or the mean of the current values in a gap
    (an empty gap takes its upper neighbour's value, so positions stay sorted)."""
    m = values.size
    positions = np.empty(2 * m + 1)
    positions[1::2] = values
    counts = cur_buckets[0::2].astype(np.float64)
    neighbour = np.append(values, values[-1])
    positions[0::2] = np.where(counts > 0, gap_sums / np.maximum(counts, 1), neighbour)
    return positions


def wasserstein(values: np.ndarray, ref_counts: np.ndarray, cur_buckets: np.ndarray, gap_sums: np.ndarray) -> float:
    """Wasserstein-1 distance between the reference distribution and the current values, from their tallies.

    Between two reference values the reference CDF is flat, so the area between the CDFs over a gap depends only
    on the count and the sum of the current values in it, as long as the current CDF stays on one side of the
    reference's there; it is then exact (always below and above the reference's range). Where it crosses inside
    a gap, the gap's values are taken at their mean (off by at most that gap's share of mass times its width).
    """
    if not cur_buckets.sum() or not ref_counts.sum():
        return float("nan")
    positions = bucket_positions(values, cur_buckets, gap_sums)
    ref = np.zeros(cur_buckets.size)
    ref[1::2] = ref_counts
    f_ref, f_cur = np.cumsum(ref) / ref.sum(), np.cumsum(cur_buckets) / cur_buckets.sum()
    return float(np.abs(f_ref - f_cur)[:-1] @ np.diff(positions))


def w1_rows(grid: np.ndarray, ref: np.ndarray, cur: np.ndarray) -> np.ndarray:
    """Wasserstein-1 distance of each row pair of two count matrices over the sorted support ``grid``."""
    f_ref = np.cumsum(ref, axis=1) / np.maximum(ref.sum(axis=1, keepdims=True), 1)
    f_cur = np.cumsum(cur, axis=1) / np.maximum(cur.sum(axis=1, keepdims=True), 1)
    result: np.ndarray = np.abs(f_ref - f_cur)[:, :-1] @ np.diff(grid)
    return result


def weighted_std(values: np.ndarray, counts: np.ndarray) -> float:
    """Standard deviation of a distribution given as distinct values with counts."""
    total = counts.sum()
    if not total:
        return float("nan")
    mean = float(values @ counts / total)
    return float(np.sqrt(((values - mean) ** 2) @ counts / total))


# ------------------------------------------------------------------------------ effect sizes (categorical)


def js_divergence_rows(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Jensen-Shannon divergence (natural log) of each row pair of two count matrices."""
    p = p / np.maximum(p.sum(axis=1, keepdims=True), 1)
    q = q / np.maximum(q.sum(axis=1, keepdims=True), 1)
    m = (p + q) / 2
    result: np.ndarray = (special.rel_entr(p, m).sum(axis=1) + special.rel_entr(q, m).sum(axis=1)) / 2
    return result


# --------------------------------------------------------------------------- null distributions and tests


@dataclass(frozen=True)
class NullFit:
    """A statistic's null distribution at one batch size, from simulated replicates, as two fitted tails.

    A moment-matched gamma (divergences are asymptotically scaled chi-square) and a lognormal fitted to the logs;
    the p-value is the larger of the two tails. Measured against 20,000 direct null replicates of the Adult
    features at 200 and 1,000 rows (``benchmarks/drift_calibration.py``), the gamma alone was up to 3x too small at
    p = 0.001 for small samples (PSI with nearly empty bins, Wasserstein on skewed features) and the lognormal
    mostly too large; their maximum stays within about 2x of the true tail, mostly on the safe side.
    """

    mean: float
    var: float
    log_mean: float
    log_sd: float
    positive: float  # share of replicates above zero (the lognormal covers those)

    @classmethod
    def of(cls, samples: np.ndarray) -> NullFit:
        positive = samples[samples > 0]
        logs = np.log(positive) if positive.size > 1 else np.zeros(2)
        return cls(
            float(samples.mean()),
            float(samples.var(ddof=1)),
            float(logs.mean()),
            float(logs.std(ddof=1)),
            positive.size / max(samples.size, 1),
        )

    def gamma_p_value(self, observed: float) -> float:
        """P(T >= observed) under the moment-matched gamma alone (for a null with a point mass at zero, such as
        1 - NDCG, where most resamples rank the features alike and a lognormal of the rest is meaningless)."""
        if not np.isfinite(observed):
            return float("nan")
        if self.var <= 0 or self.mean <= 0:
            return 0.0 if observed > self.mean * (1 + 1e-9) + 1e-12 else 1.0
        shape, scale = self.mean**2 / self.var, self.var / self.mean
        return float(special.gammaincc(shape, max(observed, 0.0) / scale))

    def p_value(self, observed: float) -> float:
        """P(T >= observed) under the null (the larger of the gamma and lognormal tails)."""
        gamma = self.gamma_p_value(observed)
        if not np.isfinite(observed) or self.var <= 0 or self.mean <= 0 or observed <= 0:
            return gamma if observed > 0 or not np.isfinite(observed) else 1.0
        lognormal = self.positive * float(special.ndtr(-(np.log(observed) - self.log_mean) / max(self.log_sd, 1e-12)))
        return max(gamma, lognormal)


def null_rng(name: str, n: int) -> np.random.Generator:
    """A generator seeded by what is tested and at which size: the same data always gets the same verdict."""
    return np.random.default_rng([zlib.crc32(name.encode()), n])


def two_sample_null(
    probabilities: np.ndarray,
    n_ref: int,
    n_cur: int,
    statistic: Callable[[np.ndarray, np.ndarray], np.ndarray],
    rng: np.random.Generator,
    replicates: int = NULL_REPLICATES,
) -> NullFit:
    """Null distribution of ``statistic(reference counts, current counts)`` when both samples are drawn from
    the same distribution: the baseline's shares, a reference of its size and a current batch of this size."""
    p = probabilities / probabilities.sum()
    ref = _reference_replicates(p.tobytes(), n_ref, replicates)
    cur = rng.multinomial(n_cur, p, size=replicates).astype(np.float64)
    return NullFit.of(statistic(ref, cur))


@functools.lru_cache(maxsize=128)
def _reference_replicates(p: bytes, n_ref: int, replicates: int) -> np.ndarray:
    """Baseline-sized draws depend on the baseline alone (half of the simulation's cost): drawn once per process
    for a baseline distribution, seeded by it, and shared by the checks of every batch size."""
    shares = np.frombuffer(p, dtype=np.float64)
    rng = np.random.default_rng([zlib.crc32(p), n_ref, replicates])
    draws: np.ndarray = rng.multinomial(n_ref, shares, size=replicates).astype(np.float64)
    draws.flags.writeable = False
    return draws


def holm(p_values: list[float]) -> list[float]:
    """Holm's step-down adjustment: family-wise error control over every test of one run (NaN counts as 1)."""
    p = np.nan_to_num(np.asarray(p_values, dtype=np.float64), nan=1.0)
    if not p.size:
        return []
    order = np.argsort(p, kind="stable")
    adjusted = np.minimum(1.0, np.maximum.accumulate((p.size - np.arange(p.size)) * p[order]))
    result = np.empty(p.size)
    result[order] = adjusted
    return [float(v) for v in result]


def one_sided_normal_p(z: float) -> float:
    """P(Z >= z) for a standard normal Z."""
    return float(special.ndtr(-z)) if np.isfinite(z) else float("nan")


def two_sided_normal_p(z: float) -> float:
    return float(2 * special.ndtr(-abs(z))) if np.isfinite(z) else float("nan")


def proportion_change_p(x1: float, n1: float, x2: float, n2: float) -> float:
    """Two-sided p-value of a change between two proportions (pooled z test)."""
    if not n1 or not n2:
        return float("nan")
    pooled = (x1 + x2) / (n1 + n2)
    se = np.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    return two_sided_normal_p((x2 / n2 - x1 / n1) / se) if se else (1.0 if x1 / n1 == x2 / n2 else 0.0)


def auc_standard_error(auc: float, positives: int, negatives: int) -> float:
    """Hanley and McNeil's (1982) standard error of an AUC."""
    if not positives or not negatives or not np.isfinite(auc):
        return float("nan")
    q1, q2 = auc / (2 - auc), 2 * auc**2 / (1 + auc)
    var = (auc * (1 - auc) + (positives - 1) * (q1 - auc**2) + (negatives - 1) * (q2 - auc**2)) / (
        positives * negatives
    )
    return float(np.sqrt(max(var, 0.0)))


def ndcg(baseline: np.ndarray, current: np.ndarray) -> float:
    """Normalised discounted cumulative gain of the current attribution ranking, as SageMaker Clarify's
    feature-attribution drift: gains are the baseline attributions, taken in the order the current ranks them."""
    return float(ndcg_rows(baseline, current[None, :])[0])


def ndcg_rows(baseline: np.ndarray, current: np.ndarray) -> np.ndarray:
    discount = 1 / np.log2(np.arange(2, baseline.size + 2))
    ideal = np.sort(baseline)[::-1] @ discount
    order = np.argsort(-current, axis=1, kind="stable")
    result: np.ndarray = (baseline[order] @ discount) / ideal if ideal else np.ones(current.shape[0])
    return result


@dataclass(frozen=True)
class Grid:
    """A numeric baseline support compressed to at most ``NULL_GRID`` points (the Wasserstein test statistic's
    support, so its null simulation costs the same for any baseline), and the grid slot of every interleaved
    bucket: a value moves up to the next grid point, as in ``compress``; above the range, to the last one."""

    points: np.ndarray
    counts: np.ndarray
    bucket_slot: np.ndarray

    @classmethod
    def of(cls, values: np.ndarray, counts: np.ndarray, size: int = NULL_GRID) -> Grid:
        points, grid_counts = compress(values, counts, size)
        slot = np.searchsorted(points, values)
        bucket_slot = np.empty(2 * values.size + 1, dtype=np.int64)
        bucket_slot[1::2] = slot
        bucket_slot[0:-1:2] = slot
        bucket_slot[-1] = max(points.size - 1, 0)
        return cls(points, grid_counts.astype(np.float64), bucket_slot)

    def current(self, cur_buckets: np.ndarray) -> np.ndarray:
        """The current counts on the grid."""
        return np.bincount(self.bucket_slot, weights=cur_buckets, minlength=self.points.size)
