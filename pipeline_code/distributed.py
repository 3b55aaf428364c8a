"""Training on several instances with XGBoost's own distributed mode (its collective communicator and tracker).

What SageMaker's XGBoost container does for a multi-host job, for `train.py`: every host of the training job
(``SM_HOSTS`` / ``SM_CURRENT_HOST``, else ``/opt/ml/input/config/resourceconfig.json``) is one XGBoost worker;
the first host also runs the tracker (`xgboost.tracker.RabitTracker`) the workers meet at; each worker loads its
share of the training data (the train channel is `ShardedByS3Key`), and `xgboost.train` inside
`xgboost.collective.CommunicatorContext` builds the same trees on every worker from histograms summed over all of
them (and computes the validation AUC over every worker's rows). Only the first host saves the model and prints
the metric lines, as the container does. One host: nothing of this runs.

The tracker's address is the first host's name (resolvable inside a SageMaker training cluster);
``MLOPS_TRACKER_HOST`` and ``MLOPS_TRACKER_PORT`` override it and the port (the local runner's hosts are
processes of one machine).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from pipeline_code.errors import PipelineError

RESOURCE_CONFIG = Path("/opt/ml/input/config/resourceconfig.json")
TRACKER_PORT = 9099  # the port SageMaker's XGBoost container's tracker listens on
TIMEOUT_SECONDS = 300


@dataclass(frozen=True)
class Cluster:
    current: str
    hosts: list[str]

    @property
    def distributed(self) -> bool:
        return len(self.hosts) > 1

    @property
    def is_master(self) -> bool:
        return self.current == self.hosts[0]


def cluster(resource_config: Path = RESOURCE_CONFIG) -> Cluster:
    """This training job's hosts: SM_HOSTS and SM_CURRENT_HOST, else the resource config, else one host."""
    hosts_env, current = os.environ.get("SM_HOSTS"), os.environ.get("SM_CURRENT_HOST")
    if hosts_env and current:
        hosts = [str(h) for h in json.loads(hosts_env)]
    elif resource_config.is_file():
        config = json.loads(resource_config.read_text())
        hosts, current = [str(h) for h in config["hosts"]], str(config["current_host"])
    else:
        return Cluster("algo-1", ["algo-1"])
    if current not in hosts:
        raise PipelineError(f"this host {current!r} is not among the job's hosts {hosts}")
    return Cluster(current, sorted(hosts))


@contextmanager
def communicator(job: Cluster) -> Iterator[None]:
    """XGBoost's collective communicator across the job's hosts (the first one runs the tracker)."""
    if not job.distributed:
        yield
        return
    from xgboost import collective
    from xgboost.tracker import RabitTracker

    address = os.environ.get("MLOPS_TRACKER_HOST", job.hosts[0])
    port = int(os.environ.get("MLOPS_TRACKER_PORT", TRACKER_PORT))
    tracker = None
    if job.is_master:
        tracker = RabitTracker(
            n_workers=len(job.hosts), host_ip=address, port=port, sortby="task", timeout=TIMEOUT_SECONDS
        )
        tracker.start()
    arguments: dict[str, int | str | None] = {
        "dmlc_tracker_uri": address,
        "dmlc_tracker_port": port,
        "dmlc_task_id": f"{job.hosts.index(job.current):05d}",  # rank = host order: algo-1 is rank 0
        "dmlc_retry": 10,  # hosts start at different times: workers wait for the tracker (backoff ~1.5 min)
        "dmlc_timeout": TIMEOUT_SECONDS,
    }
    with collective.CommunicatorContext(**arguments):
        yield
    if tracker is not None:
        tracker.wait_for(TIMEOUT_SECONDS)
