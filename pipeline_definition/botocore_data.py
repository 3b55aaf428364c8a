"""One botocore data loader per process: each service model and endpoint rule set parsed from JSON once.

botocore gives every new session a new loader, and a loader parses the JSON files it is asked for again
(`endpoints`, `partitions`, each service's `service-2` and `endpoint-rule-set-1`: the SageMaker model alone is
megabytes). Code that makes many sessions (the SageMaker SDK while building a definition; every job of the
local runner, each a fresh process) spends most of its time there. A loader only reads botocore's own data
files and keeps what it parsed, so sharing one per search path changes no answer.

- `shared_loaders()`: a block in which every `create_loader` call (botocore's sessions and the SDK's endpoint
  resolver make them) returns the process's loader for those search paths; botocore is as it was afterwards.
- `share_for_process()`: the same for the rest of the process (the test suite's processes, the twin's loop).
- `preload_for_jobs()`: for the local runner's warm interpreter (`local_runner.warm`), which forks each job:
  installs the shared loader for good and parses what the step code's clients read, before any fork.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import botocore.loaders
import botocore.session

_ORIGINAL = botocore.loaders.create_loader
_LOADERS: dict[Any, botocore.loaders.Loader] = {}  # by search paths, for the life of the process

#: The services `pipeline_code` makes clients for (`pipeline_code.aws.make_client` and the feature records').
JOB_SERVICES = (
    "s3",
    "sagemaker",
    "sagemaker-featurestore-runtime",
    "cloudwatch",
    "events",
    "ssm",
    "dynamodb",
    "secretsmanager",
    "rds",
)


def _create_loader(search_path_string: Any = None) -> botocore.loaders.Loader:
    if search_path_string not in _LOADERS:
        _LOADERS[search_path_string] = _ORIGINAL(search_path_string)
    return _LOADERS[search_path_string]


def _install(create_loader: Any) -> None:
    botocore.loaders.create_loader = create_loader
    botocore.session.create_loader = create_loader  # `botocore.session` imported the name


@contextmanager
def shared_loaders() -> Iterator[None]:
    previous = botocore.loaders.create_loader
    _install(_create_loader)
    try:
        yield
    finally:
        _install(previous)


def share_for_process() -> None:
    _install(_create_loader)


def preload_for_jobs() -> None:
    share_for_process()
    loader = botocore.session.get_session().get_component("data_loader")
    for name in ("endpoints", "partitions", "sdk-default-configuration"):
        loader.load_data(name)
    for service in JOB_SERVICES:
        for kind in ("service-2", "endpoint-rule-set-1"):
            loader.load_service_model(service, kind)
