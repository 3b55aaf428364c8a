"""Start a correct training run by hand: snapshot the raw zone's data, then start the pipeline on it.

The same snapshot (`lambdas.shared.snapshot`) and parameters (`lambdas.shared.run_request`) as the retraining
triggers and the release, so a manual run is cached, recorded and traced like any other. Uses your AWS
credentials (profile or environment); names come from config/environments.yaml and naming.ResourceNames.

    python -m release.start_training --env dev --reason "new labelling guideline"
    python -m release.start_training --env dev --dry-run      # list what the run would read, start nothing

Exit 0: started (or dry run); 1: AWS error or no data to train on; 2: bad usage or config.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from lambdas.shared.adapters import DataSnapshots
from lambdas.shared.run_request import description, display_name, run_parameters
from lambdas.shared.snapshot import EmptySnapshotError, Snapshot, build_snapshot
from naming import ResourceNames
from pipeline_code.schema import DEFAULT_DATASET
from pipeline_definition import contract
from release.aws import Clients, session_for

TRIGGER = "manual"


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m release.start_training", description=__doc__.splitlines()[0])
    parser.add_argument("--env", required=True, help="environment name in config/environments.yaml, e.g. dev")
    parser.add_argument("--reason", default="", help="why (the run's TriggerDetail and description)")
    parser.add_argument("--dry-run", action="store_true", help="print the snapshot; write and start nothing")
    parser.add_argument("--role-arn", default=None, help="assume this role first (another account)")
    parser.add_argument("--endpoint-url", default=None, help=argparse.SUPPRESS)  # tests: a local moto server
    return parser.parse_args(argv)


def start(
    args: argparse.Namespace,
    clients: Clients,
    *,
    project: str,
    region: str,
    account: str,
    dataset: str = DEFAULT_DATASET,
) -> str:
    """Snapshot and start (or, dry, only list); returns what to print."""
    names = ResourceNames(project, args.env, account, region, dataset=dataset)
    raw = names.zone_bucket("raw")
    artifacts = names.zone_bucket("artifacts")
    snapshots = DataSnapshots(
        raw_bucket=raw,
        prefixes=names.snapshot_prefixes,
        snapshots_uri=f"s3://{artifacts}/{contract.DATA_SNAPSHOT_PREFIX}/",
        client=clients.s3,
    )
    if args.dry_run:
        snapshot: Snapshot = build_snapshot(
            raw_bucket=raw,
            prefixes=snapshots.prefixes,
            objects=snapshots.listed(),
            snapshots_uri=snapshots.snapshots_uri,
        )
        listing = "\n".join(f"  {snapshot.source}{key}" for key in snapshot.keys)
        return f"dry run: a run would read {snapshot.uri} ({len(snapshot.keys)} object(s)):\n{listing}"
    snapshot = snapshots.take()
    pipeline = names.training_pipeline
    now = datetime.now(UTC)
    reason = args.reason or f"started by hand with release.start_training at {now:%Y-%m-%dT%H:%M:%SZ}"
    response = clients.sagemaker.start_pipeline_execution(
        PipelineName=pipeline,
        PipelineExecutionDisplayName=display_name(f"{TRIGGER}-{now:%Y%m%d%H%M%S}"),
        PipelineExecutionDescription=description(f"{reason}; data: {len(snapshot.keys)} object(s) in {snapshot.uri}"),
        PipelineParameters=[
            {"Name": name, "Value": value}
            for name, value in run_parameters(trigger=TRIGGER, detail=reason, manifest_uri=snapshot.uri).items()
        ],
    )
    return f"started {response['PipelineExecutionArn']} on {snapshot.uri} ({len(snapshot.keys)} object(s))"


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    from config import ConfigError, load_config

    try:
        config = load_config()
    except ConfigError as error:
        print(f"start_training: {error}", file=sys.stderr)
        return 2
    environment = config.environments.get(args.env)
    if environment is None:
        known = ", ".join(config.environments)
        print(f"start_training: no environment {args.env!r} in the config (known: {known})", file=sys.stderr)
        return 2
    try:
        session = session_for(region=environment.region, role_arn=args.role_arn, endpoint_url=args.endpoint_url)
        clients = Clients(session, endpoint_url=args.endpoint_url)
        sts: Any = session.client("sts", endpoint_url=args.endpoint_url)
        account = environment.account or str(sts.get_caller_identity()["Account"])
        print(
            start(
                args,
                clients,
                project=config.project_name,
                region=environment.region,
                account=account,
                dataset=environment.dataset,
            )
        )
    except EmptySnapshotError as error:
        print(f"start_training: {error}", file=sys.stderr)
        return 1
    except (ClientError, BotoCoreError) as error:
        print(f"start_training: AWS error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
