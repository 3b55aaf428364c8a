"""Controlled distribution shifts of processed data, to show and test that the drift check finds them.

Each shift changes one thing and leaves the rest as it was, so a correct check flags exactly that:
- ``numeric``: add a constant to one numeric feature (default: age + 10 years);
- ``category``: redraw one categorical feature from re-weighted category shares, independently of the other
  columns (default: workclass with 'Private' cut from ~70 % to 35 %);
- ``label-prior``: resample rows so the positive rate moves (default: to 40 %). This is a true prior shift:
  P(x | y) is kept, so features correlated with the label move a little too, by their real amount.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from pipeline_code import schema, tabular

SCENARIOS = ("numeric", "category", "label-prior")
#: which features each scenario moves (the label-prior scenario moves the label, not a feature)
SHIFTED_FEATURES = {"numeric": {"age"}, "category": {"workclass"}, "label-prior": set()}


def numeric_shift(
    batch: tabular.EncodedBatch, rng: np.random.Generator, feature: str = "age", delta: float = 10.0
) -> tabular.EncodedBatch:
    """Add ``delta`` to one numeric feature."""
    features = batch.features.copy()
    features[:, schema.FEATURE_NAMES.index(feature)] += delta
    return tabular.EncodedBatch(features, batch.label)


def category_reweight(
    batch: tabular.EncodedBatch,
    rng: np.random.Generator,
    feature: str = "workclass",
    boost: str = "Private",
    share: float = 0.35,
) -> tabular.EncodedBatch:
    """Redraw one categorical feature with category ``boost`` set to ``share`` and the others scaled."""
    col = schema.column(feature)
    assert isinstance(col, schema.CategoricalColumn)
    j = schema.FEATURE_NAMES.index(feature)
    counts = np.bincount(batch.features[:, j].astype(np.int64) + 1, minlength=len(col.categories) + 1)
    weights = counts / counts.sum()
    target = col.categories.index(boost) + 1
    others = 1.0 - weights[target]
    weights = weights * (1.0 - share) / others if others else weights
    weights[target] = share
    features = batch.features.copy()
    features[:, j] = rng.choice(np.arange(-1, len(col.categories)), size=features.shape[0], p=weights / weights.sum())
    return tabular.EncodedBatch(features, batch.label)


def label_prior_shift(
    batch: tabular.EncodedBatch, rng: np.random.Generator, positive_rate: float = 0.40
) -> tabular.EncodedBatch:
    """Resample rows (same row count) so that a share ``positive_rate`` of them is positive."""
    assert batch.label is not None
    n = batch.label.size
    positives, negatives = np.flatnonzero(batch.label == 1), np.flatnonzero(batch.label == 0)
    n_pos = round(n * positive_rate)
    rows = np.concatenate([rng.choice(positives, n_pos), rng.choice(negatives, n - n_pos)])
    rng.shuffle(rows)
    return tabular.EncodedBatch(batch.features[rows], batch.label[rows])


SHIFTS: dict[str, Callable[[tabular.EncodedBatch, np.random.Generator], tabular.EncodedBatch]] = {
    "numeric": numeric_shift,
    "category": category_reweight,
    "label-prior": label_prior_shift,
}


def shift(batch: tabular.EncodedBatch, scenario: str, seed: int = 7) -> tabular.EncodedBatch:
    """Apply one named scenario with its defaults."""
    return SHIFTS[scenario](batch, np.random.default_rng(seed))
