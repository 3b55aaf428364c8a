"""The promotion's smoke test: real raw rows of the model's test split, scored by the endpoint (botocore Stubber)."""

from __future__ import annotations

import io
import json
from typing import Any

import boto3
import pytest
from botocore.response import StreamingBody
from botocore.stub import Stubber

from lambdas.smoke_test import handler as smoke

BUCKET = "mlops-dev-artifacts-123456789012-eu-west-1"
EVALUATION = f"s3://{BUCKET}/pipeline-runs/exec123/EvaluateModel/evaluation/evaluation.json"
TEST_KEY = "pipeline-runs/exec123/Preprocess/raw_test/test.csv"
# Three rows of the raw test split (Preprocess's raw_test: raw columns, '?' for missing, the label last), shortened.
TEST_CSV = "39,State-gov,77516,Bachelors,<=50K\n50,?,83311,Bachelors,>50K\n38,Private,215646,HS-grad,<=50K\n"


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


# What the endpoint must receive for rows=2: the first two raw rows, label stripped, one per line.
TWO_ROWS_SENT = "39,State-gov,77516,Bachelors\n50,?,83311,Bachelors"


def _answer(probabilities: list[float], threshold: float = 0.3, decisions: list[int] | None = None) -> str:
    """The handlers' JSON answer (pipeline_code.serve.output_fn)."""
    decisions = decisions if decisions is not None else [int(p >= threshold) for p in probabilities]
    predictions = [{"probability": p, "decision": d} for p, d in zip(probabilities, decisions, strict=True)]
    return json.dumps({"predictions": predictions, "threshold": threshold, "unseen_categories": 0})


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
            {"Body": _body(answer), "ContentType": "application/json"},
            {
                "EndpointName": "mlops-dev-endpoint",
                "ContentType": "text/csv",
                "Accept": "application/json",
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


def test_raw_rows_without_their_label_are_scored_and_come_back_as_probabilities_and_decisions() -> None:
    result = _run(TEST_CSV, _answer([0.12, 0.87]), rows=2)  # the Stubber checks the body sent: TWO_ROWS_SENT
    assert result == {
        "endpoint": "mlops-dev-endpoint",
        "test_split": f"s3://{BUCKET}/{TEST_KEY}",
        "rows": 2,
        "scores": [0.12, 0.87],
        "decisions": [0, 1],
        "threshold": 0.3,
    }


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (_answer([0.1]), "answered 1 predictions"),
        ("0.1\n0.2\n", "something other than predictions"),  # the XGBoost container's own answer to codes
        (_answer([0.1, 1.7]), "outside"),
        (
            '{"predictions": [{"probability": 0.1, "decision": 0}, {"probability": NaN, "decision": 0}], '
            '"threshold": 0.5}',
            "outside",
        ),
        (_answer([0.1, 0.9], decisions=[0, 0]), r"rows \[1\]: the decision is not the probability's"),
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
    assert smoke.feature_rows("1,2,<=50K\n3,4,>50K\n5,<=5", 3, complete=True) == ["1,2", "3,4", "5"]
    with pytest.raises(smoke.SmokeTestError):
        smoke.feature_rows("1,2,<=50K\n3,4,>50K\n5,<=5", 3, complete=False)
