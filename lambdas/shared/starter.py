"""Start the training pipeline if the rules allow it: the one flow both triggers end in."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from lambdas.shared.adapters import Ledger, LedgerState, TrainingPipeline
from lambdas.shared.decision import Decision, clip, cooldown_skip, in_flight_skip


def utc_now() -> datetime:
    return datetime.now(UTC)


class Starter:
    """Cooldown, then run in flight, then a conditional claim in the ledger, then StartPipelineExecution.

    The checks that cost nothing come first: a start inside the cooldown never lists executions. A start that
    fails after its claim gives the claim back and raises, so Lambda's retry (and finally the dead-letter queue)
    sees the failure and a retry may still start the run.
    """

    def __init__(
        self,
        *,
        pipeline: TrainingPipeline,
        ledger: Ledger,
        cooldown: timedelta,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.pipeline = pipeline
        self.ledger = ledger
        self.cooldown = cooldown
        self.clock = clock

    def try_start(self, *, trigger: str, detail: str, token: str, seen: LedgerState | None = None) -> Decision:
        now = self.clock()
        seen = seen if seen is not None else self.ledger.read()
        skip = cooldown_skip(trigger=trigger, now=now, last_started_at=seen.last_started_at, cooldown=self.cooldown)
        if skip is None:
            skip = in_flight_skip(trigger=trigger, run_in_flight=self.pipeline.run_in_flight())
        if skip is not None:
            return skip
        if not self.ledger.claim_start(seen=seen, now=now, trigger=trigger):
            return Decision(
                outcome="skipped",
                reason="concurrent-start",
                detail="another event started a run between this event's checks and its claim",
                trigger=trigger,
            )
        detail = clip(detail)
        try:
            arn = self.pipeline.start(
                trigger=trigger, detail=detail, display_name=f"{trigger}-{now:%Y%m%d%H%M%S}", token=token
            )
        except Exception:
            self.ledger.release(seen=seen, claimed_at=now)
            raise
        self.ledger.record_execution(arn)
        return Decision(outcome="started", reason="started", detail=detail, trigger=trigger, execution_arn=arn)
