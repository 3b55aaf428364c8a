"""A SageMaker `PipelineSession` that never calls AWS.

Building a pipeline definition with a plain `PipelineSession` makes about a dozen AWS calls: it looks up (or
creates) a default bucket, uploads local code and configs, validates the role, sends telemetry. This session
takes the bucket as an argument, writes what the SDK wants to upload into a local staging folder under
content-hash keys (CDK ships that folder to the same keys in the artifacts zone), and refuses anything else.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
from sagemaker.core.config.config_manager import SageMakerConfig
from sagemaker.core.helper import session_helper
from sagemaker.core.workflow.pipeline_context import PipelineSession

OFFLINE_ACCOUNT = "000000000000"

# Telemetry off, and no admin/user config files from the machine leaking into the definition.
_SDK_CONFIG: dict[str, Any] = {
    "SchemaVersion": "1.0",
    "SageMaker": {"PythonSDK": {"Modules": {"TelemetryOptOut": True}}},
}


def _files(source: Path) -> list[Path]:
    candidates = source.rglob("*") if source.is_dir() else [source]
    return sorted(p for p in candidates if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc")


def _digest(source: Path) -> str:
    """Content hash of a file or folder (relative names and bytes), independent of where it lies."""
    digest = hashlib.sha256()
    base = source if source.is_dir() else source.parent
    for file in _files(source):
        digest.update(file.relative_to(base).as_posix().encode() + b"\0" + file.read_bytes())
    return digest.hexdigest()[:16]


def _checked_once(original: Callable[..., None]) -> Callable[..., None]:
    checked: set[str] = set()

    def validate(sagemaker_config: dict[str, Any] | None = None) -> None:
        key = json.dumps(sagemaker_config, sort_keys=True, default=repr)
        if key not in checked:
            original(sagemaker_config)  # raises on an invalid document, which is then not remembered
            checked.add(key)

    validate.offline_once = True  # type: ignore[attr-defined]
    return validate


def _validate_sdk_config_once() -> None:
    """The SDK validates a config against a large JSON schema again on every session and lookup (~0.15 s each,
    most of a build before this): ours, and the one each `LocalSession` loads from the machine. The same document
    gets the same answer, so each distinct document is checked once. The session module imported the function
    by name: both names are replaced."""
    if getattr(session_helper.validate_sagemaker_config, "offline_once", False):
        return
    SageMakerConfig.validate_sagemaker_config = staticmethod(_checked_once(SageMakerConfig.validate_sagemaker_config))
    session_helper.validate_sagemaker_config = _checked_once(session_helper.validate_sagemaker_config)


class OfflineCallError(RuntimeError):
    """The SDK tried to reach AWS while building a definition."""


class OfflinePipelineSession(PipelineSession):  # type: ignore[misc]  # the SDK ships no type information
    """Builds step arguments only; uploads land in `staging_dir/<key>` and are returned as `s3://bucket/<key>`."""

    def __init__(
        self,
        *,
        region: str,
        bucket: str,
        staging_dir: Path,
        staging_prefix: str,
        deployed_dirs: dict[Path, str] | None = None,
    ) -> None:
        """`deployed_dirs` maps local folders that CDK deploys itself to their S3 prefix.

        The SDK copies a source dir before uploading it, so folders are recognised by content, not by path.
        """
        os.environ.setdefault("SAGEMAKER_VALIDATE_ROLE", "false")
        self._offline_bucket = bucket
        self._staging_dir = staging_dir
        self._staging_prefix = staging_prefix.strip("/")
        self._deployed_dirs = {_digest(path): prefix for path, prefix in (deployed_dirs or {}).items()}
        self.refused_calls: list[str] = []
        boto_session = boto3.Session(aws_access_key_id="offline", aws_secret_access_key="offline", region_name=region)
        # Any AWS API call the SDK still attempts (it probes IAM to check the role, for one) is stopped before a
        # request leaves the process; the SDK treats it as "could not verify" and carries on deterministically.
        boto_session.events.register("before-send", self._refuse)
        _validate_sdk_config_once()
        super().__init__(boto_session=boto_session, default_bucket=bucket, sagemaker_config=_SDK_CONFIG)

    def _refuse(self, request: Any, **_: Any) -> None:
        self.refused_calls.append(f"{request.method} {request.url}")
        raise OfflineCallError(f"offline build: refused {request.method} {request.url}")

    # -- the calls a definition build makes, answered locally ------------------------------------------------
    def default_bucket(self) -> str:
        return self._offline_bucket

    def account_id(self) -> str:
        return OFFLINE_ACCOUNT

    def expand_role(self, role: str) -> str:
        return role

    def upload_data(
        self,
        path: str,
        bucket: str | None = None,
        key_prefix: str = "data",
        callback: Any = None,
        extra_args: Any = None,
    ) -> str:
        source = Path(path)
        digest = _digest(source)
        if digest in self._deployed_dirs:
            return f"s3://{self._offline_bucket}/{self._deployed_dirs[digest]}"
        key = f"{self._staging_prefix}/{digest}"
        target = self._staging_dir / key
        target.mkdir(parents=True, exist_ok=True)
        for file in _files(source):
            relative = file.relative_to(source) if source.is_dir() else Path(file.name)
            (target / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(file, target / relative)
        suffix = "" if source.is_dir() else f"/{source.name}"
        return f"s3://{self._offline_bucket}/{key}{suffix}"

    def upload_string_as_file_body(self, body: str, bucket: str, key: str, kms_key: Any = None) -> str:
        digest = hashlib.sha256(body.encode()).hexdigest()[:16]
        name = Path(key).name
        staged_key = f"{self._staging_prefix}/{digest}/{name}"
        target = self._staging_dir / staged_key
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(body)
        return f"s3://{self._offline_bucket}/{staged_key}"
