"""GitOps for ML code: start the training pipeline when a release changed `pipeline_code/`.

CodeBuild checks out a snapshot without git history, so "changed" is decided by content: a SHA-256 over the
relative paths and bytes of every file under `pipeline_code/` is compared with the hash recorded (in an SSM
parameter of the environment's account) for the last run this script started. Different, or nothing
recorded yet: start a run, then record the hash. The same hash, or no pipeline deployed yet: skip, saying why.
The hash is recorded only after a successful start, so a failed start is retried by the next release.

Environment: TRAINING_PIPELINE_NAME, CODE_HASH_PARAMETER, TARGET_REGION, RELEASE_ROLE_ARN, CODE_DIR
(default `pipeline_code`), CODEBUILD_RESOLVED_SOURCE_VERSION (the commit, set by CodeBuild).

    python -m release.code_change_trigger          # exit 0: started or skipped; 1: AWS error; 2: misconfigured
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from release.environment import Target, UsageError, required

TRIGGER = "code-change"
# Parameters a training pipeline may declare to record why and from which commit it ran. Only declared ones are
# passed: SageMaker rejects a run that sets an undeclared parameter.
TRIGGER_PARAMETER = "Trigger"  # the training pipeline's lineage parameters (pipeline_definition/builder.py)
COMMIT_PARAMETER = "CodeVersion"
_IGNORED_PARTS = frozenset({"__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache"})
_IGNORED_SUFFIXES = frozenset({".pyc", ".pyo"})


class Pipelines(Protocol):
    def declared_parameters(self, name: str) -> frozenset[str] | None: ...
    def start(self, name: str, *, parameters: Mapping[str, str], display_name: str, description: str) -> str: ...


class Ledger(Protocol):
    def read(self, name: str) -> str | None: ...
    def write(self, name: str, value: str, *, description: str) -> None: ...


def content_hash(root: Path) -> str:
    """SHA-256 of a code tree: relative POSIX paths and file bytes, in sorted order; caches are left out."""
    if not root.is_dir():
        raise UsageError(f"{root} is not a directory (set CODE_DIR to the ML code's folder)")
    files = sorted(
        path
        for path in root.rglob("*")
        if path.is_file()
        and path.suffix not in _IGNORED_SUFFIXES
        and not _IGNORED_PARTS.intersection(path.relative_to(root).parts)
    )
    if not files:
        raise UsageError(f"{root} holds no files: refusing to record the hash of an empty tree")
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


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


def run_parameters(declared: frozenset[str], commit: str) -> dict[str, str]:
    wanted = {TRIGGER_PARAMETER: TRIGGER, COMMIT_PARAMETER: commit}
    return {name: value for name, value in wanted.items() if name in declared}


def trigger(
    *, pipeline: str, parameter: str, code_dir: Path, commit: str, pipelines: Pipelines, ledger: Ledger
) -> Decision:
    """Decide, and start a run when the code changed; returns the decision with its reason."""
    code_hash = content_hash(code_dir)
    declared = pipelines.declared_parameters(pipeline)
    decision = decide(
        pipeline=pipeline, code_hash=code_hash, last=LastRun.parse(ledger.read(parameter)), declared=declared
    )
    if not decision.start or declared is None:
        return decision
    execution_arn = pipelines.start(
        pipeline,
        parameters=run_parameters(declared, commit),
        display_name=f"{TRIGGER}-{commit[:12]}",
        description=f"Started by the release pipeline: {decision.reason}; commit {commit}",
    )
    ledger.write(
        parameter,
        LastRun(code_hash=code_hash, commit=commit, execution_arn=execution_arn).to_json(),
        description=f"Last {TRIGGER} run of {pipeline}, written by release.code_change_trigger",
    )
    return Decision(True, f"{decision.reason}; started {execution_arn}")


def main(
    *, environ: Mapping[str, str] | None = None, pipelines: Pipelines | None = None, ledger: Ledger | None = None
) -> int:
    environ = os.environ if environ is None else environ
    try:
        pipeline = required(environ, "TRAINING_PIPELINE_NAME", "the SageMaker pipeline to re-run")
        parameter = required(environ, "CODE_HASH_PARAMETER", "the SSM parameter that remembers the last run")
        code_dir = Path(environ.get("CODE_DIR") or "pipeline_code")
        commit = environ.get("CODEBUILD_RESOLVED_SOURCE_VERSION") or "unknown"
        if pipelines is None or ledger is None:
            from release.aws import ParameterStore, TrainingPipelines

            clients = Target.from_environ(environ).clients()
            pipelines, ledger = TrainingPipelines(clients), ParameterStore(clients)
        decision = trigger(
            pipeline=pipeline, parameter=parameter, code_dir=code_dir, commit=commit, pipelines=pipelines, ledger=ledger
        )
    except UsageError as exc:
        print(f"code-change trigger: {exc}", file=sys.stderr)
        return 2
    print(f"code-change trigger: {'started' if decision.start else 'skipped'}: {decision.reason}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
