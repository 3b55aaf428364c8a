"""Thin handler: parse, find the episode, decide once per episode (idempotent), report."""

from __future__ import annotations

import os
from typing import Any

from aws_lambda_powertools.utilities.idempotency import idempotent_function
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError

from lambdas.retrain_on_drift.events import AlarmStateChange, DriftEvent, ViolationsReport
from lambdas.retrain_on_drift.logic import TRIGGER, episode_of
from lambdas.retrain_on_drift.settings import DriftSettings
from lambdas.shared.events import EventParser
from lambdas.shared.idempotency import token_of
from lambdas.shared.observability import InvalidEventError, reject, report
from lambdas.shared.runtime import Runtime
from lambdas.shared.settings import load_settings

settings = load_settings(DriftSettings, os.environ)
runtime = Runtime.create(settings, trigger=TRIGGER)
logger, tracer, metrics, starter = runtime.logger, runtime.tracer, runtime.metrics, runtime.starter
events: EventParser[AlarmStateChange | ViolationsReport] = EventParser(DriftEvent)


@idempotent_function(  # type: ignore[untyped-decorator]
    data_keyword_argument="episode", persistence_store=runtime.persistence, config=runtime.idempotency
)
def decide_episode(*, episode: dict[str, str], detail: str) -> dict[str, Any]:
    runtime.first_delivery.mark()
    decision = starter.try_start(trigger=TRIGGER, detail=detail, token=token_of(episode))
    report(decision, logger=logger, metrics=metrics, episode=episode)
    return decision.as_dict()


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    runtime.idempotency.register_lambda_context(context)
    try:
        episode = episode_of(
            events.parse(event),
            alarm_prefix=settings.alarm_prefix,
            environment=settings.environment,
            reports_uri=settings.reports_uri,
        )
    except (ValidationError, InvalidEventError) as error:
        reject(error, trigger=TRIGGER, logger=logger, metrics=metrics)
    result: dict[str, Any] = runtime.decide_once(
        decide_episode, episode.key, episode=episode.key, detail=episode.detail
    )
    return result
