"""Running a step on one of several instances: which host this is, and where its partial results go.

A processing job with InstanceCount N and a `ShardedByS3Key` input gives each instance a share of the input's
objects. A step run with ``--shard-output`` writes its results under ``<output>/<host>/`` (the host name from
``SM_CURRENT_HOST``, else the job's resource config ``/opt/ml/config/resourceconfig.json``), so N instances
uploading to the same S3 prefix never overwrite each other; a merge step reads every host's part
(`partials`). An instance given no object at all (fewer objects than instances) still writes an empty part.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from pipeline_code.errors import PipelineError

RESOURCE_CONFIG = Path("/opt/ml/config/resourceconfig.json")
_HOST = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")


def current_host(resource_config: Path = RESOURCE_CONFIG) -> str:
    """This instance's host name (`algo-1`, `algo-2`...): SM_CURRENT_HOST, else the job's resource config."""
    host = os.environ.get("SM_CURRENT_HOST")
    if not host and resource_config.is_file():
        try:
            host = json.loads(resource_config.read_text()).get("current_host")
        except (OSError, ValueError) as err:
            raise PipelineError(f"cannot read this instance's host from {resource_config}: {err}") from err
    if not host:
        raise PipelineError(
            f"--shard-output needs this instance's host name: neither SM_CURRENT_HOST nor {resource_config} "
            "(current_host) gives one"
        )
    if not _HOST.match(host):
        raise PipelineError(f"host name {host!r} is not usable as a folder name")
    return str(host)


def hosts(resource_config: Path = RESOURCE_CONFIG) -> list[str]:
    """Every host of the job (SM_HOSTS as JSON, else the resource config), [current host] when neither says."""
    listed = os.environ.get("SM_HOSTS")
    if listed:
        return [str(h) for h in json.loads(listed)]
    if resource_config.is_file():
        found = json.loads(resource_config.read_text()).get("hosts")
        if found:
            return [str(h) for h in found]
    return [current_host(resource_config)]


def has_data(path: Path | str) -> bool:
    """Whether an input exists and holds at least one file (a shard may be given no object)."""
    p = Path(path)
    return p.is_file() or (p.is_dir() and any(f.is_file() for f in p.rglob("*")))


def part_folders(root: Path | str, file_name: str) -> list[Path]:
    """The host folders under ``root`` holding ``file_name`` (the parts a merge step combines), in host order."""
    found = sorted({f.parent for f in Path(root).rglob(file_name)}, key=lambda p: p.as_posix())
    if not found:
        raise PipelineError(f"no partial result {file_name} under {root}")
    return found
