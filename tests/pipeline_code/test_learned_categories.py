"""A learned categorical column (the contract's `categories: learn`), in process on a small Adult sample whose
`race` column is switched to learned: preprocess learns exactly the training split's values, every other value
is "other" (in the splits, at serving, in validation and in the drift check). The penguins' learned `species`
runs end to end in tests/datasets/test_second_dataset.py."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from pipeline_code import drift, features, preprocess, schema, tabular, validate
from pipeline_code.artifacts import read_json
from pipeline_code.errors import PipelineError

RACE = schema.FEATURE_NAMES.index("race")
MARTIANS = 30  # rows with a value of their own ("Martian-<i>"): about 70% land in the training split


@pytest.fixture(scope="module")
def learned_race() -> Iterator[schema.CategoricalColumn]:
    """The active schema with Adult's `race` learned (min_count 1) instead of listed."""
    race = schema.FEATURES[RACE]
    assert isinstance(race, schema.CategoricalColumn)
    learned = dataclasses.replace(race, categories=(), learn=(1, 100))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(schema, "FEATURES", tuple(learned if c is race else c for c in schema.FEATURES))
        yield learned


@pytest.fixture(scope="module")
def sample(adult_lines: list[str], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """1,500 Adult rows and one row for each Martian value, written as a raw file with header."""
    rows = adult_lines[1:1501]
    for i in range(MARTIANS):
        fields = rows[i].split(", ")
        fields[8] = f"Martian-{i}"
        rows.append(", ".join(fields))
    path = tmp_path_factory.mktemp("learned") / "sample.csv"
    path.write_text("\n".join([adult_lines[0], *rows]) + "\n")
    return path


@pytest.fixture(scope="module")
def processed(learned_race: schema.CategoricalColumn, sample: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("processed")
    preprocess.preprocess([sample], out, (0.7, 0.15, 0.15), seed=7, max_distinct=1000)
    return out


def _manifest(out: Path) -> features.FeatureManifest:
    return features.FeatureManifest.from_document(read_json(out / "manifest" / "feature_manifest.json"), "manifest")


def _race_codes(out: Path, split: str) -> np.ndarray:
    return tabular.read_processed(out / split / f"{split}.csv").features[:, RACE]


def test_preprocess_learns_exactly_the_training_splits_values(processed: Path) -> None:
    race = _manifest(processed).features[RACE]
    assert race.learned
    assert race.categories is not None
    assert race.categories[-1] == schema.OTHER
    learned = race.categories[:-1]
    assert list(learned) == sorted(learned)
    train = _race_codes(processed, "train")
    # every training value was learned (min_count 1: none is "other") and every learned value is in training
    assert not (train == race.other_code).any()
    assert set(np.unique(train[train >= 0]).astype(int)) == set(range(len(learned)))
    assert {"White", "Black"} <= set(learned)
    # a Martian value is learned if and only if its row is in the training split; the others are "other"
    martians_learned = sum(w.startswith("Martian-") for w in learned)
    assert 0 < martians_learned < MARTIANS
    held_out = np.concatenate([_race_codes(processed, s) for s in ("validation", "test")])
    assert int((held_out == race.other_code).sum()) == MARTIANS - martians_learned
    baseline = read_json(processed / "baseline" / "baseline.json")["features"]["race"]
    assert baseline["categories"] == list(race.categories)
    assert baseline["counts"][-1] == 0
    assert all(baseline["counts"][:-1])


def test_rare_values_fold_into_other(learned_race: schema.CategoricalColumn, sample: Path, tmp_path: Path) -> None:
    with pytest.MonkeyPatch.context() as patch:
        rare = dataclasses.replace(learned_race, learn=(2, 3))  # seen twice at least, the three most frequent
        patch.setattr(schema, "FEATURES", tuple(rare if c.name == "race" else c for c in schema.FEATURES))
        learned = preprocess.learn_categories([sample], (0.7, 0.15, 0.15), seed=7)["race"]
        preprocess.preprocess([sample], tmp_path, (0.7, 0.15, 0.15), seed=7, max_distinct=1000)
    assert learned == ("Asian-Pac-Islander", "Black", "White")  # Adult's three most frequent; Martians are single
    race = _manifest(tmp_path).features[RACE]
    assert race.categories == (*learned, schema.OTHER)
    train = _race_codes(tmp_path, "train")
    assert (train == race.other_code).sum() > 0  # the Martians of the training split, and the rarer races


def test_serving_maps_an_unseen_value_to_other_and_counts_it(processed: Path) -> None:
    manifest = _manifest(processed)
    encoder = features.Encoder(manifest)
    race = manifest.features[RACE]
    record = ["39", "State-gov", "77516", "Bachelors", "13", "Never-married", "Adm-clerical", "Not-in-family",
              "Klingon", "Male", "2174", "0", "40", "United-States"]  # fmt: skip
    known = [*record[:RACE], " White ", *record[RACE + 1 :]]
    encoded = encoder.encode_records([record, known, [*record[:RACE], None, *record[RACE + 1 :]]])
    assert encoded.matrix[0, RACE] == race.other_code  # not the missing code
    assert encoded.matrix[1, RACE] == race.categories.index("White")  # type: ignore[union-attr]
    assert encoded.matrix[2, RACE] == manifest.missing_code  # missing stays missing
    assert encoded.unseen == {0: {"race": "Klingon"}}
    # a number word is a category like any other in a learned column (a listed one refuses it: a client's old codes)
    assert encoder.code(RACE, "42") == (race.other_code, True)
    assert features.Decoder(manifest).fields(encoded.matrix[0])[RACE] == schema.OTHER


def test_validation_accepts_any_value_of_a_learned_column(learned_race: schema.CategoricalColumn, sample: Path) -> None:
    report = validate.validate_frame(validate.load_raw_strings([sample]), validate.Limits(max_duplicate_ratio=0.5))
    assert report["violations"] == []
    with pytest.MonkeyPatch.context() as patch:  # the shipped (listed) race refuses the Martians
        patch.setattr(schema, "FEATURES", tuple(schema.DATASET.features))
        report = validate.validate_frame(validate.load_raw_strings([sample]), validate.Limits(max_duplicate_ratio=0.5))
    assert any("column 'race': 30 value(s) in unseen categories" in v for v in report["violations"])


def test_a_surge_of_a_new_category_is_drift_of_that_feature(processed: Path) -> None:
    baseline = read_json(processed / "baseline" / "baseline.json")
    other = _manifest(processed).features[RACE].other_code
    current = tabular.read_processed(processed / "train" / "train.csv")
    report = drift.check_batches(baseline, [current], drift.Thresholds())
    assert "race" not in {v.get("feature") for v in report["violations"]}
    surged = current.features.copy(order="F")
    surged[: surged.shape[0] // 3, RACE] = other  # a third of the rows: a value the training split never held
    report = drift.check_batches(baseline, [tabular.EncodedBatch(surged, current.label)], drift.Thresholds())
    drifted = {v["feature"] for v in report["violations"] if v["check"] == "feature_drift"}
    assert drifted == {"race"}
    assert report["features"]["race"]["plot"]["labels"][-1] == schema.OTHER


def test_feature_records_store_the_learned_words(processed: Path) -> None:
    from pipeline_code import feature_records

    batch = tabular.read_processed(processed / "validation" / "validation.csv")
    categories = feature_records.manifest_categories(processed / "manifest" / "feature_manifest.json")
    assert list(categories) == ["race"]
    records = feature_records.to_records(batch, "2026-01-01T00:00:00Z", categories)
    words = {f["ValueAsString"] for r in records for f in r if f["FeatureName"] == "race"}
    assert schema.OTHER in words  # the validation split's Martians the training split did not hold
    assert "White" in words
    rows = [feature_records.from_record(r, categories)[1] for r in records]
    np.testing.assert_array_equal(np.asarray(rows), batch.features)
    with pytest.raises(PipelineError, match="feature 'race' has learned categories: the feature manifest is needed"):
        feature_records.to_records(batch, "2026-01-01T00:00:00Z")
