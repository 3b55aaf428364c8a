"""Start the training pipeline if the rules allow it: the one flow both triggers end in."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from lambdas.shared.adapters import DataSnapshots, Ledger, LedgerState, TrainingPipeline
from lambdas.shared.decision import Decision, cooldown_skip, in_flight_skip
from lambdas.shared.run_request import description as execution_description
from lambdas.shared.run_request import display_name, run_parameters


def utc_now() -> datetime:
    return datetime.now(UTC)


class Starter:
    """Cooldown, then run in flight, then the data snapshot, then a conditional claim in the ledger, then
    StartPipelineExecution with the snapshot's manifest as `InputManifestUri`.

    The checks that cost nothing come first: a start inside the cooldown never lists executions or the raw zone.
    The snapshot is taken before the claim: an empty raw zone (EmptySnapshotError) or a failed listing raises
    with nothing claimed, and a manifest written for a run that then does not start is harmless (content-named).
    A start that fails after its claim gives the claim back and raises, so Lambda's retry (and finally the
    dead-letter queue) sees the failure and a retry may still start the run.
    """

    def __init__(
        self,
        *,
        pipeline: TrainingPipeline,
        ledger: Ledger,
        snapshots: DataSnapshots,
        cooldown: timedelta,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.pipeline = pipeline
        self.ledger = ledger
        self.snapshots = snapshots
        self.cooldown = cooldown
        self.clock = clock

    def try_start(
        self, *, trigger: str, detail: str, description: str, token: str, seen: LedgerState | None = None
    ) -> Decision:
        """`detail` becomes TriggerDetail (made fit for model metadata), `description` the execution's."""
        now = self.clock()
        seen = seen if seen is not None else self.ledger.read()
        skip = cooldown_skip(trigger=trigger, now=now, last_started_at=seen.last_started_at, cooldown=self.cooldown)
        if skip is None:
            skip = in_flight_skip(trigger=trigger, run_in_flight=self.pipeline.run_in_flight())
        if skip is not None:
            return skip
        snapshot = self.snapshots.take()
        if not self.ledger.claim_start(seen=seen, now=now, trigger=trigger):
            return Decision(
                outcome="skipped",
                reason="concurrent-start",
                detail="another event started a run between this event's checks and its claim",
                trigger=trigger,
            )
        parameters = run_parameters(trigger=trigger, detail=detail, manifest_uri=snapshot.uri)
        try:
            arn = self.pipeline.start(
                parameters=parameters,
                # The data first: a long cause (many violations) is what gets clipped.
                description=execution_description(
                    f"data: {len(snapshot.keys)} object(s), {snapshot.size} bytes in {snapshot.uri}; {description}"
                ),
                display_name=display_name(f"{trigger}-{now:%Y%m%d%H%M%S}"),
                token=token,
            )
        except Exception:
            self.ledger.release(seen=seen, claimed_at=now)
            raise
        self.ledger.record_execution(arn)
        return Decision(
            outcome="started",
            reason="started",
            detail=parameters["TriggerDetail"],
            trigger=trigger,
            execution_arn=arn,
            input_manifest_uri=snapshot.uri,
        )
