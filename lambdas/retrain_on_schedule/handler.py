"""Thin handler: parse, find the firing, decide once per firing (idempotent), report."""

from __future__ import annotations

import os
from typing import Any

from aws_lambda_powertools.utilities.idempotency import idempotent_function
from aws_lambda_powertools.utilities.typing import LambdaContext

from lambdas.retrain_on_schedule.events import parse_scheduled_run
from lambdas.retrain_on_schedule.logic import TRIGGER, firing_of
from lambdas.retrain_on_schedule.settings import ScheduleSettings
from lambdas.shared.idempotency import token_of
from lambdas.shared.observability import InvalidEventError
from lambdas.shared.runtime import Runtime
from lambdas.shared.settings import load_settings
from lambdas.shared.validation import SchemaValidationError

settings = load_settings(ScheduleSettings, os.environ)
runtime = Runtime.create(settings, trigger=TRIGGER)
logger, tracer, metrics, starter = runtime.logger, runtime.tracer, runtime.metrics, runtime.starter


@idempotent_function(  # type: ignore[untyped-decorator]
    data_keyword_argument="firing", persistence_store=runtime.persistence, config=runtime.idempotency
)
def decide_firing(*, firing: dict[str, str], detail: str, description: str) -> dict[str, Any]:
    runtime.first_delivery.mark()
    decision = starter.try_start(trigger=TRIGGER, detail=detail, description=description, token=token_of(firing))
    runtime.report(decision, firing=firing)
    return decision.as_dict()


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    runtime.idempotency.register_lambda_context(context)
    try:
        firing = firing_of(parse_scheduled_run(event), schedule_name=settings.schedule_name)
    except (SchemaValidationError, InvalidEventError) as error:
        runtime.reject(error)
    result: dict[str, Any] = runtime.decide_once(
        decide_firing, firing.key, firing=firing.key, detail=firing.detail, description=firing.description
    )
    return result
