"""Post-deploy check: everything a stage says it deployed exists and is ready, or the release stops here.

The release pipeline passes the names the stage's stacks output (CDK Pipelines `env_from_cfn_outputs`) as
environment variables, one per resource, by prefix:

    CHECK_BUCKET_<ID>              an S3 bucket exists
    CHECK_SAGEMAKER_PIPELINE_<ID>  a SageMaker pipeline exists and is Active
    CHECK_FEATURE_GROUP_<ID>       a feature group exists and is Created
    CHECK_ENDPOINT_<ID>            an endpoint is InService (an empty value means "no endpoint": skipped)

or the same as repeatable options (`--bucket NAME`, ...). Adding a check for a new resource is one more
output wired to one more variable; this script needs no change.

    python -m release.post_deploy_check            # exit 0: all ready; 1: something missing; 2: misconfigured
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from release.environment import Target, UsageError


class Reader(Protocol):
    def bucket_exists(self, name: str) -> bool: ...
    def pipeline_status(self, name: str) -> str | None: ...
    def feature_group_status(self, name: str) -> str | None: ...
    def endpoint_status(self, name: str) -> str | None: ...


@dataclass(frozen=True)
class Kind:
    """One kind of resource: how it is named in variables and options, and which statuses count as ready."""

    label: str
    env_prefix: str
    option: str
    ready: frozenset[str]


BUCKET = Kind("bucket", "CHECK_BUCKET_", "--bucket", frozenset())
PIPELINE = Kind("sagemaker pipeline", "CHECK_SAGEMAKER_PIPELINE_", "--sagemaker-pipeline", frozenset({"Active"}))
FEATURE_GROUP = Kind("feature group", "CHECK_FEATURE_GROUP_", "--feature-group", frozenset({"Created"}))
ENDPOINT = Kind("endpoint", "CHECK_ENDPOINT_", "--endpoint", frozenset({"InService"}))
KINDS = (BUCKET, PIPELINE, FEATURE_GROUP, ENDPOINT)


@dataclass(frozen=True)
class Expected:
    kind: Kind
    name: str


@dataclass(frozen=True)
class Finding:
    expected: Expected
    ok: bool
    detail: str

    def __str__(self) -> str:
        return f"{'ok  ' if self.ok else 'FAIL'} {self.expected.kind.label} {self.expected.name}: {self.detail}"


def expectations(environ: Mapping[str, str], argv: Sequence[str] = ()) -> list[Expected]:
    """What to check, from options and prefixed variables; empty names (an optional resource absent) are dropped."""
    parser = argparse.ArgumentParser(prog="python -m release.post_deploy_check", description=__doc__.split("\n")[0])
    for kind in KINDS:
        parser.add_argument(kind.option, action="append", default=[], metavar="NAME", dest=kind.env_prefix)
    options = vars(parser.parse_args(list(argv)))
    found: list[Expected] = []
    for kind in KINDS:
        from_env = [value for key, value in sorted(environ.items()) if key.startswith(kind.env_prefix)]
        names = [*options[kind.env_prefix], *from_env]
        found += [Expected(kind, name.strip()) for name in dict.fromkeys(names) if name.strip()]
    return found


def check(expected: Expected, reader: Reader) -> Finding:
    if expected.kind is BUCKET:
        exists = reader.bucket_exists(expected.name)
        return Finding(expected, exists, "exists" if exists else "does not exist")
    if expected.kind is PIPELINE:
        status = reader.pipeline_status(expected.name)
    elif expected.kind is FEATURE_GROUP:
        status = reader.feature_group_status(expected.name)
    else:
        status = reader.endpoint_status(expected.name)
    if status is None:
        return Finding(expected, False, "does not exist")
    ready = status in expected.kind.ready
    wanted = " or ".join(sorted(expected.kind.ready))
    return Finding(expected, ready, f"status {status}" + ("" if ready else f", expected {wanted}"))


def main(
    argv: Sequence[str] | None = None, *, environ: Mapping[str, str] | None = None, reader: Reader | None = None
) -> int:
    environ = os.environ if environ is None else environ
    try:
        expected = expectations(environ, sys.argv[1:] if argv is None else argv)
        if not expected:
            raise UsageError("nothing to check: pass CHECK_<KIND>_<ID> variables or --bucket/--endpoint/... options")
        if reader is None:
            from release.aws import ResourceReader

            reader = ResourceReader(Target.from_environ(environ).clients())
    except UsageError as exc:
        print(f"post-deploy check: {exc}", file=sys.stderr)
        return 2
    findings = [check(item, reader) for item in expected]
    for finding in findings:
        print(finding)
    failed = [f for f in findings if not f.ok]
    print(f"post-deploy check: {len(findings) - len(failed)} of {len(findings)} ready")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
