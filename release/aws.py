"""boto3 adapters: the only module of `release` that talks to AWS.

The scripts run in the tooling account but inspect an environment's account, so every adapter is built from a
session that has assumed the environment's release role (`RELEASE_ROLE_ARN`). Keeping the calls here keeps
the scripts' logic pure and lets the tests point the same code at a local moto server.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import cached_property
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

_NOT_FOUND = {"ResourceNotFound", "ParameterNotFound", "404", "NoSuchBucket", "NotFound"}


def session_for(*, region: str, role_arn: str | None, endpoint_url: str | None = None) -> boto3.Session:
    """A session in the environment's account: assumes `role_arn` when given, else uses the ambient credentials."""
    base = boto3.Session(region_name=region)
    if role_arn is None:
        return base
    sts = base.client("sts", endpoint_url=endpoint_url)
    credentials = sts.assume_role(RoleArn=role_arn, RoleSessionName="mlops-release")["Credentials"]
    return boto3.Session(
        region_name=region,
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
    )


class Clients:
    """boto3 clients of one session, each created on first use (a client costs ~0.1 s); `endpoint_url` points
    them at a local server in tests."""

    def __init__(self, session: boto3.Session, *, endpoint_url: str | None = None, max_attempts: int = 5) -> None:
        self._session = session
        self._endpoint_url = endpoint_url
        self._config = Config(retries={"max_attempts": max_attempts, "mode": "standard"})

    def _client(self, service: str) -> Any:
        return self._session.client(service, endpoint_url=self._endpoint_url, config=self._config)

    @cached_property
    def s3(self) -> Any:
        return self._client("s3")

    @cached_property
    def sagemaker(self) -> Any:
        return self._client("sagemaker")

    @cached_property
    def ssm(self) -> Any:
        return self._client("ssm")


def _is_not_found(error: ClientError) -> bool:
    code = str(error.response.get("Error", {}).get("Code", ""))
    message = str(error.response.get("Error", {}).get("Message", "")).lower()
    # SageMaker reports a missing endpoint as a ValidationException ("Could not find endpoint ..."): only that
    # wording means "missing"; any other validation error is a real failure and must surface.
    if code == "ValidationException":
        return any(words in message for words in ("could not find", "does not exist", "not found"))
    return code in _NOT_FOUND


class ResourceReader:
    """Read-only status of the resources a stage deploys; `None` means the resource does not exist."""

    def __init__(self, clients: Clients) -> None:
        self._clients = clients

    def bucket_exists(self, name: str) -> bool:
        try:
            self._clients.s3.head_bucket(Bucket=name)
        except ClientError as error:
            if _is_not_found(error):
                return False
            raise
        return True

    def _status(self, call: str, key: str, status_field: str, name: str) -> str | None:
        try:
            response: Mapping[str, Any] = getattr(self._clients.sagemaker, call)(**{key: name})
        except ClientError as error:
            if _is_not_found(error):
                return None
            raise
        return str(response.get(status_field, "unknown"))

    def pipeline_status(self, name: str) -> str | None:
        return self._status("describe_pipeline", "PipelineName", "PipelineStatus", name)

    def feature_group_status(self, name: str) -> str | None:
        return self._status("describe_feature_group", "FeatureGroupName", "FeatureGroupStatus", name)

    def endpoint_status(self, name: str) -> str | None:
        return self._status("describe_endpoint", "EndpointName", "EndpointStatus", name)


class TrainingPipelines:
    """The SageMaker pipelines that a code change re-runs."""

    def __init__(self, clients: Clients) -> None:
        self._sagemaker = clients.sagemaker

    def declared_parameters(self, name: str) -> frozenset[str] | None:
        """Names of the parameters the pipeline's definition declares; `None` if the pipeline doesn't exist."""
        try:
            response = self._sagemaker.describe_pipeline(PipelineName=name)
        except ClientError as error:
            if _is_not_found(error):
                return None
            raise
        definition = json.loads(response.get("PipelineDefinition") or "{}")
        return frozenset(p["Name"] for p in definition.get("Parameters", []))

    def start(self, name: str, *, parameters: Mapping[str, str], display_name: str, description: str) -> str:
        response = self._sagemaker.start_pipeline_execution(
            PipelineName=name,
            PipelineExecutionDisplayName=display_name,
            PipelineExecutionDescription=description,
            PipelineParameters=[{"Name": k, "Value": v} for k, v in parameters.items()],
        )
        return str(response["PipelineExecutionArn"])


class ParameterStore:
    """One SSM String parameter per environment that remembers what the last code-change run was started for."""

    def __init__(self, clients: Clients) -> None:
        self._ssm = clients.ssm

    def read(self, name: str) -> str | None:
        try:
            return str(self._ssm.get_parameter(Name=name)["Parameter"]["Value"])
        except ClientError as error:
            if _is_not_found(error):
                return None
            raise

    def write(self, name: str, value: str, *, description: str) -> None:
        self._ssm.put_parameter(Name=name, Value=value, Type="String", Overwrite=True, Description=description)
