"""The data set's schema, read from its contract: one definition shared by the ML steps and the CDK app.

A data set is described once, by its contract `datasets/<name>.yaml` (validated by `config.dataset`). The steps
run in SageMaker's containers, which may lack pydantic and PyYAML, so they read the contract's JSON rendering,
`pipeline_code/datasets/<name>.json`, shipped with the step code (written by `python -m config.dataset`; a contract
edit therefore changes the step code's content hash: it is a code change, and retrains).

Standard library only, on purpose: the CDK app calls `load` for the Feature Group, the Glue table and the
dashboards, and a synth must not pull in numpy or pandas.

Two ways in:

- `load(name)` returns a `Dataset`; the CDK app and the definition builder use it, with the name from the
  environment's config (`dataset`), so one process can synthesize environments of different data sets.
- The module-level names (`FEATURES`, `LABEL`, `RAW_COLUMNS`, ...) are the *active* data set of a step's process:
  the one named by `MLOPS_DATASET` (set on every job by the pipeline definition), else `DEFAULT_DATASET`. A step
  is one process working on one data set, so it reads them as constants.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Literal

FeatureStoreType = Literal["Integral", "Fractional", "String"]

#: Feature Store's rule for feature names; raw CSV names such as ``education-num`` do not all satisfy it.
FEATURE_NAME_PATTERN = re.compile(r"^[a-zA-Z0-9]([-_]*[a-zA-Z0-9]){0,63}$")

#: The contracts' JSON renderings, shipped with the step code.
DATASETS_DIR = Path(__file__).resolve().parent / "datasets"
#: The variable that names a job's data set; the pipeline definitions set it on every job.
DATASET_VARIABLE = "MLOPS_DATASET"
#: The data set of a process that names none (local runs, tests): the shipped example.
DEFAULT_DATASET = "adult"


@dataclass(frozen=True)
class NumericColumn:
    """A numeric raw column, with the range a valid value must lie in (inclusive)."""

    raw_name: str
    name: str
    minimum: float
    maximum: float
    feature_store_type: FeatureStoreType = "Integral"


@dataclass(frozen=True)
class CategoricalColumn:
    """A categorical raw column; the order of ``categories`` fixes the integer codes the model sees.

    A learned column (``learn`` set: (min_count, max_categories)) lists none: preprocessing learns them from the
    training split into the model's feature manifest (`features.FeatureManifest.from_schema`), with `OTHER` last.
    """

    raw_name: str
    name: str
    categories: tuple[str, ...]
    feature_store_type: FeatureStoreType = "String"
    learn: tuple[int, int] | None = None


#: The last category of a learned column: every value the training split did not teach (or too rare) maps to it.
OTHER = "(other)"


Column = NumericColumn | CategoricalColumn


@dataclass(frozen=True)
class Facet:
    """A sensitive attribute the bias checks compare the groups of; `group` is the one the single-facet checks
    (SageMaker Clarify's, Model Monitor's) compare against the rest."""

    name: str
    group: str


@dataclass(frozen=True)
class Dataset:
    """One data set's contract, as the steps and the CDK app use it."""

    name: str
    title: str  # a short name for descriptions
    features: tuple[Column, ...]  # raw-file order of the feature columns: the processed data's column order
    raw_columns: tuple[str, ...]  # every raw column, in raw-file order (the features and the label)
    raw_label: str
    label: str
    label_values: tuple[str, str]  # (negative, positive), as the raw files write them
    label_trailing_chars: str
    facets: tuple[Facet, ...]
    missing_token: str
    record_identifier_name: str
    event_time_name: str
    raw_prefix: str  # where its files land in the raw zone: `<name>/`
    average_row_bytes: int  # of a raw CSV row: the new-data trigger's row estimate
    min_facet_group: int  # the smallest facet group the bias checks report
    timestamps: tuple[str, ...] = ()  # raw columns of type timestamp: carried, never a feature
    description: str = ""

    @property
    def positive_label(self) -> str:
        return self.label_values[1]

    @property
    def feature_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.features)

    @property
    def numeric_features(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.features if isinstance(c, NumericColumn))

    @property
    def categorical_features(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.features if isinstance(c, CategoricalColumn))

    @property
    def facet_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.facets)

    def column(self, name: str) -> Column:
        """A feature column by its processed name."""
        for col in self.features:
            if col.name == name:
                return col
        raise KeyError(name)

    def facet_group_code(self, facet: Facet | None = None) -> int:
        """The model code of a facet's compared group (the first facet's by default): what Clarify's
        `facet_values_or_threshold` names, since the checks read encoded data."""
        facet = facet or self.facets[0]
        col = self.column(facet.name)
        assert isinstance(col, CategoricalColumn)
        return col.categories.index(facet.group)

    def feature_store_definitions(self) -> list[dict[str, str]]:
        """The Feature Group's ``FeatureDefinitions``: record id, event time, every feature and the label.

        Categorical features are stored as their category strings, not as model codes, so the store stays
        readable and a later change of encoding does not invalidate it.
        """
        definitions = [
            {"FeatureName": self.record_identifier_name, "FeatureType": "String"},
            {"FeatureName": self.event_time_name, "FeatureType": "String"},
        ]
        definitions += [{"FeatureName": c.name, "FeatureType": c.feature_store_type} for c in self.features]
        definitions.append({"FeatureName": self.label, "FeatureType": "Integral"})
        return definitions

    @classmethod
    def from_document(cls, document: dict[str, Any]) -> Dataset:
        """A rendering (`config.dataset.render`) back as a `Dataset`."""
        features: list[Column] = []
        for c in document["features"]:
            if c["kind"] == "categorical":
                learn = (c["learn"]["min_count"], c["learn"]["max_categories"]) if "learn" in c else None
                features.append(CategoricalColumn(c["raw_name"], c["name"], tuple(c["categories"]), c["type"], learn))
            else:
                features.append(NumericColumn(c["raw_name"], c["name"], c["minimum"], c["maximum"], c["type"]))
        label = document["label"]
        negative, positive = label["values"]
        return cls(
            name=document["name"],
            title=document["title"],
            features=tuple(features),
            raw_columns=tuple(document["raw_columns"]),
            raw_label=label["raw_name"],
            label=label["name"],
            label_values=(negative, positive),
            label_trailing_chars=label["trailing_chars"],
            facets=tuple(Facet(f["name"], f["group"]) for f in document["facets"]),
            missing_token=document["missing_token"],
            record_identifier_name=document["record_identifier"],
            event_time_name=document["event_time"],
            raw_prefix=document["raw_prefix"],
            average_row_bytes=document["average_row_bytes"],
            min_facet_group=document["min_facet_group"],
            timestamps=tuple(document["timestamps"]),
            description=document.get("description", ""),
        )


