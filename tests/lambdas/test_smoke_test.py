"""The promotion's smoke test: real rows of the model's test split, scored by the endpoint (botocore Stubber)."""

from __future__ import annotations

import io
from typing import Any

import boto3
import pytest
from botocore.response import StreamingBody
from botocore.stub import Stubber

from lambdas.smoke_test import handler as smoke

BUCKET = "mlops-dev-artifacts-123456789012-eu-west-1"
EVALUATION = f"s3://{BUCKET}/pipeline-runs/exec123/EvaluateModel/evaluation/evaluation.json"
TEST_KEY = "pipeline-runs/exec123/Preprocess/test/test.csv"
# Three rows of the processed layout: label first, then the encoded features.
TEST_CSV = "0,39,7,77516,0,13\n1,50,6,83311,0,13\n0,38,0,215646,3,9\n"


def _body(text: str) -> StreamingBody:
    raw = text.encode()
    return StreamingBody(io.BytesIO(raw), len(raw))


def _clients() -> tuple[Any, Any]:
    options: dict[str, Any] = {
        "region_name": "eu-west-1",
        "aws_access_key_id": "test",
        "aws_secret_access_key": "test",
    }
    return boto3.client("s3", **options), boto3.client("sagemaker-runtime", **options)


# What the endpoint must receive for rows=2: the first two rows, label stripped, one per line.
TWO_ROWS_SENT = "39,7,77516,0,13\n50,6,83311,0,13"


def _run(test_csv: str, answer: str, rows: int) -> dict[str, Any]:
    s3, runtime = _clients()
    with Stubber(s3) as s3_stub, Stubber(runtime) as runtime_stub:
        s3_stub.add_response(
            "get_object",
            {"Body": _body(test_csv)},
            {"Bucket": BUCKET, "Key": TEST_KEY, "Range": "bytes=0-65535"},
        )
        runtime_stub.add_response(
            "invoke_endpoint",
            {"Body": _body(answer), "ContentType": "text/csv"},
            {
                "EndpointName": "mlops-dev-endpoint",
                "ContentType": "text/csv",
                "Accept": "text/csv",
                "Body": TWO_ROWS_SENT,
            },
        )
        result = smoke.run(EVALUATION, endpoint_name="mlops-dev-endpoint", rows=rows, s3=s3, runtime=runtime)
        runtime_stub.assert_no_pending_responses()
    return result


def test_the_test_split_of_the_same_execution_is_found_from_the_evaluation_report() -> None:
    assert smoke.test_split_location(EVALUATION) == (BUCKET, TEST_KEY)
    with pytest.raises(smoke.SmokeTestError, match="unexpected evaluation report location"):
        smoke.test_split_location(f"s3://{BUCKET}/somewhere/else.json")


def test_rows_without_their_label_are_scored_and_must_come_back_as_probabilities() -> None:
    result = _run(TEST_CSV, "0.12\n0.87\n", rows=2)  # the Stubber checks the body sent: TWO_ROWS_SENT
    assert result == {
        "endpoint": "mlops-dev-endpoint",
        "test_split": f"s3://{BUCKET}/{TEST_KEY}",
        "rows": 2,
        "scores": [0.12, 0.87],
    }


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        ("0.1\n", "answered 1 values"),
        ("0.1\nnot-a-number\n", "other than numbers"),
        ("0.1\n1.7\n", "outside"),
        ("0.1,nan", "outside"),
    ],
)
def test_a_wrong_answer_fails_the_smoke_test(answer: str, message: str) -> None:
    with pytest.raises(smoke.SmokeTestError, match=message):
        _run(TEST_CSV, answer, rows=2)


def test_too_few_complete_rows_fail_before_the_endpoint_is_called() -> None:
    s3, runtime = _clients()
    with Stubber(s3) as s3_stub, Stubber(runtime):
        s3_stub.add_response(
            "get_object", {"Body": _body("0,1,2\n")}, {"Bucket": BUCKET, "Key": TEST_KEY, "Range": "bytes=0-65535"}
        )
        with pytest.raises(smoke.SmokeTestError, match="1 complete rows, the smoke test needs 3"):
            smoke.run(EVALUATION, endpoint_name="e", rows=3, s3=s3, runtime=runtime)


def test_a_line_cut_by_the_byte_range_is_not_a_row() -> None:
    assert smoke.feature_rows("0,1,2\n1,3,4\n0,5", 3, complete=True) == ["1,2", "3,4", "5"]
    with pytest.raises(smoke.SmokeTestError):
        smoke.feature_rows("0,1,2\n1,3,4\n0,5", 3, complete=False)
