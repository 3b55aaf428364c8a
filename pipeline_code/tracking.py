"""Experiment tracking: every step logs to MLflow when its job has a tracking server, and does nothing otherwise.

The pipeline sets ``MLFLOW_TRACKING_URI`` (the SageMaker managed MLflow server's ARN; the SageMaker Distribution
image ships ``mlflow`` and its ``sagemaker-mlflow`` plugin) and ``MLFLOW_EXPERIMENT_NAME`` where the environment's
config turns tracking on. A local run or a test may point it at a folder (``file:///...``). mlflow is imported only
then, so steps without tracking never pay for it.

A tracking server that is down must not lose a model: a failure to log is reported on stderr and the step goes on.

Runs are grouped by what they were made from, not by pipeline execution: the data snapshot
(``MLOPS_DATA_SNAPSHOT``, the run's manifest URI) and the code version (``MLOPS_CODE_HASH``). Those are in
the cached steps' cache keys anyway, while an execution ARN there would make every key unique and switch step
caching off; a cached step does not run again, so its MLflow run is the one of the execution that computed it.
A step that is never cached may also pass ``PIPELINE_EXECUTION_ARN``, which is then tagged.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any


def enabled() -> bool:
    return bool(os.environ.get("MLFLOW_TRACKING_URI"))


def run_group() -> dict[str, str]:
    """The tags that group one training run's steps: data snapshot, its short id, code version (and execution)."""
    snapshot = os.environ.get("MLOPS_DATA_SNAPSHOT", "local")
    tags = {
        "data_snapshot": snapshot,
        # s3://<artifacts>/data-snapshots/<sha256 first 16 hex>.manifest -> the hex part
        "data_snapshot_id": snapshot.rstrip("/").rsplit("/", 1)[-1].removesuffix(".manifest"),
        "code_hash": os.environ.get("MLOPS_CODE_HASH", "local"),
    }
    if execution := os.environ.get("PIPELINE_EXECUTION_ARN"):
        tags["pipeline_execution_arn"] = execution
    return tags


def log_step(
    step: str,
    *,
    params: Mapping[str, Any] | None = None,
    metrics: Mapping[str, float] | None = None,
    artifacts: Sequence[Path] = (),
) -> bool:
    """Log one step's parameters, metrics and files as an MLflow run; True if something was logged."""
    if not enabled():
        return False
    try:
        import mlflow

        mlflow.set_experiment(os.environ.get("MLFLOW_EXPERIMENT_NAME", "mlops-pipeline"))
        group = run_group()
        with mlflow.start_run(run_name=f"{step}-{group['data_snapshot_id']}"):
            mlflow.set_tags({"step": step, **group})
            if params:
                mlflow.log_params(dict(params))
            if metrics:
                mlflow.log_metrics({name: float(value) for name, value in metrics.items()})
            for artifact in artifacts:
                mlflow.log_artifact(str(artifact))
    except Exception as err:
        print(f"{step}: experiment tracking failed, the step goes on: {err}", file=sys.stderr)
        return False
    return True
