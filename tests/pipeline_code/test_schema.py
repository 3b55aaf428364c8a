"""The schema is what the CDK app imports: it must stay standard-library only and Feature-Store-valid."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from pipeline_code import schema

REPO = Path(__file__).resolve().parents[2]


def test_schema_imports_no_third_party_module() -> None:
    code = (
        "import sys; import pipeline_code.schema; "
        "heavy = {'numpy', 'pandas', 'pyarrow', 'scipy', 'sklearn', 'xgboost'} & set(sys.modules); "
        "assert not heavy, heavy"
    )
    subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True)


def test_feature_store_names_and_types_are_valid() -> None:
    definitions = schema.feature_store_definitions()
    names = [d["FeatureName"] for d in definitions]
    assert len(names) == len(set(names))
    assert all(schema.FEATURE_NAME_PATTERN.fullmatch(n) for n in names), names
    assert {d["FeatureType"] for d in definitions} <= {"Integral", "Fractional", "String"}
    assert names[:2] == [schema.RECORD_IDENTIFIER_NAME, schema.EVENT_TIME_NAME]
    assert "education_num" in names
    assert "education-num" not in names


def test_facets_are_categorical_features() -> None:
    assert set(schema.FACETS) <= set(schema.CATEGORICAL_FEATURES)
    assert len(schema.RAW_COLUMNS) == 15
