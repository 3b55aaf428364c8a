"""What every starter of the training pipeline sends: its parameters, built in this one place.

Standard library only: the Lambdas, the release's CodeBuild steps (boto3 only) and the manual CLI import it.

`TriggerDetail` ends up in the registered model package's `CustomerMetadataProperties`, whose values must be
1-256 characters matching `[\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*`; `metadata_value` makes any text fit (other characters
become `_`, long text is clipped, empty text becomes `-`). Free text belongs in the execution's description.
"""

from __future__ import annotations

import unicodedata

TRIGGER = "Trigger"
TRIGGER_DETAIL = "TriggerDetail"
INPUT_MANIFEST = "InputManifestUri"
CODE_VERSION = "CodeVersion"
TRIGGERS = ("manual", "new-data", "drift", "code-change", "schedule")  # the Trigger parameter's documented values

MAX_METADATA_VALUE = 256  # SageMaker CustomerMetadataProperties value length
MAX_DESCRIPTION = 3072  # StartPipelineExecution's PipelineExecutionDescription
MAX_DISPLAY_NAME = 82
_ALLOWED_PUNCTUATION = frozenset("_.:/=+-@")
_ALLOWED_CATEGORIES = frozenset("LZN")  # letters, separators (spaces), numbers: \p{L} \p{Z} \p{N}
_ELLIPSIS = "..."
EMPTY_VALUE = "-"


def _allowed(char: str) -> bool:
    return char in _ALLOWED_PUNCTUATION or unicodedata.category(char)[0] in _ALLOWED_CATEGORIES


def metadata_value(text: str) -> str:
    """`text` as a model package metadata value: disallowed characters replaced by `_`, runs of blanks folded,
    at most 256 characters (clipped with `...`), never empty."""
    cleaned = " ".join("".join(c if _allowed(c) else "_" for c in text).split())
    if len(cleaned) > MAX_METADATA_VALUE:
        cleaned = cleaned[: MAX_METADATA_VALUE - len(_ELLIPSIS)] + _ELLIPSIS
    return cleaned or EMPTY_VALUE


def description(text: str) -> str:
    """The execution's description (free text, up to 3,072 characters)."""
    return text if len(text) <= MAX_DESCRIPTION else text[: MAX_DESCRIPTION - len(_ELLIPSIS)] + _ELLIPSIS


def display_name(text: str) -> str:
    """An execution display name: letters, digits and `-` only (SageMaker's pattern), at most 82 characters."""
    name = "".join(c if c.isascii() and (c.isalnum() or c == "-") else "-" for c in text).strip("-")
    return name[:MAX_DISPLAY_NAME] or "run"


def run_parameters(*, trigger: str, detail: str, manifest_uri: str, code_version: str | None = None) -> dict[str, str]:
    """The training pipeline's parameters for one run: why (Trigger, TriggerDetail), on what data
    (InputManifestUri) and, from the release, which commit (CodeVersion)."""
    if trigger not in TRIGGERS:
        raise ValueError(f"unknown trigger {trigger!r}: one of {', '.join(TRIGGERS)}")
    if not manifest_uri.startswith("s3://"):
        raise ValueError(f"InputManifestUri must be an s3:// URI, got {manifest_uri!r}")
    parameters = {TRIGGER: trigger, TRIGGER_DETAIL: metadata_value(detail), INPUT_MANIFEST: manifest_uri}
    if code_version is not None:
        parameters[CODE_VERSION] = metadata_value(code_version)
    return parameters
