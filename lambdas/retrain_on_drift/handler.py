"""Thin handler: parse; a violations report is recorded; an alarm's episode is decided once (idempotent); report."""

from __future__ import annotations

import os
from typing import Any

from aws_lambda_powertools.utilities.idempotency import idempotent_function
from aws_lambda_powertools.utilities.typing import LambdaContext

from lambdas.retrain_on_drift.events import ViolationsReport, parse_drift_event
from lambdas.retrain_on_drift.logic import TRIGGER, check_alarm, check_report, episode_of, recorded
from lambdas.retrain_on_drift.settings import DriftSettings
from lambdas.shared.idempotency import token_of
from lambdas.shared.observability import InvalidEventError
from lambdas.shared.runtime import Runtime
from lambdas.shared.settings import load_settings
from lambdas.shared.validation import SchemaValidationError

settings = load_settings(DriftSettings, os.environ)
runtime = Runtime.create(settings, trigger=TRIGGER)
logger, tracer, metrics, starter = runtime.logger, runtime.tracer, runtime.metrics, runtime.starter


@idempotent_function(  # type: ignore[untyped-decorator]
    data_keyword_argument="episode", persistence_store=runtime.persistence, config=runtime.idempotency
)
def decide_episode(*, episode: dict[str, str], detail: str, description: str) -> dict[str, Any]:
    runtime.first_delivery.mark()
    decision = starter.try_start(trigger=TRIGGER, detail=detail, description=description, token=token_of(episode))
    runtime.report(decision, episode=episode)
    return decision.as_dict()


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    runtime.idempotency.register_lambda_context(context)
    try:
        parsed = parse_drift_event(event)
        if isinstance(parsed, ViolationsReport):
            check_report(parsed, environment=settings.environment)
        else:
            check_alarm(parsed, alarm_prefix=settings.alarm_prefix)
    except (SchemaValidationError, InvalidEventError) as error:
        runtime.reject(error)
    if isinstance(parsed, ViolationsReport):
        # Recording is idempotent by itself (a later report is never replaced by an earlier one).
        decision = recorded(
            parsed, newest=runtime.ledger.record_drift_report(report_uri=parsed.detail.report_uri, at=parsed.time)
        )
        runtime.report(decision, report=parsed.detail.report_uri)
        return decision.as_dict()
    episode = episode_of(parsed, runtime.ledger.read(), reports_uri=settings.reports_uri)
    result: dict[str, Any] = runtime.decide_once(
        decide_episode, episode.key, episode=episode.key, detail=episode.detail, description=episode.description
    )
    return result
