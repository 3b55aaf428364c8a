"""Tell a replayed delivery from a fresh one: the idempotent function's body runs only for the first."""

from __future__ import annotations

import hashlib
import json
from typing import Any


class FirstDelivery:
    """Set by the idempotent body when it runs; still unset after the call means Powertools returned the
    result recorded for an earlier delivery of the same episode."""

    def __init__(self) -> None:
        self.ran = False

    def reset(self) -> None:
        self.ran = False

    def mark(self) -> None:
        self.ran = True


def token_of(key: dict[str, Any]) -> str:
    """A stable 64-character token of an idempotency key (StartPipelineExecution's ClientRequestToken)."""
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()
