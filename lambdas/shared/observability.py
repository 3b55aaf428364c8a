"""Each decision, and each rejected event, as one structured log line and one metric."""

from __future__ import annotations

from typing import Any, NoReturn

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from lambdas.shared.decision import Decision
from lambdas.shared.validation import SchemaValidationError

METRIC = "RetrainDecisions"  # dimensions: Environment, service, Trigger, Outcome, Reason

# Every dimension is added with its metric, Environment too. Not `Metrics.set_default_dimensions`: in Powertools
# 3.23.0 (layer 27) it warns "Dimension 'Environment' has already been added" when called, and again after every
# flush: `clear_metrics` re-adds the defaults through `add_dimension`, which warns for any name among the defaults
# (aws-powertools/powertools-lambda-python#8402, fixed upstream after 3.23.0). The dimension set is emptied at
# each flush, and an invocation counts one metric, so each name is added once.


class InvalidEventError(ValueError):
    """The event is not one this trigger accepts. Raised so the invocation fails and, after Lambda's retries,
    the event is kept in the dead-letter queue (whose alarm tells a person) instead of vanishing."""


def report(decision: Decision, *, environment: str, logger: Logger, metrics: Metrics, **context: Any) -> None:
    logger.info(f"retraining {decision.outcome}: {decision.reason}", extra={"decision": decision.as_dict(), **context})
    _count(metrics, environment=environment, trigger=decision.trigger, outcome=decision.outcome, reason=decision.reason)


def reject(
    error: SchemaValidationError | InvalidEventError,
    *,
    environment: str,
    trigger: str,
    logger: Logger,
    metrics: Metrics,
) -> NoReturn:
    """Log and count an event this trigger does not accept, then raise InvalidEventError: the field path and the
    JSON Schema rule it broke for a malformed event (`detail.state.value: must be same as const definition:
    ALARM`), the trigger's reason for a misrouted one."""
    if isinstance(error, SchemaValidationError):
        problems = [p.as_dict() for p in error.problems]
        summary = f"{len(problems)} validation error(s): " + "; ".join(str(p) for p in error.problems[:5])
    else:
        problems = [{"loc": "", "type": "invalid_event", "msg": str(error)}]
        summary = str(error)
    logger.error(f"invalid event rejected: {summary}", extra={"validation_errors": problems[:20]})
    _count(metrics, environment=environment, trigger=trigger, outcome="rejected", reason="invalid-event")
    raise InvalidEventError(summary) from None


def failed(error: Exception, *, environment: str, trigger: str, logger: Logger, metrics: Metrics) -> None:
    """An AWS call failed after botocore's retries: logged and counted; the caller re-raises."""
    code = getattr(error, "response", {}).get("Error", {}).get("Code") or type(error).__name__
    logger.exception(f"retraining failed ({code}); Lambda retries the event, then sends it to the dead-letter queue")
    _count(metrics, environment=environment, trigger=trigger, outcome="failed", reason=str(code))


def duplicate(key: dict[str, str], *, environment: str, trigger: str, logger: Logger, metrics: Metrics) -> None:
    logger.info("duplicate delivery: returned the decision recorded for it", extra={"idempotency_key": key})
    metrics.add_dimension(name="Environment", value=environment)
    metrics.add_dimension(name="Trigger", value=trigger)
    metrics.add_metric(name="DuplicateDeliveries", unit=MetricUnit.Count, value=1)


def _count(metrics: Metrics, *, environment: str, trigger: str, outcome: str, reason: str) -> None:
    metrics.add_dimension(name="Environment", value=environment)
    metrics.add_dimension(name="Trigger", value=trigger)
    metrics.add_dimension(name="Outcome", value=outcome)
    metrics.add_dimension(name="Reason", value=reason)
    metrics.add_metric(name=METRIC, unit=MetricUnit.Count, value=1)
