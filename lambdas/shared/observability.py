"""Each decision, and each rejected event, as one structured log line and one metric."""

from __future__ import annotations

from typing import Any, NoReturn

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from pydantic import ValidationError

from lambdas.shared.decision import Decision

METRIC = "RetrainDecisions"  # dimensions: Environment, service, Trigger, Outcome, Reason


class InvalidEventError(ValueError):
    """The event is not one this trigger accepts. Raised so the invocation fails and, after Lambda's retries,
    the event is kept in the dead-letter queue (whose alarm tells a person) instead of vanishing."""


def report(decision: Decision, *, logger: Logger, metrics: Metrics, **context: Any) -> None:
    logger.info(f"retraining {decision.outcome}: {decision.reason}", extra={"decision": decision.as_dict(), **context})
    _count(metrics, trigger=decision.trigger, outcome=decision.outcome, reason=decision.reason)


def reject(error: ValidationError | InvalidEventError, *, trigger: str, logger: Logger, metrics: Metrics) -> NoReturn:
    if isinstance(error, ValidationError):
        problems = [
            {"loc": ".".join(str(p) for p in e["loc"]), "type": e["type"], "msg": e["msg"]}
            for e in error.errors(include_url=False, include_input=False)
        ]
        summary = f"{error.error_count()} validation error(s): " + "; ".join(
            f"{p['loc'] or '(event)'}: {p['msg']}" for p in problems[:5]
        )
    else:
        problems = [{"loc": "", "type": "invalid_event", "msg": str(error)}]
        summary = str(error)
    logger.error(f"invalid event rejected: {summary}", extra={"validation_errors": problems[:20]})
    _count(metrics, trigger=trigger, outcome="rejected", reason="invalid-event")
    raise InvalidEventError(summary) from None


def failed(error: Exception, *, trigger: str, logger: Logger, metrics: Metrics) -> None:
    """An AWS call failed after botocore's retries: logged and counted; the caller re-raises."""
    code = getattr(error, "response", {}).get("Error", {}).get("Code") or type(error).__name__
    logger.exception(f"retraining failed ({code}); Lambda retries the event, then sends it to the dead-letter queue")
    _count(metrics, trigger=trigger, outcome="failed", reason=str(code))


def duplicate(key: dict[str, str], *, trigger: str, logger: Logger, metrics: Metrics) -> None:
    logger.info("duplicate delivery: returned the decision recorded for it", extra={"idempotency_key": key})
    metrics.add_dimension(name="Trigger", value=trigger)
    metrics.add_metric(name="DuplicateDeliveries", unit=MetricUnit.Count, value=1)


def _count(metrics: Metrics, *, trigger: str, outcome: str, reason: str) -> None:
    metrics.add_dimension(name="Trigger", value=trigger)
    metrics.add_dimension(name="Outcome", value=outcome)
    metrics.add_dimension(name="Reason", value=reason)
    metrics.add_metric(name=METRIC, unit=MetricUnit.Count, value=1)
