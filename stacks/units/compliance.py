"""Acknowledging cdk-nag findings: one rule at a time, always with the reason it does not apply."""

from __future__ import annotations

import aws_cdk as cdk
from constructs import IConstruct

_PACK_PREFIX = {"AwsSolutions": "AwsSolutions", "NIST.800.53.R5": "NIST.800.53.R5"}


def acknowledge(scope: IConstruct, rule: str, reason: str, *, finding: str | None = None) -> None:
    """Acknowledge `rule` (e.g. "AwsSolutions-S1") for `scope` and everything below it.

    `finding` narrows an acknowledgment to one finding of a rule that reports several, e.g.
    "Action::s3:List*" for AwsSolutions-IAM5. The pack prefix keeps the acknowledgment in
    cdk.out's validation report (`suppressedViolations`), the audit trail of every exception.
    """
    if len(reason) < 25:
        raise ValueError(f"acknowledging {rule} needs a specific reason, got {reason!r}")
    pack = rule.rsplit("-", 1)[0]
    if pack not in _PACK_PREFIX:
        raise ValueError(f"unknown cdk-nag pack in rule {rule!r}; known: {', '.join(_PACK_PREFIX)}")
    rule_id = f"{_PACK_PREFIX[pack]}::{rule}" + (f"[{finding}]" if finding else "")
    cdk.Validations.of(scope).acknowledge(cdk.Acknowledgment(id=rule_id, reason=reason))
