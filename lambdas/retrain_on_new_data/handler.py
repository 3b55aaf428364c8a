"""Thin handler: parse, count the object once (idempotent), decide, report."""

from __future__ import annotations

import os
from typing import Any

from aws_lambda_powertools.utilities.idempotency import idempotent_function
from aws_lambda_powertools.utilities.typing import LambdaContext

from lambdas.retrain_on_new_data.events import parse_object_created
from lambdas.retrain_on_new_data.logic import (
    TRIGGER,
    below_threshold,
    check_object,
    describe,
    estimated_rows,
    ignored,
    latest_uri,
)
from lambdas.retrain_on_new_data.settings import NewDataSettings
from lambdas.shared.idempotency import token_of
from lambdas.shared.observability import InvalidEventError
from lambdas.shared.runtime import Runtime
from lambdas.shared.settings import load_settings
from lambdas.shared.starter import utc_now
from lambdas.shared.validation import SchemaValidationError

settings = load_settings(NewDataSettings, os.environ)
runtime = Runtime.create(settings, trigger=TRIGGER)
logger, tracer, metrics, starter = runtime.logger, runtime.tracer, runtime.metrics, runtime.starter


@idempotent_function(  # type: ignore[untyped-decorator]
    data_keyword_argument="delivery", persistence_store=runtime.persistence, config=runtime.idempotency
)
def count_and_decide(*, delivery: dict[str, str], size: int) -> dict[str, Any]:
    """Count one new object (exactly once per object version: the key + S3's sequencer), then decide."""
    runtime.first_delivery.mark()
    seen = runtime.ledger.add_new_data(
        rows=estimated_rows(size, average_row_bytes=settings.average_row_bytes),
        size=size,
        key=delivery["key"],
        now=utc_now(),
    )
    decision = below_threshold(seen, min_rows=settings.min_new_rows, min_bytes=settings.min_new_bytes)
    if decision is None:
        decision = starter.try_start(
            trigger=TRIGGER,
            detail=latest_uri(seen, settings.raw_bucket),
            description=describe(seen, settings.raw_bucket),
            token=token_of(delivery),
            seen=seen,
        )
    runtime.report(decision, object=delivery)
    return decision.as_dict()


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    runtime.idempotency.register_lambda_context(context)
    try:
        parsed = parse_object_created(event)
        check_object(parsed, raw_bucket=settings.raw_bucket, input_prefix=settings.input_prefix)
    except (SchemaValidationError, InvalidEventError) as error:
        runtime.reject(error)
    skip = ignored(parsed)
    if skip is not None:
        runtime.report(skip)
        return skip.as_dict()
    obj = parsed.detail.object
    delivery = {"bucket": parsed.detail.bucket_name, "key": obj.key, "sequencer": obj.sequencer}
    result: dict[str, Any] = runtime.decide_once(count_and_decide, delivery, delivery=delivery, size=obj.size)
    return result
