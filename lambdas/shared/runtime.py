"""What each trigger builds once per cold start, and the one way both run an idempotent decision."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, NoReturn

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer, IdempotencyConfig

from lambdas.shared.adapters import DataSnapshots, Ledger, TrainingPipeline, dynamodb_client
from lambdas.shared.decision import Decision
from lambdas.shared.idempotency import FirstDelivery
from lambdas.shared.observability import InvalidEventError, duplicate, failed, reject, report
from lambdas.shared.settings import TriggerSettings
from lambdas.shared.starter import Starter
from lambdas.shared.validation import SchemaValidationError


@dataclass
class Runtime:
    """Powertools' Logger, Tracer and Metrics, the idempotency store and the adapters of one function."""

    trigger: str
    environment: str  # the Environment dimension of every metric
    logger: Logger
    tracer: Tracer
    metrics: Metrics
    persistence: DynamoDBPersistenceLayer
    idempotency: IdempotencyConfig
    ledger: Ledger
    starter: Starter
    first_delivery: FirstDelivery = field(default_factory=FirstDelivery)

    @classmethod
    def create(cls, settings: TriggerSettings, *, trigger: str) -> Runtime:
        dynamodb = dynamodb_client()
        ledger = Ledger(settings.state_table, settings.pipeline_name, client=dynamodb)
        return cls(
            trigger=trigger,
            environment=settings.environment,
            logger=Logger(),
            tracer=Tracer(patch_modules=("botocore",)),  # only what the handlers call: every patch costs ~0.1 s
            metrics=Metrics(),
            persistence=DynamoDBPersistenceLayer(table_name=settings.state_table, boto3_client=dynamodb),
            idempotency=IdempotencyConfig(expires_after_seconds=settings.idempotency_hours * 3600),
            ledger=ledger,
            starter=Starter(
                pipeline=TrainingPipeline(settings.pipeline_name),
                ledger=ledger,
                snapshots=DataSnapshots(
                    raw_bucket=settings.raw_bucket,
                    prefixes=settings.snapshot_prefixes.split(","),
                    snapshots_uri=settings.snapshots_uri,
                ),
                cooldown=timedelta(hours=settings.cooldown_hours),
            ),
        )

    def decide_once(self, decide: Callable[..., dict[str, Any]], key: dict[str, str], **arguments: Any) -> Any:
        """Call the idempotent `decide`; log and count a failure (then re-raise) or a duplicate delivery."""
        self.first_delivery.reset()
        try:
            result = decide(**arguments)
        except Exception as error:
            failed(error, **self._signals)
            raise
        if not self.first_delivery.ran:
            duplicate(key, **self._signals)
        return result

    def report(self, decision: Decision, **context: Any) -> None:
        """One log line and one metric for a decision (`lambdas.shared.observability.report`)."""
        report(decision, environment=self.environment, logger=self.logger, metrics=self.metrics, **context)

    def reject(self, error: SchemaValidationError | InvalidEventError) -> NoReturn:
        """Log and count an invalid event, then raise InvalidEventError (`lambdas.shared.observability.reject`)."""
        reject(error, **self._signals)

    @property
    def _signals(self) -> dict[str, Any]:
        return {
            "environment": self.environment,
            "trigger": self.trigger,
            "logger": self.logger,
            "metrics": self.metrics,
        }
