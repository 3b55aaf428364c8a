"""Throttling and failures: botocore retries, the handler raises (Lambda retries, then the dead-letter queue),
and a failed start leaves nothing behind that would block the retry."""

from __future__ import annotations

from types import ModuleType
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from botocore.config import Config
from botocore.exceptions import ClientError
from botocore.retries.standard import ExponentialBackoff

from tests.lambdas.conftest import World


class _Body:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Any:
        yield self._body


class Throttle:
    """Answers StartPipelineExecution with HTTP 400 ThrottlingException before it is sent, `times` times."""

    def __init__(self, times: int) -> None:
        self.times = times
        self.attempts = 0

    def __call__(self, request: Any, **_: Any) -> AWSResponse | None:
        self.attempts += 1
        if self.attempts > self.times:
            return None  # let it through
        body = b'{"__type":"ThrottlingException","message":"Rate exceeded"}'
        headers = {"x-amzn-RequestId": "throttled", "Content-Type": "application/x-amz-json-1.1"}
        return AWSResponse(request.url, 400, headers, _Body(body))


@pytest.fixture
def throttled_sagemaker(drift_handler: ModuleType, monkeypatch: pytest.MonkeyPatch):
    """The drift handler's SageMaker client, with botocore's standard retries (3 attempts) and a throttle."""

    # botocore's backoff (random, up to seconds) would only slow the test down; the attempts are what matters.
    monkeypatch.setattr(ExponentialBackoff, "delay_amount", lambda self, context: 0)

    def install(times: int) -> Throttle:
        client = boto3.client("sagemaker", config=Config(retries={"mode": "standard", "total_max_attempts": 3}))
        throttle = Throttle(times)
        client.meta.events.register("before-send.sagemaker.StartPipelineExecution", throttle)
        monkeypatch.setattr(drift_handler.starter.pipeline, "_client", client)
        return throttle

    return install


def test_throttling_is_retried_by_botocore_and_the_run_starts(
    drift_handler: ModuleType, world: World, alarm_event: dict, lambda_context, throttled_sagemaker
) -> None:
    throttle = throttled_sagemaker(times=2)
    result = drift_handler.lambda_handler(alarm_event, lambda_context)
    assert throttle.attempts == 3  # two throttled, the third went through
    assert result["outcome"] == "started"
    assert world.execution_count() == 1


def test_throttling_that_outlasts_the_retries_fails_the_invocation_and_leaves_the_episode_retryable(
    drift_handler: ModuleType, world: World, alarm_event: dict, lambda_context, throttled_sagemaker, logs
) -> None:
    throttle = throttled_sagemaker(times=1_000)
    records_before = {item["id"]["S"] for item in world.items()}
    # Lambda invokes an asynchronous event up to 3 times (1 + retry_attempts=2), then sends it to the DLQ.
    for _ in range(3):
        with pytest.raises(ClientError, match="ThrottlingException"):
            drift_handler.lambda_handler(alarm_event, lambda_context)
    assert throttle.attempts == 9  # 3 invocations x 3 botocore attempts
    assert world.execution_count() == 0
    failures = [line for line in logs() if line.get("level") == "ERROR"]
    assert len(failures) == 3
    assert all("ThrottlingException" in line["message"] for line in failures)
    # The claim was given back and Powertools deleted the in-progress record: no cooldown, no "already done".
    assert "last_started_at" not in world.ledger()
    assert {item["id"]["S"] for item in world.items()} <= records_before | {world.ledger()["id"]["S"]}
    # Redriven from the DLQ once SageMaker answers again, the same episode starts exactly one run.
    throttle.times = 0
    assert drift_handler.lambda_handler(alarm_event, lambda_context)["outcome"] == "started"
    assert drift_handler.lambda_handler(alarm_event, lambda_context)["outcome"] == "started"  # the recorded result
    assert world.execution_count() == 1
