"""GitOps for ML code: start the training pipeline when a release changed `pipeline_code/`.

CodeBuild checks out a snapshot without git history, so "changed" is decided by content: the step code's hash
(`pipeline_definition.contract.code_hash`, the same one that names the code's S3 prefix, so a README edit is
no change) is compared with the hash recorded (in an SSM parameter of the environment's account) for the last
run this script started. Different, or nothing recorded yet: take a data snapshot of the raw zone
(`lambdas.shared.snapshot`), start a run on it, then record the hash. The same hash, or no pipeline deployed
yet: skip, saying why. An empty raw zone (a fresh dev account) skips too, naming the prefixes, without failing
the release: nothing is recorded, so the next release tries again. The hash is recorded only after a
successful start, so a failed start is retried by the next release.

Environment: TRAINING_PIPELINE_NAME, CODE_HASH_PARAMETER, TARGET_REGION, RELEASE_ROLE_ARN, CODE_DIR
(default `pipeline_code`), RAW_BUCKET_NAME, SNAPSHOT_PREFIXES, SNAPSHOTS_URI (the data snapshot), and
CODEBUILD_RESOLVED_SOURCE_VERSION (the commit, set by CodeBuild).

    python -m release.code_change_trigger          # exit 0: started or skipped; 1: AWS error; 2: misconfigured
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from lambdas.shared.run_request import INPUT_MANIFEST, run_parameters
from lambdas.shared.snapshot import EmptySnapshotError, Snapshot
from pipeline_definition.contract import code_hash
from release.environment import Target, UsageError, required

TRIGGER = "code-change"


class Pipelines(Protocol):
    def declared_parameters(self, name: str) -> frozenset[str] | None: ...
    def start(self, name: str, *, parameters: Mapping[str, str], display_name: str, description: str) -> str: ...


class Ledger(Protocol):
    def read(self, name: str) -> str | None: ...
    def write(self, name: str, value: str, *, description: str) -> None: ...


class Snapshots(Protocol):
    def take(self) -> Snapshot: ...


def content_hash(root: Path) -> str:
    """The step code's one content hash (`pipeline_definition.contract.code_hash`); a usage error when the
    folder is missing or holds no code."""
    try:
        return code_hash(root)
    except ValueError as error:
        raise UsageError(f"{error} (set CODE_DIR to the ML code's folder)") from None


@dataclass(frozen=True)
class LastRun:
    """What the SSM parameter remembers about the last run this script started."""

    code_hash: str
    commit: str
    execution_arn: str

    def to_json(self) -> str:
        return json.dumps({"code_hash": self.code_hash, "commit": self.commit, "execution_arn": self.execution_arn})

    @classmethod
    def parse(cls, value: str | None) -> LastRun | None:
        if value is None:
            return None
        try:
            data = json.loads(value)
            return cls(
                code_hash=str(data["code_hash"]), commit=str(data["commit"]), execution_arn=str(data["execution_arn"])
            )
        except (ValueError, KeyError, TypeError):
            return None  # unreadable (edited by hand?): treat as "nothing recorded", which starts a run


@dataclass(frozen=True)
class Decision:
    start: bool
    reason: str


def decide(*, pipeline: str, code_hash: str, last: LastRun | None, declared: frozenset[str] | None) -> Decision:
    if declared is None:
        return Decision(False, f"SageMaker pipeline {pipeline!r} does not exist yet; nothing to re-run")
    if last is None:
        return Decision(True, f"no code-change run recorded yet; pipeline_code hash {code_hash[:12]}")
    if last.code_hash == code_hash:
        return Decision(
            False, f"pipeline_code unchanged (hash {code_hash[:12]}) since the run for commit {last.commit[:12]}"
        )
    return Decision(True, f"pipeline_code changed (hash {last.code_hash[:12]} -> {code_hash[:12]})")


def trigger(
    *,
    pipeline: str,
    parameter: str,
    code_dir: Path,
    commit: str,
    pipelines: Pipelines,
    ledger: Ledger,
    snapshots: Snapshots,
) -> Decision:
    """Decide, and start a run on a fresh data snapshot when the code changed; returns the decision."""
    hashed = content_hash(code_dir)
    declared = pipelines.declared_parameters(pipeline)
    decision = decide(
        pipeline=pipeline, code_hash=hashed, last=LastRun.parse(ledger.read(parameter)), declared=declared
    )
    if not decision.start or declared is None:
        return decision
    if INPUT_MANIFEST not in declared:
        raise UsageError(f"pipeline {pipeline!r} declares no {INPUT_MANIFEST}: deploy the current training pipeline")
    try:
        snapshot = snapshots.take()
    except EmptySnapshotError as error:
        return Decision(False, f"{decision.reason}, but {error}; the next release tries again")
    parameters = run_parameters(
        trigger=TRIGGER, detail=f"commit {commit} code {hashed}", manifest_uri=snapshot.uri, code_version=commit
    )
    execution_arn = pipelines.start(
        pipeline,
        # Only declared parameters: SageMaker rejects a run that sets an undeclared one.
        parameters={name: value for name, value in parameters.items() if name in declared},
        display_name=f"{TRIGGER}-{commit[:12]}",
        description=f"Started by the release pipeline: {decision.reason}; commit {commit}; data: "
        f"{len(snapshot.keys)} object(s) in {snapshot.uri}",
    )
    ledger.write(
        parameter,
        LastRun(code_hash=hashed, commit=commit, execution_arn=execution_arn).to_json(),
        description=f"Last {TRIGGER} run of {pipeline}, written by release.code_change_trigger",
    )
    return Decision(True, f"{decision.reason}; started {execution_arn} on {snapshot.uri}")


def main(
    *,
    environ: Mapping[str, str] | None = None,
    pipelines: Pipelines | None = None,
    ledger: Ledger | None = None,
    s3: object | None = None,
) -> int:
    environ = os.environ if environ is None else environ
    try:
        pipeline = required(environ, "TRAINING_PIPELINE_NAME", "the SageMaker pipeline to re-run")
        parameter = required(environ, "CODE_HASH_PARAMETER", "the SSM parameter that remembers the last run")
        code_dir = Path(environ.get("CODE_DIR") or "pipeline_code")
        commit = environ.get("CODEBUILD_RESOLVED_SOURCE_VERSION") or "unknown"
        if pipelines is None or ledger is None or s3 is None:
            from release.aws import ParameterStore, TrainingPipelines

            clients = Target.from_environ(environ).clients()
            pipelines, ledger, s3 = TrainingPipelines(clients), ParameterStore(clients), clients.s3
        decision = trigger(
            pipeline=pipeline,
            parameter=parameter,
            code_dir=code_dir,
            commit=commit,
            pipelines=pipelines,
            ledger=ledger,
            snapshots=data_snapshots(environ, s3),
        )
    except UsageError as exc:
        print(f"code-change trigger: {exc}", file=sys.stderr)
        return 2
    print(f"code-change trigger: {'started' if decision.start else 'skipped'}: {decision.reason}")
    return 0


def data_snapshots(environ: Mapping[str, str], s3: object) -> Snapshots:
    """The raw zone's snapshot, as the release step's environment describes it (set from the contract by CDK)."""
    from lambdas.shared.adapters import DataSnapshots

    try:
        return DataSnapshots(
            raw_bucket=required(environ, "RAW_BUCKET_NAME", "the raw zone the training data is in"),
            prefixes=required(environ, "SNAPSHOT_PREFIXES", "the raw zone's training prefixes, e.g. adult/,feedback/"),
            snapshots_uri=required(environ, "SNAPSHOTS_URI", "where data snapshots are written, s3://.../"),
            client=s3,
        )
    except ValueError as error:
        raise UsageError(str(error)) from None


if __name__ == "__main__":
    sys.exit(main())
