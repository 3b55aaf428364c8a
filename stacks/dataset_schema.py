"""The curated data set's Glue columns, derived from the one schema the ML steps use (`pipeline_code.schema`).

`pipeline_code.schema` is standard-library only, so importing it here costs synth nothing.
"""

from __future__ import annotations

from pipeline_code import schema

CURATED_DATASET_NAME = "adult"

_GLUE_TYPES = {"Integral": "bigint", "Fractional": "double", "String": "string"}


def curated_glue_columns() -> list[tuple[str, str]]:
    """(name, Hive type) of each column of the cleaned, labelled Adult rows, in the schema's order."""
    columns = [(c.name, _GLUE_TYPES[c.feature_store_type]) for c in schema.FEATURES]
    return [*columns, (schema.LABEL, "bigint")]
