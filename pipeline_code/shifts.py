"""Controlled distribution shifts of processed data, to show and test that the drift check finds them.

Each scenario changes one thing; the magnitudes are plausible changes of real traffic chosen before the checks
were run on them (none was adjusted to make a check pass):

- ``numeric``: the first numeric feature + 10 for everyone (Adult: age + 10 years); the others are Adult's own
  scenarios (they name its columns);
- ``category``: workclass redrawn with 'Private' cut from ~70 % to 35 %, independently of the other columns;
- ``label-prior``: rows resampled so the positive rate is 40 % (P(x | y) kept: features correlated with the
  label move too, by their real amount, e.g. years of education);
- ``subgroup``: 6 more working hours a week, for women only (a third of the rows): diluted in the whole;
- ``tail``: the non-zero capital gains (8 % of rows) multiplied by a random factor around 2 (lognormal, capped
  at the data's 99,999): a change in the tail of a mostly-zero feature;
- ``missing``: occupation and workclass missing for a random 20 % of rows, hours per week for 15 %;
- ``population-mix``: rows resampled so 60 % of people are under 30 (29 % in Adult);
- ``label-noise``: the labels of 30 % of the rows in the window's second half flipped (bad ground truth, or a
  changed concept): model quality drops (and the positive rate moves);
- ``facet-outcome``: women's rows resampled so 35 % of them earn over 50K (10 % in Adult): the model's
  positive-prediction gap between women and men (DPPL) changes;
- ``gain-surge``: a random 30 % of rows report a capital gain of 15,024 (a common value in Adult): capital gain
  becomes the feature the model leans on most, so the attribution ranking changes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from pipeline_code import schema, tabular

Shift = Callable[[tabular.EncodedBatch, np.random.Generator], tabular.EncodedBatch]


def _col(name: str) -> int:
    return schema.FEATURE_NAMES.index(name)


def _category(feature: str, value: str) -> int:
    col = schema.column(feature)
    assert isinstance(col, schema.CategoricalColumn)
    return col.categories.index(value)


def numeric_shift(
    batch: tabular.EncodedBatch, rng: np.random.Generator, feature: str | None = None, delta: float = 10.0
) -> tabular.EncodedBatch:
    """Add ``delta`` to one numeric feature (default: the data set's first, Adult's age)."""
    features = batch.features.copy()
    features[:, _col(feature or schema.NUMERIC_FEATURES[0])] += delta
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
    j = _col(feature)
    counts = np.bincount(batch.features[:, j].astype(np.int64) + 1, minlength=len(col.categories) + 1)
    weights = counts / counts.sum()
    target = col.categories.index(boost) + 1
    others = 1.0 - weights[target]
    weights = weights * (1.0 - share) / others if others else weights
    weights[target] = share
    features = batch.features.copy()
    features[:, j] = rng.choice(np.arange(-1, len(col.categories)), size=features.shape[0], p=weights / weights.sum())
    return tabular.EncodedBatch(features, batch.label)


def _resample(batch: tabular.EncodedBatch, chosen: np.ndarray, others: np.ndarray, share: float,
              rng: np.random.Generator, n: int) -> np.ndarray:  # fmt: skip
    """Row indices: ``n`` rows of which a share ``share`` drawn from ``chosen`` and the rest from ``others``."""
    k = round(n * share)
    rows = np.concatenate([rng.choice(chosen, k), rng.choice(others, n - k)])
    rng.shuffle(rows)
    return rows


def _take(batch: tabular.EncodedBatch, rows: np.ndarray) -> tabular.EncodedBatch:
    return tabular.EncodedBatch(batch.features[rows], None if batch.label is None else batch.label[rows])


def label_prior_shift(
    batch: tabular.EncodedBatch, rng: np.random.Generator, positive_rate: float = 0.40
) -> tabular.EncodedBatch:
    """Resample rows (same row count) so that a share ``positive_rate`` of them is positive."""
    assert batch.label is not None
    positives, negatives = np.flatnonzero(batch.label == 1), np.flatnonzero(batch.label == 0)
    return _take(batch, _resample(batch, positives, negatives, positive_rate, rng, batch.label.size))


def subgroup_shift(batch: tabular.EncodedBatch, rng: np.random.Generator, hours: float = 6.0) -> tabular.EncodedBatch:
    """Women work ``hours`` more a week (capped at the schema's 100); nobody else changes."""
    features = batch.features.copy()
    women = features[:, _col("sex")] == _category("sex", "Female")
    j = _col("hours_per_week")
    features[women, j] = np.minimum(features[women, j] + hours, 100)
    return tabular.EncodedBatch(features, batch.label)


def tail_shift(batch: tabular.EncodedBatch, rng: np.random.Generator) -> tabular.EncodedBatch:
    """Non-zero capital gains times a lognormal factor (median 2, sigma 0.3), whole dollars, capped at 99,999."""
    features = batch.features.copy()
    j = _col("capital_gain")
    gains = features[:, j] > 0
    factor = np.exp(rng.normal(np.log(2.0), 0.3, int(gains.sum())))
    features[gains, j] = np.minimum(np.round(features[gains, j] * factor), 99_999)
    return tabular.EncodedBatch(features, batch.label)


def missing_surge(batch: tabular.EncodedBatch, rng: np.random.Generator) -> tabular.EncodedBatch:
    """Occupation and workclass missing on 20 % of rows, hours per week on 15 % (independently drawn)."""
    features = batch.features.copy()
    n = features.shape[0]
    lost = rng.random(n) < 0.20
    features[lost, _col("occupation")] = tabular.MISSING_CODE
    features[lost, _col("workclass")] = tabular.MISSING_CODE
    features[rng.random(n) < 0.15, _col("hours_per_week")] = np.nan
    return tabular.EncodedBatch(features, batch.label)


def population_mix(batch: tabular.EncodedBatch, rng: np.random.Generator, young: float = 0.6) -> tabular.EncodedBatch:
    """Resample rows (same row count) so that a share ``young`` of people is under 30."""
    under = batch.features[:, _col("age")] < 30
    rows = _resample(batch, np.flatnonzero(under), np.flatnonzero(~under), young, rng, batch.features.shape[0])
    return _take(batch, rows)


def label_noise(batch: tabular.EncodedBatch, rng: np.random.Generator, share: float = 0.3) -> tabular.EncodedBatch:
    """Flip the labels of a share ``share`` of the rows in the second half of the window."""
    assert batch.label is not None
    label = batch.label.copy()
    half = label.size // 2
    flip = np.zeros(label.size, dtype=bool)
    flip[half:] = rng.random(label.size - half) < share
    label[flip] = 1 - label[flip]
    return tabular.EncodedBatch(batch.features, label)


def facet_outcome(batch: tabular.EncodedBatch, rng: np.random.Generator, rate: float = 0.35) -> tabular.EncodedBatch:
    """Women's rows resampled (same number of women) so that a share ``rate`` of them is positive."""
    assert batch.label is not None
    women = batch.features[:, _col("sex")] == _category("sex", "Female")
    w = np.flatnonzero(women)
    w_pos, w_neg = w[batch.label[w] == 1], w[batch.label[w] == 0]
    rows = np.concatenate([np.flatnonzero(~women), _resample(batch, w_pos, w_neg, rate, rng, w.size)])
    rng.shuffle(rows)
    return _take(batch, rows)


def gain_surge(batch: tabular.EncodedBatch, rng: np.random.Generator, share: float = 0.3) -> tabular.EncodedBatch:
    """A random ``share`` of rows get a capital gain of 15,024."""
    features = batch.features.copy()
    features[rng.random(features.shape[0]) < share, _col("capital_gain")] = 15_024
    return tabular.EncodedBatch(features, batch.label)


@dataclass(frozen=True)
class Scenario:
    """A shift and what a correct check reports for it.

    ``features``: the features it moves that must be flagged. ``checks``: the other checks that must flag
    (label, quality, bias, attribution). ``exclusive``: it changes only those columns, independently of the
    rest, so no other feature may be flagged; resampling scenarios move correlated features by their real
    amount, which may rightly be flagged too.
    """

    apply: Shift
    features: frozenset[str]
    checks: frozenset[str] = frozenset()
    exclusive: bool = True


SCENARIOS_BY_NAME: dict[str, Scenario] = {
    "numeric": Scenario(numeric_shift, frozenset(schema.NUMERIC_FEATURES[:1])),
    "category": Scenario(category_reweight, frozenset({"workclass"})),
    "label-prior": Scenario(label_prior_shift, frozenset(), frozenset({"label_drift"}), exclusive=False),
    "subgroup": Scenario(subgroup_shift, frozenset({"hours_per_week"})),
    "tail": Scenario(tail_shift, frozenset({"capital_gain"})),
    "missing": Scenario(missing_surge, frozenset({"occupation", "workclass", "hours_per_week"})),
    "population-mix": Scenario(population_mix, frozenset({"age"}), exclusive=False),
    "label-noise": Scenario(label_noise, frozenset(), frozenset({"model_quality_drift", "label_drift"})),
    "facet-outcome": Scenario(facet_outcome, frozenset(), frozenset({"bias_drift"}), exclusive=False),
    "gain-surge": Scenario(gain_surge, frozenset({"capital_gain"}), frozenset({"attribution_drift"})),
}
SCENARIOS = tuple(SCENARIOS_BY_NAME)
#: the three scenarios of the first drift check (the test suite's shared local run checks these end to end)
BASIC_SCENARIOS = ("numeric", "category", "label-prior")
#: which features each scenario moves (the label-prior scenario moves the label, not a feature)
SHIFTED_FEATURES = {name: set(s.features) for name, s in SCENARIOS_BY_NAME.items()}


def shift(batch: tabular.EncodedBatch, scenario: str, seed: int = 7) -> tabular.EncodedBatch:
    """Apply one named scenario with its defaults."""
    return SCENARIOS_BY_NAME[scenario].apply(batch, np.random.default_rng(seed))
