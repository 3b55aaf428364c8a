"""pipeline_code/schema.py as it was before the dataset contract (frozen here): the Adult contract must match it.

Standard library only, on purpose: the CDK app imports this module to define the SageMaker Feature Group,
and a synth must not pull in numpy or pandas. Everything the steps enforce (column names, numeric versus
categorical, allowed categories, ranges, the label and the bias facets) and everything the Feature Group
declares (record identifier, event time, feature names and types) comes from here, so the two cannot drift.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

FeatureStoreType = Literal["Integral", "Fractional", "String"]

#: Feature Store's rule for feature names; raw CSV names such as ``education-num`` do not all satisfy it.
FEATURE_NAME_PATTERN = re.compile(r"^[a-zA-Z0-9]([-_]*[a-zA-Z0-9]){0,63}$")

#: How the raw files write a missing value.
MISSING_TOKEN = "?"


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
    """A categorical raw column; the order of ``categories`` fixes the integer codes the model sees."""

    raw_name: str
    name: str
    categories: tuple[str, ...]
    feature_store_type: FeatureStoreType = "String"


Column = NumericColumn | CategoricalColumn

WORKCLASS = (
    "Private",
    "Self-emp-not-inc",
    "Self-emp-inc",
    "Federal-gov",
    "Local-gov",
    "State-gov",
    "Without-pay",
    "Never-worked",
)
EDUCATION = (
    "Bachelors",
    "Some-college",
    "11th",
    "HS-grad",
    "Prof-school",
    "Assoc-acdm",
    "Assoc-voc",
    "9th",
    "7th-8th",
    "12th",
    "Masters",
    "1st-4th",
    "10th",
    "Doctorate",
    "5th-6th",
    "Preschool",
)
MARITAL_STATUS = (
    "Married-civ-spouse",
    "Divorced",
    "Never-married",
    "Separated",
    "Widowed",
    "Married-spouse-absent",
    "Married-AF-spouse",
)
OCCUPATION = (
    "Tech-support",
    "Craft-repair",
    "Other-service",
    "Sales",
    "Exec-managerial",
    "Prof-specialty",
    "Handlers-cleaners",
    "Machine-op-inspct",
    "Adm-clerical",
    "Farming-fishing",
    "Transport-moving",
    "Priv-house-serv",
    "Protective-serv",
    "Armed-Forces",
)
RELATIONSHIP = ("Wife", "Own-child", "Husband", "Not-in-family", "Other-relative", "Unmarried")
RACE = ("White", "Asian-Pac-Islander", "Amer-Indian-Eskimo", "Other", "Black")
SEX = ("Female", "Male")
NATIVE_COUNTRY = (
    "United-States",
    "Cambodia",
    "England",
    "Puerto-Rico",
    "Canada",
    "Germany",
    "Outlying-US(Guam-USVI-etc)",
    "India",
    "Japan",
    "Greece",
    "South",
    "China",
    "Cuba",
    "Iran",
    "Honduras",
    "Philippines",
    "Italy",
    "Poland",
    "Jamaica",
    "Vietnam",
    "Mexico",
    "Portugal",
    "Ireland",
    "France",
    "Dominican-Republic",
    "Laos",
    "Ecuador",
    "Taiwan",
    "Haiti",
    "Columbia",
    "Hungary",
    "Guatemala",
    "Nicaragua",
    "Scotland",
    "Thailand",
    "Yugoslavia",
    "El-Salvador",
    "Trinadad&Tobago",
    "Peru",
    "Hong",
    "Holand-Netherlands",
)

#: The feature columns in raw-file order; this is also the column order of the processed data.
FEATURES: tuple[Column, ...] = (
    NumericColumn("age", "age", 16, 100),
    CategoricalColumn("workclass", "workclass", WORKCLASS),
    NumericColumn("fnlwgt", "fnlwgt", 1, 10_000_000),
    CategoricalColumn("education", "education", EDUCATION),
    NumericColumn("education-num", "education_num", 1, 16),
    CategoricalColumn("marital-status", "marital_status", MARITAL_STATUS),
    CategoricalColumn("occupation", "occupation", OCCUPATION),
    CategoricalColumn("relationship", "relationship", RELATIONSHIP),
    CategoricalColumn("race", "race", RACE),
    CategoricalColumn("sex", "sex", SEX),
    NumericColumn("capital-gain", "capital_gain", 0, 100_000),
    NumericColumn("capital-loss", "capital_loss", 0, 10_000),
    NumericColumn("hours-per-week", "hours_per_week", 1, 100),
    CategoricalColumn("native-country", "native_country", NATIVE_COUNTRY),
)

#: The raw label column, its two values, and which one is the positive class (the test file adds a dot).
RAW_LABEL = "Y"
LABEL = "income_over_50k"
LABEL_VALUES = ("<=50K", ">50K")
POSITIVE_LABEL = ">50K"
LABEL_TRAILING_CHARS = "."

RAW_COLUMNS: tuple[str, ...] = (*(c.raw_name for c in FEATURES), RAW_LABEL)
FEATURE_NAMES: tuple[str, ...] = tuple(c.name for c in FEATURES)
NUMERIC_FEATURES: tuple[str, ...] = tuple(c.name for c in FEATURES if isinstance(c, NumericColumn))
CATEGORICAL_FEATURES: tuple[str, ...] = tuple(c.name for c in FEATURES if isinstance(c, CategoricalColumn))

#: Sensitive attributes whose groups the bias checks compare.
FACETS: tuple[str, ...] = ("sex", "race")

#: Feature Store: the record identifier and event time features, added to each record by feature_records.
RECORD_IDENTIFIER_NAME = "record_id"
EVENT_TIME_NAME = "event_time"


def column(name: str) -> Column:
    """Look a feature column up by its processed name."""
    for col in FEATURES:
        if col.name == name:
            return col
    raise KeyError(name)


def feature_store_definitions() -> list[dict[str, str]]:
    """The Feature Group's ``FeatureDefinitions``: record id, event time, every feature and the label.

    Categorical features are stored as their category strings, not as model codes, so the store stays
    readable and a later change of encoding does not invalidate it.
    """
    definitions = [
        {"FeatureName": RECORD_IDENTIFIER_NAME, "FeatureType": "String"},
        {"FeatureName": EVENT_TIME_NAME, "FeatureType": "String"},
    ]
    definitions += [{"FeatureName": c.name, "FeatureType": c.feature_store_type} for c in FEATURES]
    definitions.append({"FeatureName": LABEL, "FeatureType": "Integral"})
    return definitions
