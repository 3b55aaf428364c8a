"""The new-data trigger's environment variables (set by CDK from config)."""

from __future__ import annotations

from dataclasses import dataclass, field

from lambdas.shared.settings import TriggerSettings, env

_POSITIVE = {"type": "integer", "exclusiveMinimum": 0}


@dataclass(frozen=True, slots=True, kw_only=True)
class NewDataSettings(TriggerSettings):
    # adult/
    input_prefix: str = field(metadata=env("INPUT_PREFIX", {"type": "string", "pattern": r"^[\w!.*'()/-]+/$"}))
    min_new_rows: int = field(metadata=env("MIN_NEW_ROWS", _POSITIVE))
    min_new_bytes: int = field(metadata=env("MIN_NEW_BYTES", _POSITIVE))
    average_row_bytes: int = field(metadata=env("AVERAGE_ROW_BYTES", _POSITIVE))