def rendering_path(name: str) -> Path:
    return DATASETS_DIR / f"{name}.json"


@cache
def load(name: str) -> Dataset:
    """The data set `name` from its rendering shipped with the step code; a clear error if there is none."""
    path = rendering_path(name)
    if not path.is_file():
        shipped = ", ".join(sorted(p.stem for p in DATASETS_DIR.glob("*.json"))) or "none"
        raise ValueError(
            f"no data set '{name}': {path} does not exist (rendered data sets: {shipped}); write "
            "datasets/<name>.yaml and run `python -m config.dataset`"
        )
    return Dataset.from_document(json.loads(path.read_text(encoding="utf-8")))


def active_name() -> str:
    """The data set of this process: `MLOPS_DATASET`, else the default."""
    return os.environ.get(DATASET_VARIABLE) or DEFAULT_DATASET


# ------------------------------------------------------------------ the active data set, for the steps
DATASET = load(active_name())

MISSING_TOKEN = DATASET.missing_token  #: how the raw files write a missing value
FEATURES: tuple[Column, ...] = DATASET.features  #: the feature columns in raw-file order (the processed order)
RAW_LABEL = DATASET.raw_label
LABEL = DATASET.label
LABEL_VALUES: tuple[str, str] = DATASET.label_values
POSITIVE_LABEL = DATASET.positive_label
LABEL_TRAILING_CHARS = DATASET.label_trailing_chars
RAW_COLUMNS: tuple[str, ...] = DATASET.raw_columns
FEATURE_NAMES: tuple[str, ...] = DATASET.feature_names
NUMERIC_FEATURES: tuple[str, ...] = DATASET.numeric_features
CATEGORICAL_FEATURES: tuple[str, ...] = DATASET.categorical_features
#: Sensitive attributes whose groups the bias checks compare.
FACETS: tuple[str, ...] = DATASET.facet_names
#: Feature Store: the record identifier and event time features, added to each record by feature_records.
RECORD_IDENTIFIER_NAME = DATASET.record_identifier_name
EVENT_TIME_NAME = DATASET.event_time_name


def column(name: str) -> Column:
    """Look a feature column of the active data set up by its processed name."""
    return DATASET.column(name)


def feature_store_definitions() -> list[dict[str, str]]:
    """The active data set's Feature Group ``FeatureDefinitions`` (`Dataset.feature_store_definitions`)."""
    return DATASET.feature_store_definitions()


def learned_features() -> tuple[CategoricalColumn, ...]:
    """The feature columns whose categories preprocessing learns (the contract's ``categories: learn``)."""
    return tuple(c for c in FEATURES if isinstance(c, CategoricalColumn) and c.learn)
