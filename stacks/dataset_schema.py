"""The curated data set's Glue columns, derived from the data set's contract (`pipeline_code.schema.Dataset`).

`pipeline_code.schema` is standard-library only, so importing it here costs synth nothing.
"""

from __future__ import annotations

from pipeline_code import schema

_GLUE_TYPES = {"Integral": "bigint", "Fractional": "double", "String": "string"}


def curated_glue_columns(dataset: schema.Dataset) -> list[tuple[str, str]]:
    """(name, Hive type) of each column of the cleaned, labelled rows, in the contract's order."""
    columns = [(c.name, _GLUE_TYPES[c.feature_store_type]) for c in dataset.features]
    return [*columns, (dataset.label, "bigint")]
