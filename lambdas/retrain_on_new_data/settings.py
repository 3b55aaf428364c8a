"""The new-data trigger's environment variables (set by CDK from config)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from lambdas.shared.settings import TriggerSettings


class NewDataSettings(TriggerSettings):
    raw_bucket: Annotated[str, Field(alias="RAW_BUCKET_NAME", min_length=3)]
    input_prefix: Annotated[str, Field(alias="INPUT_PREFIX", pattern=r"^[\w!.*'()/-]+/$")]  # adult/
    min_new_rows: Annotated[int, Field(alias="MIN_NEW_ROWS", gt=0)]
    min_new_bytes: Annotated[int, Field(alias="MIN_NEW_BYTES", gt=0)]
    average_row_bytes: Annotated[int, Field(alias="AVERAGE_ROW_BYTES", gt=0)]
