"""Realistic runs of the training pipeline: the data snapshot and the parameters each starter really passes.

Every starter (the three retraining Lambdas, the release's code-change trigger, `release.start_training`) snapshots
the raw zone with `lambdas.shared.snapshot` and builds its parameters with `lambdas.shared.run_request`; here the
same functions run on a listing shaped like the raw zone's (training files, a feedback file the monitoring
pipeline wrote, a README and a folder marker that stay out). A console start with no parameters passes no
snapshot at all.
"""

from __future__ import annotations

from pathlib import Path

from lambdas.retrain_on_drift.logic import TRIGGER as DRIFT
from lambdas.retrain_on_new_data.logic import TRIGGER as NEW_DATA
from lambdas.retrain_on_schedule.logic import TRIGGER as SCHEDULE
from lambdas.shared.run_request import run_parameters
from lambdas.shared.snapshot import ListedObject, Snapshot, build_snapshot
from naming import EnvironmentNames
from pipeline_code.feedback import feedback_key
from pipeline_definition import contract
from release.code_change_trigger import TRIGGER as CODE_CHANGE
from release.code_change_trigger import content_hash
from release.start_training import TRIGGER as MANUAL

ROOT = Path(__file__).resolve().parents[2]
EXECUTION_ID = "8kq2m1x0v9zt"
COMMIT = "4f1c2a9e0b7d6c5a4f3e2d1c0b9a8f7e6d5c4b3a"


def raw_listing() -> list[ListedObject]:
    """ListObjectsV2 of the raw zone's snapshot prefixes a few weeks into production."""
    from datetime import UTC, datetime

    feedback = feedback_key(contract.FEEDBACK_PREFIX, datetime(2026, 12, 2, 9, tzinfo=UTC))
    return [
        ListedObject("adult/", '"d41d8cd98f00b204e9800998ecf8427e"', 0),
        ListedObject("adult/README.md", '"0cc175b9c0f1b6a831c399e269772661"', 1380),
        ListedObject("adult/adult.data.gz", '"5d3c0a8e2f1b4c6d7e8f9a0b1c2d3e4f"', 409089),
        ListedObject("adult/adult.test.gz", '"6e4d1b9f3a2c5d7e8f9a0b1c2d3e4f50"', 205348),
        ListedObject("adult/2026/12/01/part-0003.csv", '"7f5e2c0a4b3d6e8f9a0b1c2d3e4f5061-2"', 48820),
        ListedObject(feedback, '"8a6f3d1b5c4e7f9a0b1c2d3e4f506172"', 31544),
    ]


def data_snapshot(project: str, env: str, account: str, region: str) -> Snapshot:
    raw = f"{project}-{env}-raw-{account}-{region}"
    artifacts = f"{project}-{env}-artifacts-{account}-{region}"
    return build_snapshot(
        raw_bucket=raw,
        prefixes=EnvironmentNames("mlops", "dev").snapshot_prefixes,
        objects=raw_listing(),
        snapshots_uri=f"s3://{artifacts}/{contract.DATA_SNAPSHOT_PREFIX}/",
    )


def starter_parameters(project: str, env: str, account: str, region: str) -> dict[str, dict[str, str]]:
    """Trigger -> the PipelineParameters that starter sends, details written as each starter writes them."""
    prefix = f"{project}-{env}"
    manifest = data_snapshot(project, env, account, region).uri
    alarm = f"arn:aws:cloudwatch:{region}:{account}:alarm:{prefix}-drift-violations"
    report = f"s3://{prefix}-artifacts-{account}-{region}/{contract.MONITORING_REPORTS_PREFIX}/{EXECUTION_ID}/CheckDrift/drift"
    runs = {
        # release.start_training without --reason
        "manual": (MANUAL, "started by hand with release.start_training at 2026-12-02T10:15:00Z", None),
        # retrain_on_new_data: the object whose arrival crossed the threshold (logic.latest_uri)
        "new-data": (NEW_DATA, f"s3://{prefix}-raw-{account}-{region}/adult/2026/12/01/part-0003.csv", None),
        # retrain_on_drift: the alarm's ARN @ the moment it entered ALARM, or the violations report's URI
        "drift-alarm": (DRIFT, f"{alarm}@2026-12-02T09:00:00.125000+00:00", None),
        "drift-report": (DRIFT, report, None),
        "code-change": (CODE_CHANGE, f"commit {COMMIT} code {content_hash(ROOT / 'pipeline_code')}", COMMIT),
        # retrain_on_schedule: the schedule's ARN @ the firing's scheduled time (logic.firing_of)
        "schedule": (
            SCHEDULE,
            f"arn:aws:scheduler:{region}:{account}:schedule/default/{prefix}-retraining@2026-12-02T06:00:00+00:00",
            None,
        ),
    }
    parameters = {
        name: run_parameters(trigger=trigger, detail=detail, manifest_uri=manifest, code_version=code)
        for name, (trigger, detail, code) in runs.items()
    }
    # The start that passes no snapshot: one from the console with the defaults.
    return parameters | {"defaults": {}}
